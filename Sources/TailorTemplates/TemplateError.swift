// TemplateError: every failure of parsing or rendering a chat template, with where in the template it happened.
// One type on purpose: the chat layer maps `.raised` to a 400 carrying the template's own message, the rest to 500s.

public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The template is not valid Jinja (or uses syntax outside Tailor's subset).
        case syntax
        /// The template called `raise_exception(message)`: it rejects this conversation.
        case raised
        /// An undefined value was used where jinja2 also fails (attribute of undefined, arithmetic, …).
        case undefined
        /// A Python type error, like `"a" + none` or `len(none)`.
        case type
        /// Something the immutable sandbox forbids, like `list.append` or `_`-prefixed namespace attributes.
        case security
        /// A valid Jinja feature Tailor's subset does not have.
        case unsupported
        /// Malformed JSON given to `TemplateValue(json:)`.
        case json
    }

    public let kind: Kind
    /// For `.raised`, exactly the template's message.
    public let message: String
    /// 1-based position in the template source (or JSON text); 0 when unknown.
    public let line: Int
    public let column: Int

    public init(_ kind: Kind, _ message: String, line: Int = 0, column: Int = 0) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        let place = line > 0 ? " at line \(line), column \(column)" : ""
        switch kind {
        case .syntax:
            return "chat template syntax error\(place): \(message); fix the template (if Python jinja2 accepts it, "
                + "Tailor's Jinja subset lacks the feature: please report it)"
        case .raised:
            return "chat template rejected the conversation\(place): \(message); send messages in the shape "
                + "this model's template expects"
        case .undefined, .type:
            return "chat template failed\(place): \(message); check the messages' fields and types against what "
                + "this model's template reads"
        case .security:
            return "chat template did something the sandbox forbids\(place): \(message); transformers refuses "
                + "this template too, so use a fixed template"
        case .unsupported:
            return "chat template uses a feature Tailor does not support\(place): \(message); use a template "
                + "without it, or report it"
        case .json:
            return "invalid JSON\(place): \(message); send well-formed JSON"
        }
    }

    func located(_ location: SourceLocation) -> TemplateError {
        line > 0 ? self : TemplateError(kind, message, line: location.line, column: location.column)
    }
}

/// A 1-based line and column (in Unicode scalars) in the template source.
struct SourceLocation: Sendable, Equatable {
    var line: Int
    var column: Int
}
