// rapidfuzz's `fuzz.ratio` and `fuzz.WRatio` (version 3, no preprocessing by default) on code points, with the
// partial and token scorers WRatio is built from. Not the `process` module, not rapidfuzz's other distances.

public enum FuzzyMatch {
    /// `fuzz.WRatio(input, reference) / 100`: the best of the plain, token and partial (substring) similarities,
    /// the latter two scaled down; 0 when either text is empty.
    public static func wRatio(_ a: String, _ b: String) -> Double { wRatio(a.codePoints, b.codePoints) / 100 }

    /// `fuzz.ratio(input, reference) / 100`: 1 − Indel distance / total length; 1 for two empty texts.
    public static func ratio(_ a: String, _ b: String) -> Double { ratio(a.codePoints, b.codePoints) / 100 }

    /// `fuzz.partial_ratio / 100`: the best ratio of the shorter text against any equally long window of the longer.
    public static func partialRatio(_ a: String, _ b: String) -> Double {
        partialRatio(a.codePoints, b.codePoints) / 100
    }

    static func wRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        guard !a.isEmpty && !b.isEmpty else { return 0 }
        let unbaseScale = 0.95
        let lengthRatio = Double(max(a.count, b.count)) / Double(min(a.count, b.count))
        var best = ratio(a, b)
        if lengthRatio < 1.5 {
            return max(best, max(tokenSetRatio(a, b), tokenSortRatio(a, b)) * unbaseScale)
        }
        let partialScale = lengthRatio <= 8 ? 0.9 : 0.6
        best = max(best, partialRatio(a, b) * partialScale)
        return max(best, partialTokenRatio(a, b) * unbaseScale * partialScale)
    }

    static func ratio(_ a: CodePoints, _ b: CodePoints) -> Double {
        normalizedSimilarity(lcs: BitLCS(a).length(b), a.count, b.count) * 100
    }

    /// Indel normalized similarity: 1 − (len1 + len2 − 2·LCS) / (len1 + len2), and 1 for two empty sequences.
    private static func normalizedSimilarity(lcs: Int, _ len1: Int, _ len2: Int) -> Double {
        let total = len1 + len2
        return total == 0 ? 1 : 1 - Double(total - 2 * lcs) / Double(total)
    }

    static func partialRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        if a.isEmpty && b.isEmpty { return 100 }
        let (shorter, longer) = a.count <= b.count ? (a, b) : (b, a)
        guard !shorter.isEmpty else { return 0 }
        var best = partialRatioImpl(needle: shorter, haystack: longer)
        if best != 100 && a.count == b.count {
            best = max(best, partialRatioImpl(needle: longer, haystack: shorter))
        }
        return best
    }

    /// rapidfuzz's windows: the growing prefixes of the haystack shorter than the needle, every window as long as
    /// the needle, then the shrinking suffixes; the best similarity wins. rapidfuzz skips windows whose edge
    /// character is not in the needle (a neighbour scores at least as well), so the maximum is the same over all.
    private static func partialRatioImpl(needle: CodePoints, haystack: CodePoints) -> Double {
        let n = needle.count, h = haystack.count
        var best = 0.0
        // All prefixes in one pass, and all suffixes as prefixes of the reversed texts.
        let forward = BitLCS(needle), backward = BitLCS(needle.reversed())
        let rows = forward.rowNumbers(haystack)
        let reversedRows = backward.rowNumbers(haystack.reversed())
        for (k, lcs) in forward.prefixLengths(rows: rows[..<(n - 1)]).enumerated() {
            best = max(best, normalizedSimilarity(lcs: lcs, n, k + 1))
        }
        for (k, lcs) in backward.prefixLengths(rows: reversedRows[..<(n - 1)]).enumerated() {
            best = max(best, normalizedSimilarity(lcs: lcs, n, k + 1))
        }
        // Full windows: shifting a window by one changes its LCS with the needle by at most 1, so between windows a
        // and b no LCS exceeds (LCS(a) + LCS(b) + b − a) / 2, and intervals that cannot beat the best are skipped.
        var known = [Int](repeating: -1, count: h - n + 1)
        func lcs(at i: Int) -> Int {
            if known[i] < 0 { known[i] = forward.length(rows: rows[i..<(i + n)]) }
            return known[i]
        }
        var bestWindow = max(lcs(at: 0), lcs(at: h - n))
        var intervals = [(0, h - n)]
        while let (a, b) = intervals.popLast(), bestWindow < n {
            let la = lcs(at: a), lb = lcs(at: b)
            bestWindow = max(bestWindow, la, lb)
            guard b - a > 1, (la + lb + b - a) / 2 > bestWindow else { continue }
            let mid = (a + b) / 2
            intervals.append((mid, b))
            intervals.append((a, mid))
        }
        best = max(best, normalizedSimilarity(lcs: bestWindow, n, n))
        return best == 1 ? 100 : best * 100
    }

    // MARK: Token scorers

    /// rapidfuzz's C++ scorers split tokens on Python's whitespace except U+0085 and U+00A0 (measured on 3.14.6:
    /// "a\u{A0}b" is one token there, two for `str.split()` and for rapidfuzz's own pure-Python fallback).
    private static func split(_ s: CodePoints) -> [CodePoints] {
        PythonText.split(s) { PythonText.isSpace($0) && $0.value != 0x85 && $0.value != 0xA0 }
    }

    private static func sortedTokens(_ s: CodePoints) -> [CodePoints] {
        split(s).sorted { $0.pythonPrecedes($1) }
    }

    private static func joined(_ tokens: [CodePoints]) -> CodePoints {
        Array(tokens.joined(separator: [" "]))
    }

    private static func joined(_ tokens: Set<CodePoints>) -> CodePoints {
        joined(tokens.sorted { $0.pythonPrecedes($1) })
    }

    static func tokenSortRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        ratio(joined(sortedTokens(a)), joined(sortedTokens(b)))
    }

    static func tokenSetRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        let tokensA = Set(split(a)), tokensB = Set(split(b))
        guard !tokensA.isEmpty && !tokensB.isEmpty else { return 0 }
        let common = tokensA.intersection(tokensB)
        let onlyA = tokensA.subtracting(tokensB), onlyB = tokensB.subtracting(tokensA)
        if !common.isEmpty && (onlyA.isEmpty || onlyB.isEmpty) { return 100 }
        let diffA = joined(onlyA), diffB = joined(onlyB)
        let sectLength = common.isEmpty ? 0 : common.reduce(-1) { $0 + $1.count + 1 }
        let separator = sectLength != 0 ? 1 : 0
        let sectA = sectLength + separator + diffA.count
        let sectB = sectLength + separator + diffB.count
        let distance = diffA.count + diffB.count - 2 * BitLCS(diffA).length(diffB)
        let result = normalizedDistanceScore(distance, sectA + sectB)
        guard sectLength != 0 else { return result }
        // The common part against itself plus each side's remainder, as rapidfuzz scores them without building them.
        let ratioA = normalizedDistanceScore(separator + diffA.count, sectLength + sectA)
        let ratioB = normalizedDistanceScore(separator + diffB.count, sectLength + sectB)
        return max(result, ratioA, ratioB)
    }

    private static func normalizedDistanceScore(_ distance: Int, _ total: Int) -> Double {
        total == 0 ? 100 : 100 - 100 * Double(distance) / Double(total)
    }

    static func partialTokenRatio(_ a: CodePoints, _ b: CodePoints) -> Double {
        let listA = split(a), listB = split(b)
        let tokensA = Set(listA), tokensB = Set(listB)
        if !tokensA.isDisjoint(with: tokensB) { return 100 }
        let result = partialRatio(joined(listA.sorted { $0.pythonPrecedes($1) }),
                                  joined(listB.sorted { $0.pythonPrecedes($1) }))
        // Without repeated tokens the differences are the whole token lists, already scored.
        if listA.count == tokensA.count && listB.count == tokensB.count { return result }
        return max(result, partialRatio(joined(tokensA), joined(tokensB)))
    }
}

/// Length of the longest common subsequence with one fixed side, 64 characters per machine word (Hyyrö's
/// bit-parallel algorithm, as rapidfuzz computes Indel distances), so long answers stay cheap.
struct BitLCS {
    private let words: Int
    private let count: Int
    private var rowOf: [Unicode.Scalar: Int] = [:]
    private var rows: [UInt64] = []   // (distinct characters, words): which positions hold each character

    init(_ s: CodePoints) {
        count = s.count
        words = (s.count + 63) / 64
        let words = self.words
        for (i, c) in s.enumerated() {
            var row = rowOf[c] ?? -1
            if row < 0 {
                row = rowOf.count
                rowOf[c] = row
                rows.append(contentsOf: repeatElement(0, count: words))
            }
            rows[row * words + i / 64] |= 1 << UInt64(i % 64)
        }
    }

    /// The other side as row numbers (-1 for characters this side lacks), computed once for many windows.
    func rowNumbers(_ t: CodePoints) -> [Int] { t.map { rowOf[$0] ?? -1 } }

    func length(_ t: some Collection<Unicode.Scalar>) -> Int { length(rows: rowNumbers(Array(t))[...]) }

    func length(rows t: ArraySlice<Int>) -> Int {
        var state = [UInt64](repeating: ~0, count: words)
        for row in t where row >= 0 { advance(&state, row) }
        return zeros(state)
    }

    /// The LCS with every prefix of `t`: lengths 1, 2, … in one pass.
    func prefixLengths(rows t: ArraySlice<Int>) -> [Int] {
        var state = [UInt64](repeating: ~0, count: words)
        var lengths: [Int] = []
        lengths.reserveCapacity(t.count)
        for row in t {
            if row >= 0 { advance(&state, row) }
            lengths.append(zeros(state))
        }
        return lengths
    }

    /// One character of the other side: S = (S + U) | (S − U) with U = S & mask, the add carried across words.
    private func advance(_ state: inout [UInt64], _ row: Int) {
        let words = self.words
        rows.withUnsafeBufferPointer { m in
            state.withUnsafeMutableBufferPointer { s in
                var carry: UInt64 = 0
                for k in 0..<words {
                    let u = s[k] & m[row * words + k]
                    let (sum, overflow1) = s[k].addingReportingOverflow(u)
                    let (total, overflow2) = sum.addingReportingOverflow(carry)
                    carry = overflow1 || overflow2 ? 1 : 0
                    s[k] = total | (s[k] & ~u)
                }
            }
        }
    }

    /// The LCS is the number of zero bits among the first `count`; bits past it only ever receive carries.
    private func zeros(_ state: [UInt64]) -> Int {
        var lcs = 0
        for k in 0..<words {
            let valid: UInt64 = k == words - 1 && count % 64 != 0 ? (1 << UInt64(count % 64)) - 1 : ~0
            lcs += (~state[k] & valid).nonzeroBitCount
        }
        return lcs
    }
}
