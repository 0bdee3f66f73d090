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
        var required = Set<String>(), requiredOrder: [String] = []
        if let r = schema["required"] {
            guard let a = r.arrayValue else { throw GrammarError.invalidSchema(keyword: "required", pointer: pointer + "/required", reason: "must be an array") }
            for name in a.compactMap(\.stringValue) where required.insert(name).inserted { requiredOrder.append(name) }
        }
        // Closed objects (tool arguments): with properties listed and additionalProperties unsaid, none are extra.
        let additional = schema["additionalProperties"] ?? .bool(!(closedObjects && schema["properties"] != nil))
        let additionalAllowed: Bool
        if case .bool(false) = additional { additionalAllowed = false } else { additionalAllowed = true }
        let pattern = try patternRule(schema, pointer, additional: additional)
        let matchesPattern = try pattern.map { try Self.matcher($0.chars) }
        let listed = props.count
        // Required names without a property schema take the pattern's schema if they match it, else
        // additionalProperties; they come in the order `required` lists them (the order instances use).
        for r in requiredOrder where !props.contains(where: { $0.0 == r }) {
            if let pattern, matchesPattern!(r) { props.append((r, pattern.schema, pattern.pointer)); continue }
            if !additionalAllowed { return .never }
            props.append((r, additional, pointer + "/additionalProperties"))
        }
        // At least one property when none is required is exact (no empty object); more than that would need a count.
        let minProperties = try nonNegativeInt(schema, "minProperties", pointer) ?? 0
        if minProperties > max(1, required.count) {
            throw GrammarError.unsupported(keyword: "minProperties", pointer: pointer + "/minProperties", reason: "a minimum above the number of required properties (or 1) is not enforced")
        }
        if let mx = try nonNegativeInt(schema, "maxProperties", pointer), additionalAllowed || pattern != nil || mx < props.count {
            throw GrammarError.unsupported(keyword: "maxProperties", pointer: pointer + "/maxProperties", reason: "a maximum below the number of possible properties is not enforced")
        }

        var kvs: [(Node, Bool)] = []   // key-value node, required
        for (i, (name, s, p)) in props.enumerated() {
            let value: Node
            if i < listed, let pattern, matchesPattern!(name) {
                // A listed name that matches the pattern owes both schemas.
                value = try derivedRule(try SchemaMerge(compiler: self).merge([s, pattern.schema], p), p)
            } else { value = try valueRule(s, p) }
            if value.isNever {
                if required.contains(name) { return .never }
                continue
            }
            kvs.append((.seq([.lit(JSONValue.quoted(name)), JSONText.keySeparator, value]), required.contains(name)))
        }
        // Extra keys (none of the names above): those matching the pattern take its schema, the others
        // additionalProperties. Keys split by the pattern are spelled with raw characters only, as keyNotIn's are.
        var extras: [Node] = []
        let names = props.map(\.0)
        if let pattern {
            let value = try valueRule(pattern.schema, pattern.pointer)
            if !value.isNever {
                let keys = try RuleDFA.intersection(JSONText.encodeChars(pattern.chars), JSONText.keyContentNotIn(names))
                extras.append(.seq([JSONText.quoted(.automaton(keys)), JSONText.keySeparator, value]))
            }
        }
        if additionalAllowed {
            let value = try valueRule(additional, pointer + "/additionalProperties")
            if !value.isNever {
                var key = props.isEmpty ? anyString() : JSONText.keyNotIn(names)
                if let pattern {
                    let others = try RuleDFA.complement(JSONText.encodeChars(pattern.chars))
                    key = JSONText.quoted(.automaton(try RuleDFA.intersection(.automaton(others), JSONText.keyContentNotIn(names))))
                }
                extras.append(.seq([key, JSONText.keySeparator, value]))
            }
        }
        let extra: Node? = extras.isEmpty ? nil : extras.count == 1 ? extras[0] : .alt(extras)

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
        // Every way to write no listed property ends here, so leaving out the empty choice is "at least one".
        let nonEmpty = minProperties > required.count
        var first: Node = extra.map { nonEmpty ? .seq([$0, after[n]]) : .opt(.seq([$0, after[n]])) } ?? (nonEmpty ? .never : .empty)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let withThis = Node.seq([kvs[i].0, after[i + 1]])
            first = kvs[i].1 ? withThis : .alt([withThis, first])
        }
        return .seq([.lit("{"), first, .lit("}")])
    }

    /// patternProperties as one pattern (the alternation of all of them) and one schema. Several patterns with
    /// different schemas are refused: a key matching two would owe both. Trivial schemas beside open
    /// additionalProperties change nothing (nil).
    private mutating func patternRule(_ schema: JSONValue, _ pointer: String, additional: JSONValue) throws -> (chars: Node, schema: JSONValue, pointer: String)? {
        guard let pp = schema["patternProperties"]?.objectMembers, !pp.isEmpty else { return nil }
        let at = pointer + "/patternProperties"
        func trivial(_ v: JSONValue) -> Bool {
            if case .bool(true) = v { return true }
            return v.objectMembers?.allSatisfy { !Self.knownValidation.contains($0.0) } ?? false
        }
        if case .bool(true) = additional, pp.allSatisfy({ trivial($0.1) }) { return nil }
        guard Set(pp.map { $0.1.pythonText }).count == 1 else {
            throw GrammarError.unsupported(keyword: "patternProperties", pointer: at, reason: "patterns with different schemas are not supported (a key matching two owes both)")
        }
        var alts: [Node] = []
        for (pattern, _) in pp {
            do { alts.append(try RegexParser.parseSearch(pattern)) } catch let e as RegexError {
                throw GrammarError.unsupported(keyword: "patternProperties", pointer: at, reason: "pattern '\(pattern)': \(e.reason)")
            }
        }
        let esc = pp[0].0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        return (alts.count == 1 ? alts[0] : .alt(alts), pp[0].1, at + "/" + esc)
    }

    /// Whether the character-level node matches `text` exactly (checked by compiling it on its own).
    static func matches(_ n: Node, _ text: String) throws -> Bool { try matcher(n)(text) }

    /// The same test for many texts, compiling the node once.
    static func matcher(_ n: Node) throws -> (String) -> Bool {
        var b = GrammarBuilder()
        let r = b.add(JSONText.encodeChars(n))
        let m = GrammarMatcher(grammar: try b.build(root: r), vocabulary: TokenVocabulary.bytes)
        return { text in
            m.reset()
            return m.accept(bytes: Array(JSONText.canonical(text).utf8)) && m.isAccepting
        }
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
