// Python's `str` semantics over Unicode code points: split(), lower(), rstrip() and ordering, as the reference
// metrics (sacrebleu, nltk, rouge-score, rapidfuzz) apply them. Not a general text library.

/// Text as Python sees it: a sequence of code points. Swift's `String` compares and hashes by canonical equivalence
/// ("é" equals "e\u{301}") and orders by its own rules; the references compare, hash and sort code point by code
/// point, so every metric works on these arrays and never on `String` equality.
typealias CodePoints = [Unicode.Scalar]

extension String {
    var codePoints: CodePoints { Array(unicodeScalars) }
}

extension Array where Element == Unicode.Scalar {
    var string: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: self)
        return String(s)
    }

    func hasSuffix(_ suffix: CodePoints) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }

    /// `str.replace(old, new)`: left to right, non-overlapping, the result not rescanned.
    func replacing(_ old: CodePoints, with new: CodePoints) -> CodePoints {
        guard !old.isEmpty, count >= old.count else { return self }
        var out = CodePoints()
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            if i + old.count <= count && self[i..<(i + old.count)].elementsEqual(old) {
                out.append(contentsOf: new)
                i += old.count
            } else {
                out.append(self[i])
                i += 1
            }
        }
        return out
    }

    /// `a < b` for Python strings: lexicographic by code point value.
    func pythonPrecedes(_ other: CodePoints) -> Bool {
        lexicographicallyPrecedes(other) { $0.value < $1.value }
    }
}

enum PythonText {
    /// `str.isspace()`, which `str.split()` and `str.rstrip()` use: Unicode White_Space plus the four ASCII
    /// information separators U+001C–U+001F, which Python counts as whitespace and Unicode does not.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `str.split()` with no separator: runs of whitespace separate, leading and trailing whitespace gives no token.
    static func split(_ text: some Collection<Unicode.Scalar>,
                      separator: (Unicode.Scalar) -> Bool = isSpace) -> [CodePoints] {
        var tokens: [CodePoints] = []
        var current = CodePoints()
        for c in text {
            if separator(c) {
                if !current.isEmpty { tokens.append(current); current = [] }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    static func rstrip(_ text: CodePoints) -> CodePoints {
        var end = text.count
        while end > 0 && isSpace(text[end - 1]) { end -= 1 }
        return Array(text[..<end])
    }

    /// `str.lower()`: the full lowercase mapping of each code point ("İ" becomes "i\u{307}"), and capital sigma
    /// becomes final "ς" in the Final_Sigma context, which Python implements and a per-scalar mapping does not.
    static func lower(_ text: CodePoints) -> CodePoints {
        var out = CodePoints()
        out.reserveCapacity(text.count)
        for (i, c) in text.enumerated() {
            if c.value < 0x80 {
                out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c)
            } else if c.value == 0x3A3 {
                out.append(isFinalSigma(text, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// Python's rule (unicodeobject.c, handle_capital_sigma): a cased letter before, skipping case-ignorables,
    /// and no cased letter after, skipping case-ignorables.
    private static func isFinalSigma(_ text: CodePoints, at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && text[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && text[j].properties.isCased else { return false }
        j = i + 1
        while j < text.count && text[j].properties.isCaseIgnorable { j += 1 }
        return j == text.count || !text[j].properties.isCased
    }

    static func isASCIIDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
}

/// Gives each distinct token a small integer, so n-grams are arrays of Ints rather than arrays of arrays.
struct TokenInterner {
    private var ids: [CodePoints: Int] = [:]

    mutating func id(_ token: CodePoints) -> Int {
        if let id = ids[token] { return id }
        let id = ids.count
        ids[token] = id
        return id
    }

    mutating func ids(_ tokens: [CodePoints]) -> [Int] { tokens.map { id($0) } }
}

/// Counts of every n-gram of order `orders` in `tokens` (collections.Counter over tuples).
func ngramCounts(_ tokens: [Int], orders: ClosedRange<Int>) -> [[Int]: Int] {
    var counts: [[Int]: Int] = [:]
    for n in orders where n <= tokens.count {
        for i in 0...(tokens.count - n) {
            counts[Array(tokens[i..<(i + n)]), default: 0] += 1
        }
    }
    return counts
}
