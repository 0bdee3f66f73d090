// Tool calling as OpenAI defines it on /v1/chat/completions: `tools` (functions with JSON Schema parameters),
// `tool_choice` (none, auto, required, a named function) and `parallel_tool_calls`, turned into the tools the chat
// template renders and the grammar the answer is held to (ToolCallGrammar over the model's ToolFormat); and the
// generated text read back into `message.tool_calls` / streamed `tool_calls` deltas. A `strict` function's
// parameters are enforced exactly or refused by keyword; a non-strict one's are enforced when Tailor can, and are
// otherwise any JSON object.
import Foundation
import TailorEngine
import TailorGrammar
import TailorHTTP
import TailorJobs
import TailorTemplates

struct ToolRequest {
    enum Choice: Equatable { case none, auto, required, named(String) }

    /// OpenAI's tool objects, key order kept, for the template.
    let tools: [TemplateValue]
    let choice: Choice
    let parallel: Bool
    /// What holds the answer to calls (or to text where the choice allows it).
    let constraint: OutputConstraint

    /// The request's tools, or nil when it has none. `format` is the request's response_format (the answer's text
    /// branch when the model may answer instead of calling).
    static func parse(_ body: RequestBody, ordered: TailorGrammar.JSONValue?, format: StructuredOutput.Format?,
                      model: LanguageModel, services: Services) throws -> ToolRequest? {
        if body.raw("functions") != nil || body.raw("function_call") != nil {
            throw APIError.invalid(body.raw("functions") != nil ? "functions" : "function_call",
                                   "'functions' and 'function_call' are deprecated; send 'tools' and 'tool_choice' instead.", code: "unsupported_parameter")
        }
        let rawTools = body.raw("tools")
        let hasTools = (rawTools as? [Any]).map { !$0.isEmpty } ?? false
        if !hasTools {
            if rawTools != nil && !(rawTools is [Any]) && !(rawTools is NSNull) {
                throw APIError.invalid("tools", "'tools' must be an array of tools.", code: "invalid_type")
            }
            for key in ["tool_choice", "parallel_tool_calls"] where body.raw(key) != nil && !(body.raw(key) is NSNull) {
                throw APIError.invalid(key, "Invalid value for '\(key)': '\(key)' is only allowed when 'tools' are specified.")
            }
            return nil
        }
        guard case .array(let orderedTools)? = ordered?["tools"],
              case .array(let tools) = try TemplateValue(json: TailorGrammar.JSONValue.array(orderedTools).pythonText)
        else { throw APIError.invalid("tools", "'tools' must be an array of tools.", code: "invalid_type") }
        guard tools.count <= 128 else { throw APIError.invalid("tools", "'tools' may hold at most 128 tools; it holds \(tools.count).", code: "array_above_max_length") }
        if let p = ToolFormat.problem(inTools: tools) {
            throw APIError.invalid("tools[\(p.index)]\(p.path)", "Invalid 'tools[\(p.index)]\(p.path)': it \(p.message).")
        }
        let names = tools.map { $0.functionField("name")?.stringValue ?? "" }

        var choice = Choice.auto
        switch body.raw("tool_choice") {
        case nil, is NSNull: break
        case let s as String:
            switch s {
            case "none": choice = .none
            case "auto": choice = .auto
            case "required": choice = .required
            default: throw APIError.invalid("tool_choice", "Invalid value: '\(s)'. Supported values are: 'none', 'auto' and 'required'.")
            }
        case let o as [String: Any]:
            guard o["type"] as? String == "function", let f = o["function"] as? [String: Any], let name = f["name"] as? String else {
                throw APIError.invalid("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
            }
            guard names.contains(name) else {
                throw APIError.invalid("tool_choice", "Invalid value for 'tool_choice': function '\(name)' is not one of the functions in 'tools' (\(names.joined(separator: ", "))).")
            }
            choice = .named(name)
        default:
            throw APIError.invalid("tool_choice", "'tool_choice' must be a string or an object.", code: "invalid_type")
        }
        let parallel = try body.bool("parallel_tool_calls") ?? true

        let constraint = try grammar(orderedTools, names: names, choice: choice, parallel: parallel, format: format, model: model, services: services)
        return ToolRequest(tools: tools, choice: choice, parallel: parallel, constraint: constraint)
    }

    private static func grammar(_ tools: [TailorGrammar.JSONValue], names: [String], choice: Choice, parallel: Bool,
                                format: StructuredOutput.Format?, model: LanguageModel, services: Services) throws -> OutputConstraint {
        let text: ToolCallGrammar.Text
        switch choice {
        case .none, .auto: text = format.map { .schema($0.schema) } ?? .free
        case .required, .named: text = .none
        }
        // Functions the answer may call, each with the parameters it is held to (nil: any object).
        var functions: [ToolCallGrammar.Function] = []
        var strict: [Bool] = []
        for (i, tool) in tools.enumerated() where choice != .none {
            if case .named(let n) = choice, names[i] != n { continue }
            let f = tool["function"]
            functions.append(ToolCallGrammar.Function(name: names[i], parameters: f?["parameters"]))
            strict.append(f?["strict"] == .bool(true))
        }
        let maxCalls = parallel ? nil : 1
        func key(_ fs: [ToolCallGrammar.Function]) -> String {
            let spec = TailorGrammar.JSONValue.array(fs.map { .array([.string($0.name), $0.parameters ?? .null]) })
            let mode: String
            switch text {
            case .none: mode = "calls"
            case .free: mode = "free"
            case .schema(let s): mode = "schema:" + s.pythonText
            }
            return "tools:\(maxCalls ?? 0):\(mode):" + spec.pythonText
        }
        func compile(_ fs: [ToolCallGrammar.Function]) throws -> OutputConstraint {
            try services.grammars.constraint(key: key(fs), model: model) {
                if fs.isEmpty {   // tool_choice none: anything but a call
                    if case .schema(let s) = text { return try JSONSchemaGrammar.compile(schema: s) }
                    return try ToolCallGrammar.textOnly(notStartingWith: ToolFormat.open)
                }
                return try ToolCallGrammar.compile(functions: fs, open: ToolFormat.open, close: ToolFormat.close,
                                                   separator: ToolFormat.separator, maxCalls: maxCalls, text: text)
            }
        }
        do {
            return try compile(functions)
        } catch let refusal as ToolCallGrammar.Refusal {
            guard let i = refusal.function else {
                if let format { throw StructuredOutput.refusal(format, refusal.error) }
                throw APIError.invalid("tools", "Tailor cannot build a grammar for these tools: \(refusal.error)", code: "invalid_function_parameters")
            }
            // A strict function's schema is enforced exactly or refused; a non-strict one is then any object.
            let index = names.firstIndex(of: functions[i].name)!
            if strict[i] {
                throw APIError.invalid("tools[\(index)].function.parameters",
                                       "Invalid schema for function '\(functions[i].name)': \(refusal.error)", code: "invalid_function_parameters")
            }
            var relaxed = functions
            relaxed[i].parameters = nil
            for j in relaxed.indices where !strict[j] && j != i {
                // Another non-strict schema may fail too; relax every one that does not compile on its own.
                if (try? JSONSchemaGrammar.compile(schema: relaxed[j].parameters ?? .bool(true))) == nil { relaxed[j].parameters = nil }
            }
            do { return try compile(relaxed) } catch let r as ToolCallGrammar.Refusal {
                let name = r.function.map { relaxed[$0].name } ?? "?"
                let index = names.firstIndex(of: name) ?? 0
                throw APIError.invalid("tools[\(index)].function.parameters", "Invalid schema for function '\(name)': \(r.error)", code: "invalid_function_parameters")
            }
        }
    }

    // MARK: answers

    /// One choice's answer as OpenAI's message fields: content and tool_calls.
    static func message(_ text: String, reason: FinishReason?) -> (content: JSONValue, toolCalls: [JSONValue], finish: String) {
        let scan = ToolCallScanner.read(text)
        let finish = (reason ?? .stop).rawValue
        // A call cut short by max_tokens has arguments that do not parse; only whole calls are returned.
        let whole = scan.calls.filter(\.isComplete)
        guard !whole.isEmpty else { return (.string(text), [], finish) }
        let calls = whole.map { call in callJSON(id: Ids.make("call_"), name: call.name, arguments: call.arguments) }
        return (.null, calls, reason == nil || reason == .stop ? "tool_calls" : finish)
    }

    static func callJSON(id: String, name: String, arguments: String) -> JSONValue {
        .object([("id", .string(id)), ("type", "function"), ("function", .object([("name", .string(name)), ("arguments", .string(arguments))]))])
    }
}

private extension TemplateValue {
    func functionField(_ key: String) -> TemplateValue? {
        guard case .dict(let d) = self, case .dict(let f)? = d["function"] else { return nil }
        return f[key]
    }
}
