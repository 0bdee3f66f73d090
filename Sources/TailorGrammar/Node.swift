// The expression language every constraint is lowered to before it becomes automata: bytes, Unicode code-point sets
// (encoded as UTF-8), sequence, choice, bounded repetition, and calls to other rules (how recursion and sharing work).
// Not a user-facing regex syntax; Regex.swift parses patterns into it.

/// A set of Unicode scalar values as sorted, non-overlapping, non-adjacent closed ranges.
struct CodePointSet: Equatable, Hashable, Sendable {
    private(set) var ranges: [ClosedRange<UInt32>]

    init(_ ranges: [ClosedRange<UInt32>] = []) {
        var sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else { out.append(r) }
        }
        sorted = out
        self.ranges = sorted
    }

    static let all = CodePointSet([0...0x10FFFF])
    static func char(_ c: Character) -> CodePointSet { CodePointSet([c.unicodeScalars.first!.value...c.unicodeScalars.first!.value]) }
    static func chars(_ s: String) -> CodePointSet { CodePointSet(s.unicodeScalars.map { $0.value...$0.value }) }

    var isEmpty: Bool { ranges.isEmpty }

    func union(_ o: CodePointSet) -> CodePointSet { CodePointSet(ranges + o.ranges) }

    func inverted() -> CodePointSet {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
        }
        if next <= 0x10FFFF, !(ranges.last?.upperBound == 0x10FFFF) { out.append(next...0x10FFFF) }
        return CodePointSet(out)
    }

    func subtracting(_ o: CodePointSet) -> CodePointSet { intersection(o.inverted()) }

    func intersection(_ o: CodePointSet) -> CodePointSet {
        var out: [ClosedRange<UInt32>] = []
        var i = 0, j = 0
        while i < ranges.count, j < o.ranges.count {
            let lo = max(ranges[i].lowerBound, o.ranges[j].lowerBound)
            let hi = min(ranges[i].upperBound, o.ranges[j].upperBound)
            if lo <= hi { out.append(lo...hi) }
            if ranges[i].upperBound < o.ranges[j].upperBound { i += 1 } else { j += 1 }
        }
        return CodePointSet(out)
    }

    func contains(_ c: UInt32) -> Bool { ranges.contains { $0.contains(c) } }
}

indirect enum Node: Sendable {
    case empty                          // matches the empty string
    case never                          // matches nothing
    case bytes(ClosedRange<UInt8>)      // one byte in the range
    case literal([UInt8])
    case chars(CodePointSet)            // one scalar from the set, as UTF-8 (surrogates never match)
    case seq([Node])
    case alt([Node])
    case rep(Node, min: Int, max: Int?) // max nil: unbounded
    case call(Int)                      // the whole of rule n
    case automaton(RuleDFA)             // a prebuilt call-free automaton (an intersection)

    static func lit(_ s: String) -> Node { .literal(Array(s.utf8)) }
    static func opt(_ n: Node) -> Node { .rep(n, min: 0, max: 1) }
    static func star(_ n: Node) -> Node { .rep(n, min: 0, max: nil) }
    static func plus(_ n: Node) -> Node { .rep(n, min: 1, max: nil) }
    static func byteSet(_ s: String) -> Node { .alt(s.utf8.map { .bytes($0...$0) }) }

    /// True when the node can match nothing at all (so a branch holding it can be dropped).
    var isNever: Bool {
        switch self {
        case .never: return true
        case .seq(let xs): return xs.contains { $0.isNever }
        case .alt(let xs): return xs.allSatisfy { $0.isNever }
        case .chars(let s): return s.isEmpty
        case .rep(let n, let mn, _): return mn > 0 && n.isNever
        default: return false
        }
    }
}

/// Splits a scalar range into runs of UTF-8 byte ranges (the construction regex engines use): each result is one
/// sequence of byte ranges, and together they encode exactly the scalars of the range, surrogates excluded.
func utf8Sequences(_ lo: UInt32, _ hi: UInt32) -> [[ClosedRange<UInt8>]] {
    var out: [[ClosedRange<UInt8>]] = []
    var stack: [(UInt32, UInt32)] = [(lo, hi)]
    while let (a, b) = stack.popLast() {
        if a > b { continue }
        // Surrogates are not scalars and have no UTF-8 encoding.
        if a <= 0xDFFF, b >= 0xD800 {
            if a < 0xD800 { stack.append((a, 0xD7FF)) }
            if b > 0xDFFF { stack.append((0xE000, b)) }
            continue
        }
        var split = false
        for bound: UInt32 in [0x7F, 0x7FF, 0xFFFF] where a <= bound && b > bound {
            stack.append((bound + 1, b)); stack.append((a, bound)); split = true; break
        }
        if split { continue }
        let n = a <= 0x7F ? 1 : a <= 0x7FF ? 2 : a <= 0xFFFF ? 3 : 4
        for k in 1..<max(n, 1) where n > 1 {
            let m: UInt32 = (1 << (6 * UInt32(k))) - 1
            if a & ~m != b & ~m {
                if a & m != 0 { stack.append(((a | m) + 1, b)); stack.append((a, a | m)); split = true; break }
                if b & m != m { stack.append((b & ~m, b)); stack.append((a, (b & ~m) - 1)); split = true; break }
            }
        }
        if split { continue }
        let ea = encodeUTF8(a), eb = encodeUTF8(b)
        out.append((0..<ea.count).map { ea[$0]...eb[$0] })
    }
    return out
}

func encodeUTF8(_ c: UInt32) -> [UInt8] {
    switch c {
    case 0..<0x80: return [UInt8(c)]
    case 0x80..<0x800: return [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))]
    case 0x800..<0x10000: return [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
    default: return [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
    }
}
