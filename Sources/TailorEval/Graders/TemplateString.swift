// The Evals API's template strings: `{{item.field}}`, `{{item.a.b}}`, `{{sample.output_text}}` and
// `{{sample.output_json.key}}` replaced by values from the item and sample namespaces. Not Jinja: no filters, loops
// or expressions, which OpenAI's graders do not document either.
import Foundation

/// What a template can read: the data source item and, once there is one, the model's sample. Values are what
/// JSONSerialization produces (dictionaries, arrays, strings, NSNumber, NSNull).
public struct TemplateContext: @unchecked Sendable {
    // @unchecked Sendable: the values are JSONSerialization's immutable Foundation objects, read only.
    public var item: [String: Any]
    public var sample: [String: Any]?

    public init(item: [String: Any], sample: [String: Any]? = nil) {
        self.item = item
        self.sample = sample
    }

    /// The sample namespace for a model's text: `output_text`, and `output_json` when the text is a JSON object or
    /// array (OpenAI: "populated if the model sample is a valid JSON string"). Tailor adds `output_json_valid`
    /// (true or false, rendered as text), which a string_check can test without erroring on a sample that is not JSON.
    public static func sample(outputText: String) -> [String: Any] {
        var sample: [String: Any] = ["output_text": outputText, "output_json_valid": false]
        if let json = try? JSONSerialization.jsonObject(with: Data(outputText.utf8)), json is [String: Any] || json is [Any] {
            sample["output_json"] = json
            sample["output_json_valid"] = true
        }
        return sample
    }
}

public enum TemplateStringError: Error, Equatable, CustomStringConvertible {
    /// `{{…}}` names something the item or sample does not have.
    case missing(reference: String, template: String)
    /// `{{…}}` is not a namespace path Tailor knows.
    case malformed(reference: String, template: String)

    public var description: String {
        switch self {
        case let .missing(reference, _):
            let namespace = reference.hasPrefix("sample") ? "sample" : "item"
            return "the template names {{\(reference)}}, which this \(namespace) does not have"
        case let .malformed(reference, _):
            return "{{\(reference)}} is not a template reference Tailor knows; use {{item.<field>}}, "
                + "{{sample.output_text}} or {{sample.output_json.<field>}}"
        }
    }
}

public struct TemplateString: Sendable, Hashable {
    /// A reference as written between the braces, split on dots: `["item", "answer"]`.
    public struct Reference: Sendable, Hashable {
        public var path: [String]
        public var text: String { path.joined(separator: ".") }
        public init(path: [String]) { self.path = path }
        public var namespace: String { path[0] }
    }

    enum Piece: Sendable, Hashable { case text(String), reference(Reference) }

    public let source: String
    let pieces: [Piece]

    /// Parses `source`; text outside `{{ }}` is kept as it is. A reference must start with `item` or `sample`.
    public init(_ source: String) throws {
        self.source = source
        var pieces: [Piece] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let path = inner.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard path.count >= 2, ["item", "sample"].contains(path[0]), !path.contains(where: \.isEmpty) else {
                throw TemplateStringError.malformed(reference: inner, template: source)
            }
            pieces.append(.reference(Reference(path: path)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        self.pieces = pieces
    }

    public var references: [Reference] {
        pieces.compactMap { if case .reference(let r) = $0 { r } else { nil } }
    }

    /// Strings are inserted as they are; numbers, booleans, objects and arrays as JSON text (an integer without a
    /// decimal point), so `{{item.count}}` of 3 is "3" and an object reads as the JSON a model would see.
    public func render(_ context: TemplateContext) throws -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let t): out += t
            case .reference(let r):
                guard let value = Self.lookup(r, context) else { throw TemplateStringError.missing(reference: r.text, template: source) }
                out += Self.text(of: value)
            }
        }
        return out
    }

    /// The value `r` names in `context`, nil when it is missing (or null).
    public static func lookup(_ r: Reference, _ context: TemplateContext) -> Any? {
        var value: Any? = r.namespace == "item" ? context.item : context.sample
        for key in r.path.dropFirst() {
            switch value {
            case let object as [String: Any]: value = object[key]
            case let array as [Any]: value = Int(key).flatMap { array.indices.contains($0) ? array[$0] : nil }
            default: return nil
            }
        }
        return value is NSNull ? nil : value
    }

    static func text(of value: Any) -> String {
        if let s = value as? String { return s }
        if let n = value as? NSNumber, String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
        let options: JSONSerialization.WritingOptions = [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }
}
