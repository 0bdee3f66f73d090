// The JSON text layer: how strings, literals and separators are spelled. Whitespace policy lives here: none except
// one optional space after ',' and ':' — enough for both compact output and Python's json.dumps default (", ", ": "),
// and bounded, so a model can never loop on whitespace (free `[ \t\n\r]*` lets small models emit newlines forever).

enum JSONText {
    /// "," then at most one space.
    static let itemSeparator = Node.seq([.lit(","), .opt(.lit(" "))])
    /// ":" then at most one space.
    static let keySeparator = Node.seq([.lit(":"), .opt(.lit(" "))])

    static let controls = CodePointSet([0...0x1F])
    static let mustEscape = controls.union(.chars("\"\\"))

    /// One character of string content drawn from `set`, spelled the one way Python's json.dumps spells it: raw
    /// UTF-8, except '"', '\' and control characters, which are escaped. One spelling per character keeps the
    /// grammar exact for patterns and formats (which constrain the decoded text).
    static func canonicalChar(_ set: CodePointSet) -> Node {
        var parts: [Node] = []
        let raw = set.subtracting(mustEscape)
        if !raw.isEmpty { parts.append(.chars(raw)) }
        for r in set.intersection(mustEscape).ranges {
            for c in r { parts.append(.lit(JSONValue.escaped(Unicode.Scalar(c)!))) }
        }
        return .alt(parts)
    }

    /// Replaces each character set in a character-level node (a regex, a format) by its JSON spelling.
    static func encodeChars(_ n: Node) -> Node {
        switch n {
        case .chars(let s): return canonicalChar(s)
        case .seq(let xs): return .seq(xs.map(encodeChars))
        case .alt(let xs): return .alt(xs.map(encodeChars))
        case .rep(let x, let mn, let mx): return .rep(encodeChars(x), min: mn, max: mx)
        default: return n
        }
    }

    private static let hex = Node.alt([.bytes(0x30...0x39), .bytes(0x41...0x46), .bytes(0x61...0x66)])
    /// Four hex digits naming a non-surrogate, a high surrogate, or a low surrogate.
    private static let hexNonSurrogate = Node.alt([
        .seq([.alt([.bytes(0x30...0x39), .byteSet("abcABCeEfF")]), hex, hex, hex]),
        .seq([.byteSet("dD"), .bytes(0x30...0x37), hex, hex]),
    ])
    private static let hexHigh = Node.seq([.byteSet("dD"), .alt([.byteSet("89abAB")]), hex, hex])
    private static let hexLow = Node.seq([.byteSet("dD"), .alt([.byteSet("cdefCDEF")]), hex, hex])

    /// Any one character of a JSON string in any legal spelling (raw, short escape, \u escape, surrogate pair).
    /// Lone surrogates are refused: they are not Unicode text.
    static let anyChar = Node.alt([
        .chars(CodePointSet.all.subtracting(mustEscape)),
        .seq([.lit("\\"), .byteSet("\"\\/bfnrt")]),
        .seq([.lit("\\u"), hexNonSurrogate]),
        .seq([.lit("\\u"), hexHigh, .lit("\\u"), hexLow]),
    ])

    /// String content (without quotes) as canonicalChar spells it.
    static func canonical(_ s: String) -> String { s.unicodeScalars.map { JSONValue.escaped($0) }.joined() }

    static func quoted(_ content: Node) -> Node { .seq([.lit("\""), content, .lit("\"")]) }

    /// Object keys that are none of `names`: raw characters only (escapes could spell a listed name another way).
    static func keyNotIn(_ names: [String]) -> Node { quoted(keyContentNotIn(names)) }

    /// The content of such a key, without its quotes.
    static func keyContentNotIn(_ names: [String]) -> Node {
        let allowed = CodePointSet.all.subtracting(mustEscape)
        final class Trie { var children: [(UInt32, Trie)] = []; var end = false }
        let root = Trie()
        for n in names {
            var t = root
            for u in n.unicodeScalars {
                if let c = t.children.first(where: { $0.0 == u.value }) { t = c.1 }
                else { let c = Trie(); t.children.append((u.value, c)); t = c }
            }
            t.end = true
        }
        func node(_ t: Trie) -> Node {
            let used = CodePointSet(t.children.map { $0.0...$0.0 })
            var parts: [Node] = t.children.filter { allowed.contains($0.0) }.map { .seq([.chars(CodePointSet([$0.0...$0.0])), node($0.1)]) }
            parts.append(.seq([.chars(allowed.subtracting(used)), .star(.chars(allowed))]))
            if !t.end { parts.append(.empty) }
            return .alt(parts)
        }
        return node(root)
    }

    /// The exact text of a JSON value (from an enum or const), with this file's separator policy.
    static func literal(_ v: JSONValue) -> Node {
        switch v {
        case .null, .bool, .number, .string: return .lit(v.pythonText)
        case .array(let a):
            var parts: [Node] = [.lit("[")]
            for (i, x) in a.enumerated() { if i > 0 { parts.append(itemSeparator) }; parts.append(literal(x)) }
            parts.append(.lit("]"))
            return .seq(parts)
        case .object(let m):
            var parts: [Node] = [.lit("{")]
            for (i, kv) in m.enumerated() {
                if i > 0 { parts.append(itemSeparator) }
                parts.append(.lit(JSONValue.quoted(kv.0))); parts.append(keySeparator); parts.append(literal(kv.1))
            }
            parts.append(.lit("}"))
            return .seq(parts)
        }
    }
}
