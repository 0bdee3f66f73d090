// Objects and arrays. Properties are generated in the schema's order (as llguidance does): an instance with the
// same properties in another order is refused, which is stricter than JSON Schema, never looser. Extra properties,
// where allowed, come after the listed ones.

extension SchemaCompiler {
    mutating func object(_ schema: JSONValue, _ pointer: String) throws -> Node {
        var props: [(String, JSONValue, String)] = []   // name, schema, pointer
        if let p = schema["properties"] {
            guard let m = p.objectMembers else { throw GrammarError.invalidSchema(keyword: "properties", pointer: pointer + "/properties", reason: "must be an object") }
            for (k, v) in m {
                let esc = k.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if let i = props.firstIndex(where: { $0.0 == k }) { props.remove(at: i) }
                props.append((k, v, pointer + "/properties/" + esc))
            }
        }
        var required = Set<String>()
        if let r = schema["required"] {
            guard let a = r.arrayValue else { throw GrammarError.invalidSchema(keyword: "required", pointer: pointer + "/required", reason: "must be an array") }
            required = Set(a.compactMap(\.stringValue))
        }
        // Closed objects (tool arguments): with properties listed and additionalProperties unsaid, none are extra.
        let additional = schema["additionalProperties"] ?? .bool(!(closedObjects && schema["properties"] != nil))
        let additionalAllowed: Bool
        if case .bool(false) = additional { additionalAllowed = false } else { additionalAllowed = true }
        let patternExtra = try patternProperties(schema, pointer, additional: additional, names: props.map(\.0))
        // Required names without a property schema take the additionalProperties schema.
        for r in required.sorted() where !props.contains(where: { $0.0 == r }) {
            if patternExtra != nil {
                throw GrammarError.unsupported(keyword: "patternProperties", pointer: pointer + "/patternProperties", reason: "a required name that only a pattern can supply is not supported")
            }
            if !additionalAllowed { return .never }
            props.append((r, additional, pointer + "/additionalProperties"))
        }
        if let mn = try nonNegativeInt(schema, "minProperties", pointer), mn > required.count {
            throw GrammarError.unsupported(keyword: "minProperties", pointer: pointer + "/minProperties", reason: "a minimum above the number of required properties is not enforced")
        }
        if let mx = try nonNegativeInt(schema, "maxProperties", pointer), additionalAllowed || mx < props.count {
            throw GrammarError.unsupported(keyword: "maxProperties", pointer: pointer + "/maxProperties", reason: "a maximum below the number of possible properties is not enforced")
        }

        var kvs: [(Node, Bool)] = []   // key-value node, required
        for (name, s, p) in props {
            let value = try valueRule(s, p)
            if value.isNever {
                if required.contains(name) { return .never }
                continue
            }
            kvs.append((.seq([.lit(JSONValue.quoted(name)), JSONText.keySeparator, value]), required.contains(name)))
        }
        var extra: Node? = patternExtra
        if additionalAllowed {
            let value = try valueRule(additional, pointer + "/additionalProperties")
            if !value.isNever {
                let key = props.isEmpty ? anyString() : JSONText.keyNotIn(props.map(\.0))
                extra = .seq([key, JSONText.keySeparator, value])
            }
        }

        // after[i]: properties i..<n once something has been written (each needs a leading separator).
        // first(i): properties i..<n when nothing has been written yet. after[i] are rules so first() can refer to
        // them without copying; the chain is linear in the number of properties.
        let n = kvs.count
        var after = [Node](repeating: .empty, count: n + 1)
        after[n] = extra.map { .star(.seq([JSONText.itemSeparator, $0])) } ?? .empty
        for i in stride(from: n - 1, through: 0, by: -1) {
            let item = Node.seq([JSONText.itemSeparator, kvs[i].0])
            let body = Node.seq([kvs[i].1 ? item : .opt(item), after[i + 1]])
            after[i] = .call(builder.add(body))
        }
        var first: Node = extra.map { .opt(.seq([$0, after[n]])) } ?? .empty
        for i in stride(from: n - 1, through: 0, by: -1) {
            let withThis = Node.seq([kvs[i].0, after[i + 1]])
            first = kvs[i].1 ? withThis : .alt([withThis, first])
        }
        return .seq([.lit("{"), first, .lit("}")])
    }

    /// patternProperties, in the two shapes that are exact as a grammar: with additionalProperties false and one
    /// schema shared by every pattern (extra keys must match a pattern; listed names must match none, or their
    /// value would owe both schemas), or with only trivial schemas beside open additionalProperties (then it
    /// changes nothing). Returns the key-value node for extra keys, or nil.
    private mutating func patternProperties(_ schema: JSONValue, _ pointer: String, additional: JSONValue, names: [String]) throws -> Node? {
        guard let pp = schema["patternProperties"]?.objectMembers, !pp.isEmpty else { return nil }
        let at = pointer + "/patternProperties"
        func trivial(_ v: JSONValue) -> Bool {
            if case .bool(true) = v { return true }
            return v.objectMembers?.allSatisfy { !Self.knownValidation.contains($0.0) } ?? false
        }
        if case .bool(true) = additional, pp.allSatisfy({ trivial($0.1) }) { return nil }
        guard case .bool(false) = additional, Set(pp.map { $0.1.pythonText }).count == 1 else {
            throw GrammarError.unsupported(keyword: "patternProperties", pointer: at, reason: "supported only with additionalProperties false and one schema for all patterns")
        }
        var keys: [Node] = []
        for (pattern, _) in pp {
            let n: Node
            do { n = try RegexParser.parseSearch(pattern) } catch let e as RegexError {
                throw GrammarError.unsupported(keyword: "patternProperties", pointer: at, reason: "pattern '\(pattern)': \(e.reason)")
            }
            for name in names where try Self.matches(n, name) {
                throw GrammarError.unsupported(keyword: "patternProperties", pointer: at, reason: "property '\(name)' also matches pattern '\(pattern)'")
            }
            keys.append(JSONText.encodeChars(n))
        }
        let value = try valueRule(pp[0].1, at + "/" + pp[0].0)
        return .seq([JSONText.quoted(.alt(keys)), JSONText.keySeparator, value])
    }

    /// Whether the character-level node matches `text` exactly (checked by compiling it on its own).
    static func matches(_ n: Node, _ text: String) throws -> Bool {
        var b = GrammarBuilder()
        let r = b.add(JSONText.encodeChars(n))
        let m = GrammarMatcher(grammar: try b.build(root: r), vocabulary: TokenVocabulary.bytes)
        return m.accept(bytes: Array(JSONText.canonical(text).utf8)) && m.isAccepting
    }

    mutating func array(_ schema: JSONValue, _ pointer: String) throws -> Node {
        var prefix: [JSONValue] = [], prefixPointer = pointer + "/prefixItems"
        var rest: JSONValue = .bool(true), restPointer = pointer + "/items"
        if let p = schema["prefixItems"] {
            guard let a = p.arrayValue else { throw GrammarError.invalidSchema(keyword: "prefixItems", pointer: prefixPointer, reason: "must be an array") }
            prefix = a
            if let i = schema["items"] { rest = i }
        } else if let i = schema["items"] {
            if let a = i.arrayValue {
                // Draft 4–2019 tuple form: items is the prefix, additionalItems the rest.
                prefix = a; prefixPointer = pointer + "/items"
                if let ai = schema["additionalItems"] { rest = ai; restPointer = pointer + "/additionalItems" }
            } else { rest = i }
        }
        if case .bool(true) = schema["uniqueItems"] ?? .bool(false) {
            throw GrammarError.unsupported(keyword: "uniqueItems", pointer: pointer + "/uniqueItems", reason: "uniqueness of items is not enforced")
        }
        let minI = try nonNegativeInt(schema, "minItems", pointer) ?? 0
        var maxI = try nonNegativeInt(schema, "maxItems", pointer)
        let restRule = try valueRule(rest, restPointer)
        if restRule.isNever { maxI = min(maxI ?? prefix.count, prefix.count) }
        if let m = maxI, m < minI { return .never }
        if minI > Self.maxLengthBound || (maxI ?? 0) > Self.maxLengthBound + prefix.count {
            let k = minI > Self.maxLengthBound ? "minItems" : "maxItems"
            throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "item count bounds above \(Self.maxLengthBound) are not supported")
        }
        var elements: [Node] = []
        for (i, p) in prefix.enumerated() where maxI == nil || i < maxI! { elements.append(try valueRule(p, prefixPointer + "/\(i)")) }

        func element(_ j: Int) -> Node { j < elements.count ? elements[j] : restRule }
        // tail(j): elements j… after at least one has been written.
        func tail(_ j: Int) -> Node {
            if let m = maxI, j >= m { return .empty }
            if j < elements.count {
                return .alt([j >= minI ? .empty : .never, .seq([JSONText.itemSeparator, element(j), tail(j + 1)])])
            }
            if restRule.isNever { return j >= minI ? .empty : .never }
            return .rep(.seq([JSONText.itemSeparator, restRule]), min: max(0, minI - j), max: maxI.map { $0 - j })
        }
        if maxI == 0 { return .lit("[]") }
        let body = Node.alt([minI == 0 ? .empty : .never, .seq([element(0), tail(1)])])
        return .seq([.lit("["), body, .lit("]")])
    }
}
