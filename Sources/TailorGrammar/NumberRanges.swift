// Numeric bounds as regular languages over JSON number text: integer ranges digit by digit, and decimals without an
// exponent whose bounds are integers. Exponent forms are admitted only where a side is unbounded, because "x ≤ 10"
// over mantissa·10^exp is not regular. Not arbitrary-precision arithmetic beyond what the bounds need.

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

    /// Numbers in the interval between integer-valued bounds (nil: unbounded). A side that reaches to infinity keeps
    /// fractions and exponents; a bounded side is spelled without an exponent (stricter than the value set).
    static func decimal(lo: (Decimal10, exclusive: Bool)?, hi: (Decimal10, exclusive: Bool)?) -> Node {
        let unsigned = Node.seq([naturalText, .opt(fraction), .opt(exponent)])
        let zero = Decimal10("0")!
        var parts: [Node] = []
        // x ≥ 0, written without a sign.
        let hiNonNegative = hi.map { Decimal10.compare($0.0, zero) > 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
        if hiNonNegative {
            let loAtOrBelowZero = lo.map { Decimal10.compare($0.0, zero) < 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
            if hi == nil && loAtOrBelowZero {
                parts.append(unsigned)
            } else {
                let l = loAtOrBelowZero ? ("0", false) : (lo!.0.rounded(up: false).digits, lo!.exclusive)
                parts.append(magnitudes(lo: l.0, loExclusive: l.1, hi: hi.map { $0.0.rounded(up: false).digits }, hiExclusive: hi?.exclusive ?? false))
            }
        }
        // x < 0, written "-m" with m > 0 (every spelling of -0 is left out: 0 is covered above when allowed).
        let loNegative = lo.map { Decimal10.compare($0.0, zero) < 0 } ?? true
        if loNegative {
            let hiAtOrAboveZero = hi.map { Decimal10.compare($0.0, zero) >= 0 } ?? true
            let mLo = hiAtOrAboveZero ? ("0", true) : (hi!.0.rounded(up: false).digits, hi!.exclusive)
            let mHi = lo.map { ($0.0.rounded(up: false).digits, $0.exclusive) }
            let hiAboveZero = hi.map { Decimal10.compare($0.0, zero) > 0 || (Decimal10.compare($0.0, zero) == 0 && !$0.exclusive) } ?? true
            if mHi == nil && hiAtOrAboveZero {
                parts.append(.seq([.lit("-"), magnitudes(lo: "0", loExclusive: true, hi: nil, hiExclusive: false)]))
                // Exponent forms: any mantissa where 0 itself is allowed, otherwise only non-zero mantissas (so no -0e5).
                if hiAboveZero { parts.append(.seq([.lit("-"), naturalText, .opt(fraction), exponent])) } else {
                    let nonZeroMantissa = Node.alt([.seq([nonZeroDigit, .star(digit), .opt(fraction)]),
                                                    .seq([.lit("0."), .star(digit), nonZeroDigit, .star(digit)])])
                    parts.append(.seq([.lit("-"), nonZeroMantissa, exponent]))
                }
            } else {
                parts.append(.seq([.lit("-"), magnitudes(lo: mLo.0, loExclusive: mLo.1, hi: mHi?.0, hiExclusive: mHi?.1 ?? false)]))
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

    /// Non-negative magnitudes m with lo ≤ m (or <) and m ≤ hi (or <), where lo and hi are integers (hi nil:
    /// unbounded), as decimal text without exponent.
    static func magnitudes(lo: String, loExclusive: Bool, hi: String?, hiExclusive: Bool) -> Node {
        let anyFraction = Node.opt(fraction)
        let zeroFraction = Node.opt(.seq([.lit("."), .plus(.lit("0"))]))
        let nonZeroFraction = Node.seq([.lit("."), .star(digit), nonZeroDigit, .star(digit)])
        if let hi {
            let c = compare(lo, hi)
            if c > 0 || (c == 0 && (loExclusive || hiExclusive)) { return .never }
            if c == 0 { return .seq([naturals(from: lo, to: lo), zeroFraction]) }
        }
        var parts: [Node] = []
        // Integer part strictly between the bounds: any fraction.
        let innerLo = successor(lo)
        if let hi {
            if compare(innerLo, hi) < 0 { parts.append(.seq([naturals(from: innerLo, to: predecessor(hi)), anyFraction])) }
            parts.append(.seq([naturals(from: hi, to: hi), hiExclusive ? .never : zeroFraction]))
        } else {
            parts.append(.seq([naturals(from: innerLo, to: nil), anyFraction]))
        }
        parts.append(.seq([naturals(from: lo, to: lo), loExclusive ? nonZeroFraction : anyFraction]))
        return .alt(parts)
    }
}
