// `response_format` as OpenAI defines it — text, json_object, json_schema {name, schema, strict} — turned into the
// constraint the inference service enforces token by token. A schema Tailor cannot enforce exactly is refused here,
// naming the keyword and where it sits; it is never enforced in part. Not here: tools (not supported yet).
import TailorGrammar
import TailorHTTP
import TailorJobs
import TailorEngine

enum StructuredOutput {
    /// The request's constraint, or nil for plain text. `messagesText` is what the prompt says (json_object needs the
    /// word "json" in it, as OpenAI requires, since the model must be told to write JSON).
    static func constraint(_ body: RequestBody, _ request: HTTPRequest, model: LanguageModel, services: Services,
                           messagesText: String?) throws -> OutputConstraint? {
        guard let format = try body.object("response_format") else { return nil }
        let type = try format.requiredString("type")
        func anyObject() throws -> OutputConstraint {
            try services.grammars.constraint(key: "json_object", model: model) { try JSONSchemaGrammar.anyObject() }
        }
        switch type {
        case "text":
            return nil
        case "json_object":
            if let text = messagesText, !text.lowercased().contains("json") {
                throw APIError.invalid("messages", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
            }
            return try anyObject()
        case "json_schema":
            guard let spec = try format.object("json_schema") else { throw APIError.missing("response_format.json_schema") }
            let name = try spec.requiredString("name")
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw APIError.invalid("response_format.json_schema.name", "'response_format.json_schema.name' must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.")
            }
            // Re-read in order from the raw body: property order is part of the grammar, and numbers keep their text.
            guard case .bytes(let raw) = request.body, let schema = (try? TailorGrammar.JSONValue(parsing: raw))?["response_format"]?["json_schema"]?["schema"] else {
                // No schema: any JSON object, as OpenAI treats a json_schema without one.
                return try anyObject()
            }
            do {
                return try services.grammars.constraint(key: "schema:" + schema.pythonText, model: model) {
                    try JSONSchemaGrammar.compile(schema: schema)
                }
            } catch let e as GrammarError {
                throw APIError.invalid("response_format", "Invalid schema for response_format '\(name)': \(e)", code: "invalid_json_schema")
            }
        default:
            throw APIError.invalid("response_format.type", "'response_format.type' must be 'text', 'json_object' or 'json_schema'; got '\(type)'.")
        }
    }
}
