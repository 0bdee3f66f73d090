// JSON Schema → CompiledGrammar: entry points, keyword bookkeeping, $ref, anyOf/oneOf/allOf, not, enum/const and the
// type dispatch (scalars in SchemaScalars.swift, objects and arrays in SchemaContainers.swift, merging in
// SchemaMerge.swift). What it cannot enforce exactly it refuses by keyword and JSON pointer, never partially.

import Foundation

public enum JSONSchemaGrammar {
    /// Compiles a schema given as JSON text. Compile once per schema and cache the result by the text.
    public static func compile(schemaText: String) throws -> CompiledGrammar {
        let schema: JSONValue
        do { schema = try JSONValue(parsing: schemaText) } catch {
            throw GrammarError.invalidSchema(keyword: "", pointer: "", reason: "\(error)")
        }
        return try compile(schema: schema)
    }

    public static func compile(schema: JSONValue) throws -> CompiledGrammar {
        var c = SchemaCompiler(root: schema)
        let root = c.builder.newRule()
        c.builder.define(root, try c.compile(schema, "#"))
        // A size refusal no single keyword explains names the whole schema.
        do { return try c.builder.build(root: root) } catch let e as GrammarError { throw e.at(keyword: "(schema size)", pointer: "#") }
    }

    /// Any JSON value (OpenAI's `json_object` response format asks for an object: see `anyObject`).
    public static func anyJSON() throws -> CompiledGrammar { try compile(schema: .bool(true)) }
    /// Any JSON object: the `json_object` response format.
    public static func anyObject() throws -> CompiledGrammar { try compile(schema: .object([("type", .string("object"))])) }
}

struct SchemaCompiler {
    let root: JSONValue
    var builder = GrammarBuilder()
    private var refRules: [String: Int] = [:]
    private var shared: [String: Int] = [:]
    private var derivedRules: [String: Int] = [:]
    private var depth = 0
    /// An object schema that lists properties and says nothing of others takes no others (XGrammar's strict mode).
    /// Stricter than JSON Schema, never looser: every instance generated still validates. Used for tool arguments,
    /// where a small model would otherwise keep adding keys until it runs out of tokens.
    var closedObjects = false
    /// Schemas nest deeper than this only through references that keep producing new merged schemas.
    static let maxDepth = 200

    init(root: JSONValue) { self.root = root }

    /// Keywords that only annotate; ignoring them is exact.
    static let annotations: Set<String> = ["title", "description", "examples", "example", "default", "$schema", "$id", "id",
        "$comment", "deprecated", "readOnly", "writeOnly", "$anchor", "contentMediaType", "contentEncoding",
        "contentSchema", "$vocabulary", "$defs", "definitions"]

    /// Validation keywords Tailor cannot enforce as a grammar; present with an effect, they are refused.
    static let unsupported: Set<String> = ["not", "if", "then", "else", "dependentRequired", "dependentSchemas",
        "dependencies", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contains",
        "minContains", "maxContains", "$dynamicRef", "$recursiveRef", "$dynamicAnchor", "$recursiveAnchor"]

    static let allTypes = ["null", "boolean", "object", "array", "number", "string"]
    /// Keywords that hold subschemas addressed by $ref rather than validating in place.
    static let containers: Set<String> = ["$defs", "definitions"]

    /// The instance type a keyword constrains; a keyword whose type an instance cannot have does nothing.
    static let keywordType: [String: String] = [
        "minLength": "string", "maxLength": "string", "pattern": "string", "format": "string",
        "minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number", "multipleOf": "number",
        "properties": "object", "required": "object", "additionalProperties": "object", "minProperties": "object",
        "maxProperties": "object", "patternProperties": "object", "propertyNames": "object", "dependencies": "object",
        "dependentRequired": "object", "dependentSchemas": "object", "unevaluatedProperties": "object",
        "items": "array", "prefixItems": "array", "additionalItems": "array", "minItems": "array", "maxItems": "array",
        "uniqueItems": "array", "contains": "array", "minContains": "array", "maxContains": "array", "unevaluatedItems": "array",
    ]

    // MARK: shared rules

    mutating func sharedRule(_ name: String, _ make: (inout SchemaCompiler) throws -> Node) rethrows -> Node {
        if let r = shared[name] { return .call(r) }
        let r = builder.newRule()
        shared[name] = r
        builder.define(r, try make(&self))
        return .call(r)
    }

    mutating func anyValue() -> Node {
        sharedRule("value") { c in
            .alt([.lit("null"), .lit("true"), .lit("false"), c.anyString(), c.anyNumber(), c.anyObjectNode(), c.anyArrayNode()])
        }
    }
    mutating func anyString() -> Node { sharedRule("string") { _ in JSONText.quoted(.star(JSONText.anyChar)) } }
    mutating func anyNumber() -> Node { sharedRule("number") { _ in NumberRanges.number } }
    mutating func anyObjectNode() -> Node {
        sharedRule("object") { c in
            let kv = Node.seq([c.anyString(), JSONText.keySeparator, c.anyValue()])
            return .seq([.lit("{"), .opt(.seq([kv, .star(.seq([JSONText.itemSeparator, kv]))])), .lit("}")])
        }
    }
    mutating func anyArrayNode() -> Node {
        sharedRule("array") { c in
            let v = c.anyValue()
            return .seq([.lit("["), .opt(.seq([v, .star(.seq([JSONText.itemSeparator, v]))])), .lit("]")])
        }
    }

    // MARK: references

    /// A nested $id moves the base its "#…" references resolve against; they are resolved against the root here, so
    /// such a schema is refused rather than enforced against the wrong subschema.
    func refuseNestedID(_ schema: JSONValue, _ pointer: String) throws {
        if schema["$id"] != nil, schema != root, Self.containsLocalRef(schema) {
            throw GrammarError.unsupported(keyword: "$id", pointer: pointer + "/$id",
                                           reason: "a nested $id changes what the \"#…\" $refs inside it point to")
        }
    }

    static func containsLocalRef(_ v: JSONValue) -> Bool {
        switch v {
        case .object(let members):
            return members.contains { k, x in (k == "$ref" && x.stringValue?.hasPrefix("#") == true) || containsLocalRef(x) }
        case .array(let items): return items.contains(where: containsLocalRef)
        default: return false
        }
    }

    func resolve(_ ref: String, _ pointer: String) throws -> JSONValue {
        guard ref.hasPrefix("#") else {
            throw GrammarError.unsupported(keyword: "$ref", pointer: pointer, reason: "only local references (\"#/…\") are supported, not '\(ref)'")
        }
        let path = ref.dropFirst()
        if path.isEmpty { return root }
        guard path.hasPrefix("/") else {
            throw GrammarError.unsupported(keyword: "$ref", pointer: pointer, reason: "anchor references ('\(ref)') are not supported; use a JSON pointer")
        }
        var v = root
        for raw in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var tok = String(raw).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            tok = tok.removingPercentEncoding ?? tok
            if case .object = v, let next = v[tok] { v = next; continue }
            if case .array(let a) = v, let i = Int(tok), i >= 0, i < a.count { v = a[i]; continue }
            throw GrammarError.invalidSchema(keyword: "$ref", pointer: pointer, reason: "'\(ref)' points at nothing")
        }
        return v
    }

    mutating func ruleForRef(_ ref: String, _ pointer: String) throws -> Node {
        if let r = refRules[ref] { return .call(r) }
        let target = try resolve(ref, pointer)
        let r = builder.newRule()
        refRules[ref] = r
        builder.define(r, try compile(target, ref))
        return .call(r)
    }

    /// A subschema as a callable rule, so containers can repeat it without copying its automaton.
    mutating func valueRule(_ s: JSONValue, _ pointer: String) throws -> Node {
        if case .object(let m) = s, let ref = s["$ref"]?.stringValue,
           m.allSatisfy({ $0.0 == "$ref" || Self.annotations.contains($0.0) }) {
            try refuseNestedID(s, pointer)
            return try ruleForRef(ref, pointer + "/$ref")
        }
        if case .bool(true) = s { return anyValue() }
        let n = try compile(s, pointer)
        if n.isNever { return .never }
        let r = builder.newRule()
        builder.define(r, n)
        return .call(r)
    }

    // MARK: the schema

    /// `not` is supported where it only removes types ({"not": {"type": "string"}}) or is a boolean: the schema
    /// is rewritten to the remaining types. Anything else under `not` is refused.
    static func withoutNot(_ schema: JSONValue, _ inner: JSONValue, _ pointer: String) throws -> JSONValue {
        var rest = schema.objectMembers!.filter { $0.0 != "not" }
        switch inner {
        case .bool(true): return .bool(false)
        case .bool(false): return .object(rest)
        default: break
        }
        let refuse = GrammarError.unsupported(keyword: "not", pointer: pointer + "/not", reason: "only 'not' over a list of types is enforced")
        guard let m = inner.objectMembers, m.allSatisfy({ $0.0 == "type" || !knownValidation.contains($0.0) }) else { throw refuse }
        guard let t = inner["type"] else { return .bool(false) }   // not {} rejects everything
        let excluded = SchemaMerge.types(t)
        var allowed = schema["type"].map(SchemaMerge.types) ?? Set(allTypes)
        if excluded.contains("integer") && allowed.contains("number") { throw refuse }   // "number but not integer"
        if excluded.contains("number") { allowed.remove("integer") }
        allowed.subtract(excluded)
        if let i = rest.firstIndex(where: { $0.0 == "type" }) { rest.remove(at: i) }
        rest.append(("type", .array(allowed.sorted().map(JSONValue.string))))
        return .object(rest)
    }

    /// A schema built by merging (allOf, $ref with siblings) as a rule shared by every place that builds the same
    /// text; a recursive $ref inside allOf rebuilds the same merged schema, and this is what ends that recursion.
    mutating func derivedRule(_ schema: JSONValue, _ pointer: String) throws -> Node {
        let key = schema.pythonText
        if let r = derivedRules[key] { return .call(r) }
        let r = builder.newRule()
        derivedRules[key] = r
        builder.define(r, try compile(schema, pointer))
        return .call(r)
    }

    mutating func compile(_ schema: JSONValue, _ pointer: String) throws -> Node {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth {
            throw GrammarError.unsupported(keyword: "$ref", pointer: pointer, reason: "the schema nests deeper than \(Self.maxDepth) levels")
        }
        switch schema {
        case .bool(let b): return b ? anyValue() : .never
        case .object: break
        default: throw GrammarError.invalidSchema(keyword: "", pointer: pointer, reason: "a schema must be an object or a boolean")
        }
        let keys = Set(schema.objectMembers!.map(\.0))
        try refuseNestedID(schema, pointer)

        if let ref = schema["$ref"] {
            guard let r = ref.stringValue else { throw GrammarError.invalidSchema(keyword: "$ref", pointer: pointer, reason: "must be a string") }
            let rest = schema.objectMembers!.filter { $0.0 != "$ref" && !Self.annotations.contains($0.0) }
            if rest.isEmpty { return try ruleForRef(r, pointer + "/$ref") }
            // Siblings of $ref apply too (2019-09 and later); under draft 7 they are ignored, so enforcing them is
            // at worst stricter, never looser.
            let merged = try SchemaMerge(compiler: self).merge([try resolve(r, pointer), .object(rest)], pointer)
            return try derivedRule(merged, pointer)
        }
        if keys.contains("allOf") {
            guard let parts = schema["allOf"]?.arrayValue else { throw GrammarError.invalidSchema(keyword: "allOf", pointer: pointer, reason: "must be an array") }
            let rest = JSONValue.object(schema.objectMembers!.filter { $0.0 != "allOf" })
            let merged = try SchemaMerge(compiler: self).merge([rest] + parts, pointer + "/allOf")
            return try derivedRule(merged, pointer)
        }
        for key in ["anyOf", "oneOf"] where keys.contains(key) {
            guard let branches = schema[key]?.arrayValue, !branches.isEmpty else {
                throw GrammarError.invalidSchema(keyword: key, pointer: pointer, reason: "must be a non-empty array")
            }
            let siblings = schema.objectMembers!.filter { $0.0 != key && !Self.annotations.contains($0.0) }
            var resolved = branches
            if !siblings.isEmpty {
                let merge = SchemaMerge(compiler: self)
                resolved = try branches.enumerated().map { try merge.merge([.object(siblings), $1], pointer + "/\(key)/\($0)") }
            }
            if key == "oneOf" { try SchemaMerge(compiler: self).checkDisjoint(resolved, pointer + "/oneOf") }
            var alts: [Node] = []
            for (i, b) in resolved.enumerated() {
                alts.append(siblings.isEmpty ? try valueRule(b, pointer + "/\(key)/\(i)") : try derivedRule(b, pointer + "/\(key)/\(i)"))
            }
            return .alt(alts)
        }
        if let inner = schema["not"] {
            return try derivedRule(try Self.withoutNot(schema, inner, pointer), pointer)
        }
        for k in keys where Self.unsupported.contains(k) {
            throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "this keyword is not enforced by Tailor's grammar engine")
        }

        var types = Set(Self.allTypes)
        if let t = schema["type"] {
            switch t {
            case .string(let s): types = [s]
            case .array(let a): types = Set(a.compactMap(\.stringValue))
            default: throw GrammarError.invalidSchema(keyword: "type", pointer: pointer + "/type", reason: "must be a string or an array of strings")
            }
            for x in types where !(Self.allTypes + ["integer"]).contains(x) {
                throw GrammarError.invalidSchema(keyword: "type", pointer: pointer + "/type", reason: "unknown type '\(x)'")
            }
            if types.contains("number") { types.remove("integer") }
        }

        if keys.contains("enum") || keys.contains("const") { return try literals(schema, types, pointer) }

        var alts: [Node] = []
        if types.contains("null") { alts.append(.lit("null")) }
        if types.contains("boolean") { alts.append(.alt([.lit("true"), .lit("false")])) }
        if types.contains("string") { alts.append(try string(schema, pointer)) }
        if types.contains("number") { alts.append(try number(schema, pointer, integer: false)) }
        if types.contains("integer") { alts.append(try number(schema, pointer, integer: true)) }
        if types.contains("object") { alts.append(try object(schema, pointer)) }
        if types.contains("array") { alts.append(try array(schema, pointer)) }
        return .alt(alts)
    }

    /// `enum` / `const`: the listed values, spelled canonically. Other constraints beside them are refused unless
    /// they are `type` (which filters the list): checking each value against them is not implemented.
    private func literals(_ schema: JSONValue, _ types: Set<String>, _ pointer: String) throws -> Node {
        var values: [JSONValue] = []
        if let c = schema["const"] { values = [c] }
        if let e = schema["enum"] {
            guard let a = e.arrayValue else { throw GrammarError.invalidSchema(keyword: "enum", pointer: pointer + "/enum", reason: "must be an array") }
            values = schema["const"] == nil ? a : values.filter { a.contains($0) }
        }
        values = values.filter { Self.jsonType($0, in: types) }
        for (k, _) in schema.objectMembers! where !["enum", "const", "type"].contains(k) && !Self.annotations.contains(k) {
            if Self.ignorableBeside(k) { continue }
            if let t = Self.keywordType[k], !values.contains(where: { Self.jsonType($0, in: [t, t == "number" ? "integer" : t]) }) { continue }
            throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "only 'type' is supported beside enum/const")
        }
        return .alt(values.map(JSONText.literal))
    }

    /// Keywords of JSON Schema that are not validation keywords Tailor knows are ignored by validators too.
    static func ignorableBeside(_ k: String) -> Bool { !knownValidation.contains(k) }
    /// Every keyword that validates in some draft. Anything outside this set is ignored by validators, so merges
    /// may drop it; everything inside must be enforced or refused.
    static let knownValidation: Set<String> = unsupported.union(["patternProperties", "not", "type", "enum", "const", "minLength", "maxLength",
        "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "properties",
        "required", "additionalProperties", "minProperties", "maxProperties", "items", "prefixItems", "additionalItems",
        "minItems", "maxItems", "uniqueItems", "anyOf", "oneOf", "allOf", "$ref"])

    static func jsonType(_ v: JSONValue, in types: Set<String>) -> Bool {
        switch v {
        case .null: return types.contains("null")
        case .bool: return types.contains("boolean")
        case .string: return types.contains("string")
        case .array: return types.contains("array")
        case .object: return types.contains("object")
        case .number(let n): return types.contains("number") || (types.contains("integer") && (Decimal10(n)?.isInteger ?? false))
        }
    }
}
