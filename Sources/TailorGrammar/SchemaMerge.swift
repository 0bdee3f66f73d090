// allOf as one schema: subschemas merged keyword by keyword where the intersection is itself a schema (types
// intersect, properties merge recursively, bounds tighten). Anything whose intersection cannot be written exactly
// is refused. Also the oneOf check: oneOf compiles as anyOf only when its branches provably never overlap.

import Foundation

struct SchemaMerge {
    let compiler: SchemaCompiler
    private static let maxDepth = 24

    init(compiler: SchemaCompiler) { self.compiler = compiler }

    func merge(_ parts: [JSONValue], _ pointer: String) throws -> JSONValue {
        var acc: JSONValue = .bool(true)
        for (i, p) in parts.enumerated() { acc = try merge(acc, p, pointer + "/\(i)", depth: 0) }
        return acc
    }

    /// Inlines `$ref` and nested `allOf` so the merge sees plain keywords.
    private func flatten(_ s: JSONValue, _ pointer: String, depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth else {
            throw GrammarError.unsupported(keyword: "allOf", pointer: pointer, reason: "merging goes deeper than \(Self.maxDepth) levels (a recursive $ref inside allOf)")
        }
        guard case .object(let m) = s else { return s }
        // Only validation keywords survive a merge: anything else is ignored by validators, so dropping it is exact.
        var acc: JSONValue = .object(m.filter { $0.0 != "$ref" && $0.0 != "allOf" && SchemaCompiler.knownValidation.contains($0.0) })
        if let r = s["$ref"]?.stringValue {
            acc = try merge(acc, try compiler.resolve(r, pointer), pointer + "/$ref", depth: depth + 1)
        }
        if let parts = s["allOf"]?.arrayValue {
            for (i, p) in parts.enumerated() { acc = try merge(acc, p, pointer + "/allOf/\(i)", depth: depth + 1) }
        }
        return acc
    }

    private func merge(_ a0: JSONValue, _ b0: JSONValue, _ pointer: String, depth: Int) throws -> JSONValue {
        let a = try flatten(a0, pointer, depth: depth), b = try flatten(b0, pointer, depth: depth)
        if case .bool(let x) = a { return x ? b : .bool(false) }
        if case .bool(let y) = b { return y ? a : .bool(false) }
        guard var out = a.objectMembers, let bm = b.objectMembers else {
            throw GrammarError.invalidSchema(keyword: "allOf", pointer: pointer, reason: "a schema must be an object or a boolean")
        }
        func set(_ k: String, _ v: JSONValue) {
            if let i = out.firstIndex(where: { $0.0 == k }) { out[i].1 = v } else { out.append((k, v)) }
        }
        let aHasProps = a["properties"] != nil || a["additionalProperties"] != nil
        let bHasProps = b["properties"] != nil || b["additionalProperties"] != nil
        if aHasProps && bHasProps { for (k, v) in try mergeObjects(a, b, pointer, depth: depth) { set(k, v) } }
        for (k, bv) in bm where SchemaCompiler.knownValidation.contains(k) || SchemaCompiler.containers.contains(k) {
            guard let av = a[k] else {
                if !(aHasProps && bHasProps && ["properties", "additionalProperties"].contains(k)) { set(k, bv) }
                continue
            }
            switch k {
            case "properties", "additionalProperties":
                continue   // merged together above
            case "type":
                let ta = Self.types(av), tb = Self.types(bv)
                var t = ta.intersection(tb)
                if ta.contains("number") && tb.contains("integer") || tb.contains("number") && ta.contains("integer") { t.insert("integer") }
                if t.contains("integer") && t.contains("number") { t.remove("integer") }
                set(k, .array(t.sorted().map(JSONValue.string)))
            case "required":
                var r = av.arrayValue ?? []
                for x in bv.arrayValue ?? [] where !r.contains(x) { r.append(x) }
                set(k, .array(r))
            case "enum":
                set(k, .array((av.arrayValue ?? []).filter { (bv.arrayValue ?? []).contains($0) }))
            case "const":
                if av != bv { return .bool(false) }
            case "minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties":
                set(k, try Self.pick(av, bv, larger: true, k, pointer))
            case "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties":
                set(k, try Self.pick(av, bv, larger: false, k, pointer))
            case "items" where av.arrayValue == nil && bv.arrayValue == nil:
                set(k, .object([("allOf", .array([av, bv]))]))
            case "anyOf":
                // (a1 ∨ a2) ∧ (b1 ∨ b2) = (a1 ∧ b1) ∨ (a1 ∧ b2) ∨ …, as long as the product stays small.
                let xs = av.arrayValue ?? [], ys = bv.arrayValue ?? []
                guard xs.count * ys.count <= 64 else {
                    throw GrammarError.unsupported(keyword: k, pointer: pointer + "/anyOf", reason: "allOf over two anyOf lists with more than 64 combinations")
                }
                set(k, .array(xs.flatMap { x in ys.map { y in .object([("allOf", .array([x, y]))]) } }))
            default:
                if av != bv {
                    throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "allOf with two different '\(k)' values cannot be merged")
                }
            }
        }
        if a["prefixItems"] != nil || b["prefixItems"] != nil || (a["items"]?.arrayValue != nil) || (b["items"]?.arrayValue != nil) {
            let arrayKeys = ["items", "prefixItems", "additionalItems"]
            if arrayKeys.contains(where: { a[$0] != nil }) && arrayKeys.contains(where: { b[$0] != nil }) {
                throw GrammarError.unsupported(keyword: "prefixItems", pointer: pointer, reason: "allOf over two tuple schemas cannot be merged")
            }
        }
        return .object(out)
    }

    /// properties + additionalProperties of two object schemas: a name one side does not list must satisfy that
    /// side's additionalProperties.
    private func mergeObjects(_ a: JSONValue, _ b: JSONValue, _ pointer: String, depth: Int) throws -> [(String, JSONValue)] {
        let pa = a["properties"]?.objectMembers ?? [], pb = b["properties"]?.objectMembers ?? []
        let apA = a["additionalProperties"] ?? .bool(true), apB = b["additionalProperties"] ?? .bool(true)
        var props: [(String, JSONValue)] = []
        for (k, v) in pa {
            let other = pb.last(where: { $0.0 == k })?.1 ?? apB
            props.append((k, try merge(v, other, pointer + "/properties/" + k, depth: depth + 1)))
        }
        for (k, v) in pb where !pa.contains(where: { $0.0 == k }) {
            props.append((k, try merge(apA, v, pointer + "/properties/" + k, depth: depth + 1)))
        }
        return [("properties", .object(props)), ("additionalProperties", try merge(apA, apB, pointer + "/additionalProperties", depth: depth + 1))]
    }

    static func types(_ t: JSONValue) -> Set<String> {
        if let s = t.stringValue { return [s] }
        return Set((t.arrayValue ?? []).compactMap(\.stringValue))
    }

    private static func pick(_ a: JSONValue, _ b: JSONValue, larger: Bool, _ k: String, _ pointer: String) throws -> JSONValue {
        guard case .number(let x) = a, case .number(let y) = b, let dx = Decimal10(x), let dy = Decimal10(y) else {
            // Draft-4 boolean exclusive flags depend on their sibling bound; merging them is not attempted.
            throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "allOf over non-numeric '\(k)' values cannot be merged")
        }
        let c = Decimal10.compare(dx, dy)
        return (c >= 0) == larger ? a : b
    }

    // MARK: oneOf

    /// Refuses a oneOf whose branches might overlap: only then is "exactly one" the same as "at least one".
    func checkDisjoint(_ branches: [JSONValue], _ pointer: String) throws {
        for i in 0..<branches.count {
            for j in (i + 1)..<branches.count where !(try disjoint(branches[i], branches[j], depth: 0)) {
                throw GrammarError.unsupported(keyword: "oneOf", pointer: pointer, reason: "branches \(i) and \(j) may both match an instance, so oneOf is not the same as anyOf here")
            }
        }
    }

    private func disjoint(_ a0: JSONValue, _ b0: JSONValue, depth: Int) throws -> Bool {
        guard depth < 8 else { return false }
        let a = try flatten(a0, "", depth: 0), b = try flatten(b0, "", depth: 0)
        if case .bool(false) = a { return true }
        if case .bool(false) = b { return true }
        guard a.objectMembers != nil, b.objectMembers != nil else { return false }
        if let ta = possibleTypes(a), let tb = possibleTypes(b) {
            let num: Set<String> = ["number", "integer"]
            let overlap = ta.contains { x in tb.contains { y in x == y || (num.contains(x) && num.contains(y)) } }
            if !overlap { return true }
        }
        if let va = values(a), let vb = values(b), !va.contains(where: { vb.contains($0) }) { return true }
        // Objects told apart by a property both require and whose schemas are disjoint (a discriminator), or by
        // a property one requires and the other forbids.
        let ra = Set((a["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        let rb = Set((b["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        for k in ra.intersection(rb) {
            if let pa = a["properties"]?[k], let pb = b["properties"]?[k], try disjoint(pa, pb, depth: depth + 1) { return true }
        }
        for (req, other) in [(ra, b), (rb, a)] {
            for k in req {
                if let p = other["properties"]?[k], case .bool(false) = p { return true }
                if other["properties"]?[k] == nil, case .bool(false) = other["additionalProperties"] ?? .bool(true),
                   other["patternProperties"] == nil { return true }
            }
        }
        return false
    }

    private func possibleTypes(_ s: JSONValue) -> Set<String>? {
        if let t = s["type"] { return Self.types(t) }
        if let v = values(s) {
            return Set(v.map { v -> String in
                switch v {
                case .null: return "null"
                case .bool: return "boolean"
                case .number: return "number"
                case .string: return "string"
                case .array: return "array"
                case .object: return "object"
                }
            })
        }
        return nil
    }

    private func values(_ s: JSONValue) -> [JSONValue]? {
        if let c = s["const"] { return [c] }
        return s["enum"]?.arrayValue
    }
}
