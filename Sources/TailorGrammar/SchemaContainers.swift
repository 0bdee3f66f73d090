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
        let additional = schema["additionalProperties"] ?? .bool(true)
        let additionalAllowed: Bool
        if case .bool(false) = additional { additionalAllowed = false } else { additionalAllowed = true }
        // Required names without a property schema take the additionalProperties schema.
        for r in required.sorted() where !props.contains(where: { $0.0 == r }) {
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
        var extra: Node? = nil
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
