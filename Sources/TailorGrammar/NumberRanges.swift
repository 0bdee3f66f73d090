// Numeric bounds as regular languages over JSON number text: integer ranges digit by digit, and decimals without an
// exponent (integer part against the bounds' integer parts, fraction digit by digit where they meet). Exponent forms
// are admitted only where a side is unbounded, because "x ≤ 10" over mantissa·10^exp is not regular.
// Not arbitrary-precision arithmetic beyond what the bounds need.

import Foundation

/// A JSON number literal as exact decimal: sign, digits, and a power of ten.
struct Decimal10: Equatable {
    var negative: Bool
    var digits: [UInt8]    // no leading zeros; empty means zero
    var exponent: Int      // value = digits × 10^exponent

    init?(_ text: String) {
        var s = Substring(text)
        negative = s.first == "-"
        if negative { s = s.dropFirst() }
        var mantissa = s, exp = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = s[..<e]
            guard let x = Int(s[s.index(after: e)...].replacingOccurrences(of: "+", with: "")), abs(x) < 400 else { return nil }
            exp = x
        }
        var ds: [UInt8] = []
        var frac = 0, seenDot = false
        for c in mantissa {
            if c == "." { seenDot = true; continue }
            guard let v = c.wholeNumberValue else { return nil }
            ds.append(UInt8(v)); if seenDot { frac += 1 }
        }
        while let f = ds.first, f == 0 { ds.removeFirst() }
        exponent = exp - frac
        while let l = ds.last, l == 0 { ds.removeLast(); exponent += 1 }
        if ds.isEmpty { negative = false; exponent = 0 }
        digits = ds
    }

    var isInteger: Bool { exponent >= 0 }

    /// Numeric order of two decimals.
    static func compare(_ a: Decimal10, _ b: Decimal10) -> Int {
        let sa = a.digits.isEmpty ? 0 : (a.negative ? -1 : 1), sb = b.digits.isEmpty ? 0 : (b.negative ? -1 : 1)
        if sa != sb { return sa < sb ? -1 : 1 }
        if sa == 0 { return 0 }
        // Same sign: compare magnitudes by order of magnitude, then digit by digit.
        var c: Int
        let ma = a.digits.count + a.exponent, mb = b.digits.count + b.exponent
        if ma != mb { c = ma < mb ? -1 : 1 } else {
            c = 0
            for i in 0..<max(a.digits.count, b.digits.count) {
                let x = i < a.digits.count ? a.digits[i] : 0, y = i < b.digits.count ? b.digits[i] : 0
                if x != y { c = x < y ? -1 : 1; break }
            }
        }
        return sa < 0 ? -c : c
    }

    /// The integer ⌊x⌋ or ⌈x⌉ as (negative, decimal digit string without leading zeros, "0" for zero).
    func rounded(up: Bool) -> (negative: Bool, digits: String) {
        if digits.isEmpty { return (false, "0") }
        var intDigits: [UInt8]
        var hasFraction = false
        if exponent >= 0 {
            intDigits = digits + [UInt8](repeating: 0, count: exponent)
        } else {
            let keep = digits.count + exponent
            intDigits = keep > 0 ? Array(digits[0..<keep]) : []
            hasFraction = true
        }
        // Rounding away from zero happens for ceil of a positive or floor of a negative number.
        if hasFraction && (up != negative) {
            var i = intDigits.count - 1
            while i >= 0 && intDigits[i] == 9 { intDigits[i] = 0; i -= 1 }
            if i >= 0 { intDigits[i] += 1 } else { intDigits.insert(1, at: 0) }
        }
        while let f = intDigits.first, f == 0 { intDigits.removeFirst() }
        if intDigits.isEmpty { return (false, "0") }
        return (negative, intDigits.map { String($0) }.joined())
    }
}

/// An integer bound: the value as a digit string plus sign.
struct IntBound { var negative: Bool; var digits: String }

enum NumberRanges {
    static let digit = Node.bytes(UInt8(ascii: "0")...UInt8(ascii: "9"))
    static let nonZeroDigit = Node.bytes(UInt8(ascii: "1")...UInt8(ascii: "9"))
    static let fraction = Node.seq([.lit("."), .plus(digit)])
    static let exponent = Node.seq([.byteSet("eE"), .opt(.byteSet("+-")), .plus(digit)])
    static let naturalText = Node.alt([.lit("0"), .seq([nonZeroDigit, .star(digit)])])
    static let integer = Node.seq([.opt(.lit("-")), naturalText])
    static let number = Node.seq([.opt(.lit("-")), naturalText, .opt(fraction), .opt(exponent)])

    /// Integers in [lo, hi] (nil: unbounded), canonical text (no leading zeros, no "-0").
    static func integer(lo: IntBound?, hi: IntBound?) -> Node {
        var parts: [Node] = []
        // Non-negative part: [max(lo, 0), hi].
        if hi == nil || !hi!.negative {
            let a = (lo == nil || lo!.negative) ? "0" : lo!.digits
            parts.append(naturals(from: a, to: hi?.digits))
        }
        // Negative part: -m for m in [max(1, -hi), -lo].
        if lo == nil || lo!.negative {
            let a = (hi != nil && hi!.negative) ? hi!.digits : "1"
            if lo == nil || compare(a, lo!.digits) <= 0 {
                parts.append(.seq([.lit("-"), naturals(from: a, to: lo?.digits)]))
            }
        }
        return .alt(parts)
    }

    /// Canonical naturals in [a, b] (b nil: unbounded), given as digit strings without leading zeros.
    static func naturals(from a: String, to b: String?) -> Node {
        if let b, compare(a, b) > 0 { return .never }
        var parts: [Node] = []
        let la = a.count
        let lb = b?.count ?? la
        for len in la...lb {
            let lo = len == la ? a : "1" + String(repeating: "0", count: len - 1)
            let hi = (b != nil && len == lb) ? b! : String(repeating: "9", count: len)
            if len == 1 && lo == "0" { parts.append(.lit("0")); if hi != "0" { parts.append(sameLength(Array("1".utf8), Array(hi.utf8))) }; continue }
            parts.append(sameLength(Array(lo.utf8), Array(hi.utf8)))
        }
        if b == nil { parts.append(.seq([nonZeroDigit, .rep(digit, min: la, max: nil)])) }
        return .alt(parts)
    }

    /// Digit strings of equal length n between lo and hi inclusive (both n ASCII digits).
    private static func sameLength(_ lo: [UInt8], _ hi: [UInt8]) -> Node {
        if lo.isEmpty { return .empty }
        if lo.count == 1 { return .bytes(lo[0]...hi[0]) }
        // The full range is one repetition; without this shortcut the recursion below doubles per digit.
        if lo.allSatisfy({ $0 == UInt8(ascii: "0") }) && hi.allSatisfy({ $0 == UInt8(ascii: "9") }) { return .rep(digit, min: lo.count, max: lo.count) }
        if lo[0] == hi[0] { return .seq([.literal([lo[0]]), sameLength(Array(lo.dropFirst()), Array(hi.dropFirst()))]) }
        let n = lo.count - 1
        let nines = [UInt8](repeating: UInt8(ascii: "9"), count: n), zeros = [UInt8](repeating: UInt8(ascii: "0"), count: n)
        var parts: [Node] = [.seq([.literal([lo[0]]), sameLength(Array(lo.dropFirst()), nines)])]
        if hi[0] - lo[0] >= 2 { parts.append(.seq([.bytes((lo[0] + 1)...(hi[0] - 1)), .rep(digit, min: n, max: n)])) }
        parts.append(.seq([.literal([hi[0]]), sameLength(zeros, Array(hi.dropFirst()))]))
        return .alt(parts)
    }

    /// Compares two canonical digit strings numerically.
    static func compare(_ a: String, _ b: String) -> Int {
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        return a < b ? -1 : a == b ? 0 : 1
    }

    /// x + 1 and x - 1 on signed integers given as (negative, digits).
    static func increment(_ x: (negative: Bool, digits: String)) -> (negative: Bool, digits: String) {
        if !x.negative { return (false, successor(x.digits)) }
        let m = predecessor(x.digits)
        return (m != "0", m)
    }
    static func decrement(_ x: (negative: Bool, digits: String)) -> (negative: Bool, digits: String) {
        if x.negative { return (true, successor(x.digits)) }
        if x.digits == "0" { return (true, "1") }
        return (false, predecessor(x.digits))
    }

    /// Numbers in the interval between decimal bounds (nil: unbounded). A side that reaches to infinity keeps
    /// fractions and exponents; a bounded side is spelled without an exponent (stricter than the value set).
    static func decimal(lo: (Decimal10, exclusive: Bool)?, hi: (Decimal10, exclusive: Bool)?) throws -> Node {
        let unsigned = Node.seq([naturalText, .opt(fraction), .opt(exponent)])
        let zero = Decimal10("0")!
        func magnitude(_ d: Decimal10) -> Decimal10 { var m = d; m.negative = false; return m }
        var parts: [Node] = []
        // x ≥ 0, written without a sign.
        let hiNonNegative = hi.map { Decimal10.compare($0.0, zero) > 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
        if hiNonNegative {
            let loAtOrBelowZero = lo.map { Decimal10.compare($0.0, zero) < 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
            if hi == nil && loAtOrBelowZero {
                parts.append(unsigned)
            } else {
                let l = loAtOrBelowZero ? (zero, false) : (lo!.0, lo!.exclusive)
                parts.append(try magnitudes(lo: l.0, loExclusive: l.1, hi: hi?.0, hiExclusive: hi?.exclusive ?? false))
            }
        }
        // x < 0, written "-m" with m > 0 (every spelling of -0 is left out: 0 is covered above when allowed).
        let loNegative = lo.map { Decimal10.compare($0.0, zero) < 0 } ?? true
        if loNegative {
            let hiAtOrAboveZero = hi.map { Decimal10.compare($0.0, zero) >= 0 } ?? true
            let mLo = hiAtOrAboveZero ? (zero, true) : (magnitude(hi!.0), hi!.exclusive)
            let mHi = lo.map { (magnitude($0.0), $0.exclusive) }
            let hiAboveZero = hi.map { Decimal10.compare($0.0, zero) > 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
            if mHi == nil && hiAtOrAboveZero {
                parts.append(.seq([.lit("-"), try magnitudes(lo: zero, loExclusive: true, hi: nil, hiExclusive: false)]))
                // Exponent forms: any mantissa where 0 itself is allowed, otherwise only non-zero mantissas (so no -0e5).
                if hiAboveZero { parts.append(.seq([.lit("-"), naturalText, .opt(fraction), exponent])) } else {
                    let nonZeroMantissa = Node.alt([.seq([nonZeroDigit, .star(digit), .opt(fraction)]),
                                                    .seq([.lit("0."), .star(digit), nonZeroDigit, .star(digit)])])
                    parts.append(.seq([.lit("-"), nonZeroMantissa, exponent]))
                }
            } else {
                parts.append(.seq([.lit("-"), try magnitudes(lo: mLo.0, loExclusive: mLo.1, hi: mHi?.0, hiExclusive: mHi?.1 ?? false)]))
            }
        }
        return .alt(parts)
    }

    static func successor(_ a: String) -> String {
        var d = Array(a.utf8)
        var i = d.count - 1
        while i >= 0 && d[i] == UInt8(ascii: "9") { d[i] = UInt8(ascii: "0"); i -= 1 }
        if i >= 0 { d[i] += 1 } else { d.insert(UInt8(ascii: "1"), at: 0) }
        return String(decoding: d, as: UTF8.self)
    }

    static func predecessor(_ a: String) -> String {   // a > 0
        var d = Array(a.utf8)
        var i = d.count - 1
        while d[i] == UInt8(ascii: "0") { d[i] = UInt8(ascii: "9"); i -= 1 }
        d[i] -= 1
        while d.count > 1, d[0] == UInt8(ascii: "0") { d.removeFirst() }
        return String(decoding: d, as: UTF8.self)
    }

    /// Non-negative magnitudes m with lo ≤ m (or <) and m ≤ hi (or <) (hi nil: unbounded), as decimal text without
    /// exponent: the integer part against the bounds' integer parts, the fraction digit by digit where they meet.
    static func magnitudes(lo: Decimal10, loExclusive: Bool, hi: Decimal10?, hiExclusive: Bool) throws -> Node {
        let anyFraction = Node.opt(fraction)
        let (l, f) = split(lo)
        guard let hi else {
            return .alt([.seq([naturals(from: successor(l), to: nil), anyFraction]),
                         .seq([naturals(from: l, to: l), fractionAtLeast(f, strict: loExclusive)])])
        }
        let c = Decimal10.compare(lo, hi)
        if c > 0 || (c == 0 && (loExclusive || hiExclusive)) { return .never }
        let (h, g) = split(hi)
        if l == h {
            let both = try RuleDFA.intersection(fractionAtLeast(f, strict: loExclusive), fractionAtMost(g, strict: hiExclusive))
            return .seq([naturals(from: l, to: l), .automaton(both)])
        }
        var parts: [Node] = []
        // Integer part strictly between the bounds: any fraction.
        let innerLo = successor(l)
        if compare(innerLo, h) < 0 { parts.append(.seq([naturals(from: innerLo, to: predecessor(h)), anyFraction])) }
        parts.append(.seq([naturals(from: h, to: h), fractionAtMost(g, strict: hiExclusive)]))
        parts.append(.seq([naturals(from: l, to: l), fractionAtLeast(f, strict: loExclusive)]))
        return .alt(parts)
    }

    /// Number text (an optional "-", digits, an optional fraction; no exponent) whose value is a multiple of d:
    /// with d = c·10^e, the digits read so far are tracked modulo K = c·10^max(e, 0), and fraction digits past the
    /// p = max(-e, 0)th must be zeros. Exponent forms are left out (stricter than the value set). nil when that
    /// takes more than 50,000 states.
    static func multiples(of d: Decimal10) -> RuleDFA? {
        let p = max(0, -d.exponent)
        var k = 0
        for x in d.digits { k = k * 10 + Int(x); if k > 50_000 { return nil } }
        for _ in 0..<max(0, d.exponent) { k *= 10; if k > 50_000 { return nil } }
        let phases = p + 2   // 0: integer digits; j ≥ 1: after "." with j-1 fraction digits (the last: p, then zeros)
        guard k * phases <= 50_000 else { return nil }
        var dfa = RuleDFA()
        func id(_ r: Int, _ phase: Int) -> Int { 1 + phase * k + r }
        var pow10 = [Int](repeating: 1 % k, count: p + 1)   // 10^i mod k
        for i in stride(from: 1, through: p, by: 1) { pow10[i] = pow10[i - 1] * 10 % k }
        let count = 1 + k * phases
        dfa.edges = [[RuleDFA.Edge]](repeating: [], count: count)
        dfa.calls = [[RuleDFA.Call]](repeating: [], count: count)
        dfa.accept = [Bool](repeating: false, count: count)
        let zero = UInt8(ascii: "0")
        dfa.edges[0].append(RuleDFA.Edge(lo: UInt8(ascii: "-"), hi: UInt8(ascii: "-"), to: id(0, 0)))
        for dgt in 0..<10 { dfa.edges[0].append(RuleDFA.Edge(lo: zero + UInt8(dgt), hi: zero + UInt8(dgt), to: id(dgt % k, 0))) }
        for phase in 0..<phases {
            for r in 0..<k {
                let s = id(r, phase), read = max(0, phase - 1)
                dfa.accept[s] = r * pow10[p - read] % k == 0
                if phase == phases - 1 {
                    dfa.edges[s].append(RuleDFA.Edge(lo: zero, hi: zero, to: s))
                    continue
                }
                if phase == 0 { dfa.edges[s].append(RuleDFA.Edge(lo: UInt8(ascii: "."), hi: UInt8(ascii: "."), to: id(r, 1))) }
                let next = phase == 0 ? 0 : phase + 1
                for dgt in 0..<10 { dfa.edges[s].append(RuleDFA.Edge(lo: zero + UInt8(dgt), hi: zero + UInt8(dgt), to: id((r * 10 + dgt) % k, next))) }
            }
        }
        dfa.edges = dfa.edges.map { $0.sorted { $0.lo < $1.lo } }
        return dfa
    }

    /// A non-negative decimal as its integer digits ("0" for none) and its fraction digits (no trailing zeros).
    static func split(_ d: Decimal10) -> (int: String, frac: [UInt8]) {
        let int = d.rounded(up: false).digits
        guard d.exponent < 0 else { return (int, []) }
        let n = -d.exponent
        let frac = d.digits.count >= n ? Array(d.digits.suffix(n)) : [UInt8](repeating: 0, count: n - d.digits.count) + d.digits
        return (int, frac)
    }

    private static func ascii(_ ds: ArraySlice<UInt8>) -> Node { .literal(ds.map { $0 + UInt8(ascii: "0") }) }
    private static func digits(_ a: UInt8, _ b: UInt8) -> Node { .bytes((a + UInt8(ascii: "0"))...(b + UInt8(ascii: "0"))) }

    /// The optional fraction ("" or "." and digits) of numbers whose fraction 0.x is at least 0.f (above, if strict).
    static func fractionAtLeast(_ f: [UInt8], strict: Bool) -> Node {
        let nonZeroTail = Node.seq([.star(digit), nonZeroDigit, .star(digit)])
        if f.isEmpty { return strict ? .seq([.lit("."), nonZeroTail]) : .opt(fraction) }
        // Past a digit above f's, anything; having matched all of f, anything (strict: something non-zero).
        var alts: [Node] = []
        for i in 0..<f.count where f[i] < 9 { alts.append(.seq([ascii(f[..<i]), digits(f[i] + 1, 9), .star(digit)])) }
        alts.append(.seq([ascii(f[...]), strict ? nonZeroTail : .star(digit)]))
        return .seq([.lit("."), .alt(alts)])
    }

    /// The optional fraction of numbers whose fraction 0.x is at most 0.g (below, if strict).
    static func fractionAtMost(_ g: [UInt8], strict: Bool) -> Node {
        if g.isEmpty { return strict ? .never : .opt(.seq([.lit("."), .plus(.lit("0"))])) }
        // No fraction, a proper prefix of g, a digit below g's, or (not strict) g itself followed by zeros.
        var alts: [Node] = []
        for i in 0..<g.count {
            if i > 0 { alts.append(ascii(g[..<i])) }
            if g[i] > 0 { alts.append(.seq([ascii(g[..<i]), digits(0, g[i] - 1), .star(digit)])) }
        }
        if !strict { alts.append(.seq([ascii(g[...]), .star(.lit("0"))])) }
        return .alt([.empty, .seq([.lit("."), .alt(alts)])])
    }
}
