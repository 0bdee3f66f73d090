// The JSON Schema subset Tailor checks data source items against: type, properties, required, additionalProperties,
// items, enum, const, min/max length, items and value, pattern. Not $ref, anyOf/oneOf/allOf/not or conditionals: a
// schema using them is refused when the eval is created, rather than half-checked later.
import Foundation

public struct ItemSchema: @unchecked Sendable {
    // @unchecked Sendable: `schema` is JSONSerialization's immutable output, only read.
    let schema: [String: Any]

    /// Keywords that describe rather than constrain (`format` is an annotation in JSON Schema 2020-12 by default).
    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$id", "$comment",
                                           "format", "deprecated", "readOnly", "writeOnly"]
    static let checked: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "enum", "const",
                                       "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
                                       "exclusiveMaximum", "minItems", "maxItems", "pattern"]
    static let types: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]

    /// Checks that every keyword is one Tailor enforces; the error names the keyword and where it is.
    public init(_ schema: [String: Any]) throws {
        try Self.audit(schema, at: "")
        self.schema = schema
    }

    /// The top-level fields the schema declares, or nil when it declares none (then a template may name any field).
    public var declaredFields: Set<String>? {
        guard let properties = schema["properties"] as? [String: Any] else { return nil }
        return Set(properties.keys)
    }

    private static func audit(_ schema: [String: Any], at path: String) throws {
        for key in schema.keys.sorted() where !annotations.contains(key) && !checked.contains(key) {
            throw SchemaError("keyword '\(key)'\(path.isEmpty ? "" : " at \(path)") is not one Tailor checks items "
                              + "against yet; use type, properties, required, additionalProperties, items, enum, const, "
                              + "minLength/maxLength, minimum/maximum, minItems/maxItems or pattern")
        }
        if let t = schema["type"] {
            let names = (t as? [Any] ?? [t]).map { $0 as? String }
            guard !names.isEmpty, names.allSatisfy({ name in name.map { types.contains($0) } ?? false }) else {
                throw SchemaError("'type'\(path.isEmpty ? "" : " at \(path)") must be one of \(types.sorted().joined(separator: ", ")) or a list of them")
            }
        }
        let at = path.isEmpty ? "" : " at \(path)"
        for key in ["minLength", "maxLength", "minItems", "maxItems"] {
            guard let v = schema[key] else { continue }
            guard let n = number(v), n == n.rounded(), (0...1e9).contains(n) else {
                throw SchemaError("'\(key)'\(at) must be a non-negative integer")
            }
        }
        for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] where schema[key] != nil && number(schema[key]) == nil {
            throw SchemaError("'\(key)'\(at) must be a number")
        }
        if let r = schema["required"], !((r as? [Any])?.allSatisfy({ $0 is String }) ?? false) {
            throw SchemaError("'required'\(at) must be an array of property names")
        }
        if let e = schema["enum"], !(e is [Any]) { throw SchemaError("'enum'\(at) must be an array") }
        if let a = schema["additionalProperties"], !(a is [String: Any]) && !isBool(a) {
            throw SchemaError("'additionalProperties'\(at) must be a boolean or a schema")
        }
        if let i = schema["items"], !(i is [String: Any]) { throw SchemaError("'items'\(at) must be a schema object") }
        if let p = schema["pattern"] {
            guard let s = p as? String, (try? NSRegularExpression(pattern: s)) != nil else {
                throw SchemaError("'pattern'\(path.isEmpty ? "" : " at \(path)") is not a regular expression")
            }
        }
        if let props = schema["properties"] {
            guard let props = props as? [String: Any] else { throw SchemaError("'properties' at \(path.isEmpty ? "the top" : path) must be an object") }
            for (name, sub) in props {
                guard let sub = sub as? [String: Any] else { throw SchemaError("the schema of property '\(name)' must be an object") }
                try audit(sub, at: path + "/properties/" + name)
            }
        }
        if let items = schema["items"] as? [String: Any] { try audit(items, at: path + "/items") }
        if let extra = schema["additionalProperties"] as? [String: Any] { try audit(extra, at: path + "/additionalProperties") }
    }

    /// The first way `value` breaks the schema ("item.answer must be a string"), or nil when it conforms.
    public func violation(_ value: Any, name: String = "item") -> String? {
        Self.violation(value, schema, name)
    }

    private static func violation(_ value: Any, _ s: [String: Any], _ name: String) -> String? {
        if let t = s["type"] {
            let names = (t as? [Any] ?? [t]).compactMap { $0 as? String }
            if !names.contains(where: { matches(value, $0) }) { return "\(name) must be \(names.joined(separator: " or ")), not \(kind(value))" }
        }
        if let options = s["enum"] as? [Any], !options.contains(where: { equal($0, value) }) {
            return "\(name) must be one of \(options.map { TemplateString.text(of: $0) }.joined(separator: ", "))"
        }
        if let c = s["const"], !equal(c, value) { return "\(name) must be \(TemplateString.text(of: c))" }
        if let text = value as? String {
            let n = text.unicodeScalars.count
            if let m = number(s["minLength"]).map({ Int($0) }), n < m { return "\(name) must be at least \(m) characters" }
            if let m = number(s["maxLength"]).map({ Int($0) }), n > m { return "\(name) must be at most \(m) characters" }
            if let p = s["pattern"] as? String, let re = try? NSRegularExpression(pattern: p),
               re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                return "\(name) must match the pattern \(p)"
            }
        }
        if let x = number(value) {
            if let m = number(s["minimum"]), x < m { return "\(name) must be at least \(fmt(m))" }
            if let m = number(s["maximum"]), x > m { return "\(name) must be at most \(fmt(m))" }
            if let m = number(s["exclusiveMinimum"]), x <= m { return "\(name) must be greater than \(fmt(m))" }
            if let m = number(s["exclusiveMaximum"]), x >= m { return "\(name) must be less than \(fmt(m))" }
        }
        if let array = value as? [Any] {
            if let m = number(s["minItems"]).map({ Int($0) }), array.count < m { return "\(name) must have at least \(m) items" }
            if let m = number(s["maxItems"]).map({ Int($0) }), array.count > m { return "\(name) must have at most \(m) items" }
            if let items = s["items"] as? [String: Any] {
                for (i, element) in array.enumerated() {
                    if let v = violation(element, items, "\(name)[\(i)]") { return v }
                }
            }
        }
        if let object = value as? [String: Any] {
            for key in (s["required"] as? [Any] ?? []).compactMap({ $0 as? String }) where object[key] == nil {
                return "\(name) is missing the required field '\(key)'"
            }
            let properties = s["properties"] as? [String: Any] ?? [:]
            for key in object.keys.sorted() {
                if let sub = properties[key] as? [String: Any] {
                    if let v = violation(object[key]!, sub, "\(name).\(key)") { return v }
                } else if let extra = s["additionalProperties"] {
                    if (extra as? NSNumber).map({ !$0.boolValue }) ?? false { return "\(name) has the field '\(key)', which the schema does not allow" }
                    if let sub = extra as? [String: Any], let v = violation(object[key]!, sub, "\(name).\(key)") { return v }
                }
            }
        }
        return nil
    }

    private static func fmt(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }

    private static func isBool(_ v: Any) -> Bool { (v as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false }

    private static func number(_ v: Any?) -> Double? {
        guard let n = v as? NSNumber, !isBool(n) else { return nil }
        return n.doubleValue
    }

    private static func matches(_ v: Any, _ type: String) -> Bool {
        switch type {
        case "object": return v is [String: Any]
        case "array": return v is [Any]
        case "string": return v is String
        case "boolean": return isBool(v)
        case "null": return v is NSNull
        case "number": return number(v) != nil
        default: return number(v).map { $0 == $0.rounded() } ?? false
        }
    }

    private static func kind(_ v: Any) -> String {
        for t in ["null", "boolean", "integer", "number", "string", "array", "object"] where matches(v, t) { return t }
        return "unknown"
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if isBool(a) != isBool(b) { return false }
        return TemplateString.text(of: a) == TemplateString.text(of: b)
    }
}

public struct SchemaError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}
