// `response_format` as OpenAI defines it — text, json_object, json_schema {name, schema, strict} — turned into the
// constraint the inference service enforces token by token. A schema Tailor cannot enforce exactly is refused here,
// naming the keyword and where it sits; it is never enforced in part. Beside `tools` the format becomes the text
// branch of the tool grammar instead (ToolCalling.swift).
import TailorGrammar
import TailorHTTP
import TailorJobs
import TailorEngine

enum StructuredOutput {
    /// What the answer must be, when not plain text.
    enum Format {
        case jsonObject
        /// A named schema; nil for a json_schema without one (any object, as OpenAI treats it).
        case jsonSchema(name: String, schema: TailorGrammar.JSONValue?)

        /// The schema an answer must satisfy.
        var schema: TailorGrammar.JSONValue {
            if case .jsonSchema(_, let s?) = self { return s }
            return .object([("type", .string("object"))])
        }
    }

    /// The body's ordered JSON (property order is part of the grammar, and numbers keep their text).
    static func orderedBody(_ request: HTTPRequest) -> TailorGrammar.JSONValue? {
        guard case .bytes(let raw) = request.body else { return nil }
        return try? TailorGrammar.JSONValue(parsing: raw)
    }

    /// The request's format, or nil for plain text. `messagesText` is what the prompt says (json_object needs the
    /// word "json" in it, as OpenAI requires, since the model must be told to write JSON).
    static func format(_ body: RequestBody, ordered: TailorGrammar.JSONValue?, messagesText: String?) throws -> Format? {
        guard let format = try body.object("response_format") else { return nil }
        let type = try format.requiredString("type")
        switch type {
        case "text":
            return nil
        case "json_object":
            if let text = messagesText, !text.lowercased().contains("json") {
                throw APIError.invalid("messages", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
            }
            return .jsonObject
        case "json_schema":
            guard let spec = try format.object("json_schema") else { throw APIError.missing("response_format.json_schema") }
            let name = try spec.requiredString("name")
            guard ToolFormat.nameProblem(name) == nil else {
                throw APIError.invalid("response_format.json_schema.name", "'response_format.json_schema.name' must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.")
            }
            return .jsonSchema(name: name, schema: ordered?["response_format"]?["json_schema"]?["schema"])
        default:
            throw APIError.invalid("response_format.type", "'response_format.type' must be 'text', 'json_object' or 'json_schema'; got '\(type)'.")
        }
    }

    /// The compiled constraint for `format` on `model`'s vocabulary (compiled once per schema).
    static func constraint(_ format: Format, model: LanguageModel, services: Services) throws -> OutputConstraint {
        let schema = format.schema
        do {
            return try services.grammars.constraint(key: "schema:" + schema.pythonText, model: model) {
                try JSONSchemaGrammar.compile(schema: schema)
            }
        } catch let e as GrammarError {
            throw refusal(format, e)
        }
    }

    static func refusal(_ format: Format, _ e: GrammarError) -> APIError {
        var name = ""
        if case .jsonSchema(let n, _) = format { name = n }
        return APIError.invalid("response_format", "Invalid schema for response_format '\(name)': \(e)", code: "invalid_json_schema")
    }

    /// The request's constraint, or nil for plain text (no tools).
    static func constraint(_ body: RequestBody, _ request: HTTPRequest, model: LanguageModel, services: Services,
                           messagesText: String?) throws -> OutputConstraint? {
        try format(body, ordered: orderedBody(request), messagesText: messagesText).map { try constraint($0, model: model, services: services) }
    }
}
