// Why a schema was refused. Every refusal names the keyword and where it sits (a JSON pointer into the schema), so a
// caller can tell the user exactly what to change; nothing is ever enforced partially instead.

public enum GrammarError: Error, Equatable, CustomStringConvertible {
    /// A keyword Tailor cannot enforce exactly at this place.
    case unsupported(keyword: String, pointer: String, reason: String)
    /// The schema itself is malformed (a keyword of the wrong type, a dangling $ref).
    case invalidSchema(keyword: String, pointer: String, reason: String)

    public var keyword: String {
        switch self { case .unsupported(let k, _, _), .invalidSchema(let k, _, _): return k }
    }
    public var pointer: String {
        switch self { case .unsupported(_, let p, _), .invalidSchema(_, let p, _): return p }
    }

    public var description: String {
        switch self {
        case let .unsupported(k, p, r):
            return "JSON Schema keyword '\(k)' at '\(p.isEmpty ? "#" : p)' cannot be enforced exactly: \(r); remove or simplify it"
        case let .invalidSchema(k, p, r):
            return "invalid JSON Schema at '\(p.isEmpty ? "#" : p)' ('\(k)'): \(r); fix the schema"
        }
    }

    /// The same error placed at a keyword/pointer when the lower layer did not know it.
    func at(keyword k: String, pointer p: String) -> GrammarError {
        switch self {
        case let .unsupported(k0, p0, r): return .unsupported(keyword: k0.isEmpty ? k : k0, pointer: p0.isEmpty ? p : p0, reason: r)
        case let .invalidSchema(k0, p0, r): return .invalidSchema(keyword: k0.isEmpty ? k : k0, pointer: p0.isEmpty ? p : p0, reason: r)
        }
    }
}
