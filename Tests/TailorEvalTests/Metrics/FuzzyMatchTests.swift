// The fast fuzzy-match kernels (bit-parallel LCS, pruned window search) against naive versions on random text,
// where the reference fixture has few long or repetitive strings.
import Testing
@testable import TailorEval

@Suite struct FuzzyMatchTests {
    /// Textbook dynamic-programming LCS.
    private func naiveLCS(_ a: ArraySlice<Unicode.Scalar>, _ b: ArraySlice<Unicode.Scalar>) -> Int {
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for (i, x) in a.enumerated() {
            for (j, y) in b.enumerated() {
                table[i + 1][j + 1] = x == y ? table[i][j] + 1 : max(table[i][j + 1], table[i + 1][j])
            }
        }
        return table[a.count][b.count]
    }

    /// rapidfuzz's partial_ratio by its definition: every prefix, window and suffix, no pruning.
    private func naivePartialRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        if a.isEmpty && b.isEmpty { return 100 }
        func impl(_ needle: CodePoints, _ haystack: CodePoints) -> Double {
            var windows: [Range<Int>] = (1..<max(needle.count, 1)).map { 0..<$0 }
            windows += (0...(haystack.count - needle.count)).map { $0..<($0 + needle.count) }
            windows += ((haystack.count - needle.count + 1)..<haystack.count).map { $0..<haystack.count }
            let best = windows.map { w -> Double in
                let total = needle.count + w.count
                return 1 - Double(total - 2 * naiveLCS(needle[...], haystack[w])) / Double(total)
            }.max() ?? 0
            return best * 100
        }
        let (shorter, longer) = a.count <= b.count ? (a, b) : (b, a)
        if shorter.isEmpty { return 0 }
        var best = impl(shorter, longer)
        if a.count == b.count { best = max(best, impl(longer, shorter)) }
        return best
    }

    /// A fixed xorshift, so a failure names a reproducible case.
    private struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        mutating func text(_ length: Int, alphabet: [Unicode.Scalar]) -> CodePoints {
            (0..<length).map { _ in alphabet[next(alphabet.count)] }
        }
    }

    @Test func bitParallelLCSMatchesDynamicProgramming() {
        var g = Generator(state: 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<300 {
            // Lengths across the 64-character word boundary, with a small alphabet so matches are frequent.
            let a = g.text(g.next(150), alphabet: ["a", "b", "c", " ", "é"])
            let b = g.text(g.next(150), alphabet: ["a", "b", "c", "d", " "])
            #expect(BitLCS(a).length(b) == naiveLCS(a[...], b[...]), "\(a.string.debugDescription) \(b.string.debugDescription)")
        }
    }

    @Test func prunedPartialRatioMatchesExhaustiveSearch() {
        var g = Generator(state: 42)
        for round in 0..<200 {
            let alphabet: [Unicode.Scalar] = round % 2 == 0 ? ["a", "b"] : ["a", "b", "c", "d", "e", "f", " "]
            let a = g.text(1 + g.next(round < 100 ? 12 : 90), alphabet: alphabet)
            let b = g.text(1 + g.next(round < 100 ? 30 : 200), alphabet: alphabet)
            let fast = FuzzyMatch.partialRatio(a, b), slow = naivePartialRatio(a, b)
            #expect(abs(fast - slow) < 1e-9, "\(a.string.debugDescription) \(b.string.debugDescription): \(fast) vs \(slow)")
        }
    }

    @Test func knownValues() {
        #expect(FuzzyMatch.ratio("", "") == 1, "rapidfuzz: two empty strings are identical")
        #expect(FuzzyMatch.wRatio("", "") == 0, "but WRatio scores an empty side 0")
        #expect(FuzzyMatch.partialRatio("abc", "xxabcxx") == 1)
        #expect(abs(FuzzyMatch.wRatio("   ", "a b c") - 0.6) < 1e-12, "only the partial ratio sees the spaces")
        #expect(FuzzyMatch.wRatio("new york mets", "new YORK mets") < 1, "no case folding: rapidfuzz 3 has no default processor")
    }
}
