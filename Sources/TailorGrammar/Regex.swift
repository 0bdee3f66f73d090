// The regular subset of ECMAScript regexes that `pattern` uses: literals, escapes, classes, `.`, groups, |, greedy or
// lazy quantifiers, ^/$ at the ends. Back-references, lookaround, \b, \p{…} and inner anchors are refused, never
// approximated. The result ranges over characters; JSONSchemaCompiler spells each one as JSON string content.

struct RegexError: Error { var reason: String }

struct RegexParser {
    private let s: [Unicode.Scalar]
    private var i = 0
    /// Quantifier bounds beyond this are refused: each repetition is a copy of the automaton.
    static let maxRepeat = 1000

    init(_ pattern: String) { s = Array(pattern.unicodeScalars) }

    /// Parses a pattern with JSON Schema's search semantics: unanchored ends may be surrounded by any text.
    static func parseSearch(_ pattern: String) throws -> Node {
        var p = RegexParser(pattern)
        var anchoredStart = false, anchoredEnd = false
        var body = p.s
        if body.first == "^" { anchoredStart = true; body.removeFirst() }
        if body.last == "$", !(body.count >= 2 && body[body.count - 2] == "\\" && !Self.escapedBackslashEnds(body)) {
            anchoredEnd = true; body.removeLast()
        }
        p = RegexParser(String(String.UnicodeScalarView(body)))
        let node = try p.alternation()
        if p.i != p.s.count { throw RegexError(reason: "unexpected '\(p.s[p.i])' at \(p.i)") }
        let any = Node.star(.chars(.all))
        return .seq([anchoredStart ? .empty : any, node, anchoredEnd ? .empty : any])
    }

    /// True when the character before a final `$` is a backslash that is itself escaped (`\\$`).
    private static func escapedBackslashEnds(_ b: [Unicode.Scalar]) -> Bool {
        var n = 0, k = b.count - 2
        while k >= 0 && b[k] == "\\" { n += 1; k -= 1 }
        return n % 2 == 0
    }

    private var atEnd: Bool { i >= s.count }
    private func peek() -> Unicode.Scalar? { i < s.count ? s[i] : nil }

    private mutating func alternation() throws -> Node {
        var branches = [try sequence()]
        while peek() == "|" { i += 1; branches.append(try sequence()) }
        return branches.count == 1 ? branches[0] : .alt(branches)
    }

    private mutating func sequence() throws -> Node {
        var items: [Node] = []
        while let c = peek(), c != "|", c != ")" {
            var atom = try self.atom()
            atom = try quantified(atom)
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .seq(items)
    }

    private mutating func quantified(_ a: Node) throws -> Node {
        var a = a
        while let c = peek() {
            var mn = 0, mx: Int? = nil
            if c == "*" { i += 1 } else if c == "+" { i += 1; mn = 1 } else if c == "?" { i += 1; mx = 1 }
            else if c == "{", let (lo, hi) = try braces() { mn = lo; mx = hi }
            else { break }
            // A lazy quantifier matches the same language as the greedy one; only match positions differ.
            if peek() == "?" { i += 1 }
            if peek() == "*" || peek() == "+" || peek() == "{" && (try? lookBraces()) != nil {
                throw RegexError(reason: "nested quantifier")
            }
            if mn > Self.maxRepeat || (mx ?? 0) > Self.maxRepeat { throw RegexError(reason: "repetition bound above \(Self.maxRepeat)") }
            a = .rep(a, min: mn, max: mx)
        }
        return a
    }

    private func lookBraces() throws -> (Int, Int?)? { var c = self; return try c.braces() }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and nothing consumed) when the brace is a literal, as ECMAScript reads it.
    private mutating func braces() throws -> (Int, Int?)? {
        let save = i
        i += 1
        func num() -> Int? {
            var v = 0, any = false
            while let c = peek(), let d = Int(String(c)), c.isASCII { v = min(v * 10 + d, 1_000_000); any = true; i += 1 }
            return any ? v : nil
        }
        guard let lo = num() else { i = save; return nil }
        var hi: Int? = lo
        if peek() == "," { i += 1; hi = num() }
        guard peek() == "}" else { i = save; return nil }
        i += 1
        if let hi, hi < lo { throw RegexError(reason: "{\(lo),\(hi)} has max below min") }
        return (lo, hi)
    }

    private mutating func atom() throws -> Node {
        let c = s[i]
        i += 1
        switch c {
        case "(":
            if peek() == "?" {
                i += 1
                if peek() == ":" { i += 1 }
                else if peek() == "<", i + 1 < s.count, s[i + 1] != "=", s[i + 1] != "!" {
                    while let x = peek(), x != ">" { i += 1 }     // named group: the name does not change the language
                    guard peek() == ">" else { throw RegexError(reason: "unterminated group name") }
                    i += 1
                } else { throw RegexError(reason: "lookaround and inline flags are not supported") }
            }
            let inner = try alternation()
            guard peek() == ")" else { throw RegexError(reason: "missing )") }
            i += 1
            return inner
        case ")": throw RegexError(reason: "unbalanced )")
        case "[": return .chars(try classBody())
        case ".": return .chars(CodePointSet.chars("\n\r\u{2028}\u{2029}").inverted())
        case "^", "$": throw RegexError(reason: "anchors are supported only at the start and end of the pattern")
        case "*", "+", "?": throw RegexError(reason: "quantifier without a target")
        case "\\": return .chars(try escape(inClass: false))
        default: return .chars(CodePointSet([c.value...c.value]))
        }
    }

    private static let digits = CodePointSet([0x30...0x39])
    private static let word = CodePointSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    private static let space = CodePointSet([0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                             0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF])

    private mutating func escape(inClass: Bool) throws -> CodePointSet {
        guard let c = peek() else { throw RegexError(reason: "pattern ends in a backslash") }
        i += 1
        func one(_ v: UInt32) -> CodePointSet { CodePointSet([v...v]) }
        switch c {
        case "d": return Self.digits
        case "D": return Self.digits.inverted()
        case "w": return Self.word
        case "W": return Self.word.inverted()
        case "s": return Self.space
        case "S": return Self.space.inverted()
        case "n": return one(0x0A)
        case "r": return one(0x0D)
        case "t": return one(0x09)
        case "f": return one(0x0C)
        case "v": return one(0x0B)
        case "0": return one(0)
        case "b" where inClass: return one(0x08)
        case "x":
            guard i + 2 <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<i + 2])), radix: 16) else { throw RegexError(reason: "bad \\x escape") }
            i += 2; return one(v)
        case "u":
            guard i + 4 <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<i + 4])), radix: 16) else { throw RegexError(reason: "bad \\u escape") }
            i += 4
            if v >= 0xD800 && v < 0xE000 { throw RegexError(reason: "surrogate escapes are not supported") }
            return one(v)
        case "b", "B": throw RegexError(reason: "word boundaries are not supported")
        case "p", "P": throw RegexError(reason: "Unicode property escapes are not supported")
        case "1"..."9": throw RegexError(reason: "back-references are not supported")
        case "k": throw RegexError(reason: "named back-references are not supported")
        case "c": throw RegexError(reason: "control escapes are not supported")
        default:
            // Identity escapes: ECMAScript (with the u flag) allows them only for syntax characters; accept any
            // non-alphanumeric as itself, as non-u patterns do, and refuse letters whose meaning is uncertain.
            if c.properties.isAlphabetic || ("0"..."9").contains(c) { throw RegexError(reason: "unknown escape \\\(c)") }
            return one(c.value)
        }
    }

    private mutating func classBody() throws -> CodePointSet {
        var negate = false
        if peek() == "^" { negate = true; i += 1 }
        var set = CodePointSet()
        var first = true
        while true {
            guard let c = peek() else { throw RegexError(reason: "unterminated character class") }
            if c == "]" && !first { i += 1; break }
            if c == "]" && first { i += 1; break }   // "[]" matches nothing in ECMAScript
            first = false
            let lo = try classAtom()
            if peek() == "-", i + 1 < s.count, s[i + 1] != "]" {
                i += 1
                let hi = try classAtom()
                guard lo.ranges.count == 1, lo.ranges[0].count == 1, hi.ranges.count == 1, hi.ranges[0].count == 1 else {
                    throw RegexError(reason: "class range with a class escape at one end")
                }
                let a = lo.ranges[0].lowerBound, b = hi.ranges[0].lowerBound
                guard a <= b else { throw RegexError(reason: "class range out of order") }
                set = set.union(CodePointSet([a...b]))
            } else {
                set = set.union(lo)
            }
        }
        return negate ? set.inverted() : set
    }

    private mutating func classAtom() throws -> CodePointSet {
        let c = s[i]
        i += 1
        if c == "\\" { return try escape(inClass: true) }
        if c == "[" && peek() == ":" { throw RegexError(reason: "POSIX classes are not supported") }
        return CodePointSet([c.value...c.value])
    }
}
