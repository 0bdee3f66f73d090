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
    /// The same, as the grammar engine reads them (numbers keep their text).
    let orderedTools: [TailorGrammar.JSONValue]
    let names: [String]
    let choice: Choice
    let parallel: Bool

    /// The request's tools, checked, or nil when it has none. Needs no model: what depends on one is `constraint`.
    static func parse(_ body: RequestBody, ordered: TailorGrammar.JSONValue?) throws -> ToolRequest? {
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
              case .array(let tools)? = try? TemplateValue(json: TailorGrammar.JSONValue.array(orderedTools).pythonText)
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
        return ToolRequest(tools: tools, orderedTools: orderedTools, names: names, choice: choice, parallel: parallel)
    }

    /// What holds the answer to calls (or to text where the choice allows it) on `model`'s vocabulary, compiled once
    /// per distinct request shape. `format` is the request's response_format: the answer's text branch when the
    /// model may answer instead of calling.
    func constraint(format: StructuredOutput.Format?, model: LanguageModel, services: Services) throws -> OutputConstraint {
        let spec = TailorGrammar.JSONValue.array(orderedTools.map { $0["function"].map { f in
            .array([f["name"] ?? .null, f["parameters"] ?? .null, f["strict"] ?? .null]) } ?? .null })
        var key = "tools:\(parallel):\(choice):" + spec.pythonText
        if let format { key += ":format:" + format.schema.pythonText }
        return try services.grammars.constraint(key: key, model: model) { try grammar(format: format) }
    }

    /// The grammar of this request's answers. A strict function's parameters are enforced exactly or refused (400
    /// naming it); a non-strict one whose schema Tailor cannot enforce is any JSON object.
    func grammar(format: StructuredOutput.Format?) throws -> CompiledGrammar {
        let text: ToolCallGrammar.Text
        switch choice {
        case .none, .auto: text = format.map { .schema($0.schema) } ?? .free
        case .required, .named: text = .none
        }
        // Functions the answer may call, each with the parameters it is held to (nil: any object).
        var functions: [ToolCallGrammar.Function] = []
        var strict: [Bool] = []
        for (i, tool) in orderedTools.enumerated() where choice != .none {
            if case .named(let n) = choice, names[i] != n { continue }
            let f = tool["function"]
            functions.append(ToolCallGrammar.Function(name: names[i], parameters: f?["parameters"]))
            strict.append(f?["strict"] == .bool(true))
        }
        let maxCalls = parallel ? nil : 1
        func compile(_ fs: [ToolCallGrammar.Function]) throws -> CompiledGrammar {
            if fs.isEmpty {   // tool_choice none: anything but a call
                if case .schema(let s) = text { return try JSONSchemaGrammar.compile(schema: s) }
                return try ToolCallGrammar.textOnly(notStartingWith: ToolFormat.open)
            }
            return try ToolCallGrammar.compile(functions: fs, open: ToolFormat.open, close: ToolFormat.close,
                                               separator: ToolFormat.separator, maxCalls: maxCalls, text: text)
        }
        func refusal(_ name: String, _ e: GrammarError) -> APIError {
            APIError.invalid("tools[\(names.firstIndex(of: name) ?? 0)].function.parameters",
                             "Invalid schema for function '\(name)': \(e)", code: "invalid_function_parameters")
        }
        do {
            return try compile(functions)
        } catch let e as GrammarError {
            if let format { throw StructuredOutput.refusal(format, e) }   // the text schema alone (tool_choice none)
            throw APIError.invalid("tools", "Tailor cannot build a grammar for these tools: \(e)", code: "invalid_function_parameters")
        } catch let r as ToolCallGrammar.Refusal {
            guard let i = r.function else {
                if let format { throw StructuredOutput.refusal(format, r.error) }
                throw APIError.invalid("tools", "Tailor cannot build a grammar for these tools: \(r.error)", code: "invalid_function_parameters")
            }
            if strict[i] { throw refusal(functions[i].name, r.error) }
            // Relax every non-strict function whose schema does not compile on its own, then try again.
            var relaxed = functions
            for j in relaxed.indices where !strict[j] {
                if j == i || (try? JSONSchemaGrammar.compile(schema: relaxed[j].parameters ?? .bool(true))) == nil { relaxed[j].parameters = nil }
            }
            do { return try compile(relaxed) } catch let r as ToolCallGrammar.Refusal {
                throw refusal(r.function.map { relaxed[$0].name } ?? "?", r.error)
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
