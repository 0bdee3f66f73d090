// How tools reach a model and how its calls come back, both directions side by side. Tailor writes and reads one call
// syntax, the Hermes/Qwen one:
//
//     <tool_call>
//     {"name": "get_weather", "arguments": {"city": "Paris"}}
//     </tool_call>
//
// A chat template that already renders tools and calls exactly so (Qwen2.5/3, Hermes 2/3, Granite 4, …) is used as
// it is: `native`. Any other template gets Tailor's default, `tailor`: the tool list goes into the system message in
// Qwen2.5's words, an assistant's calls are written into its content in the syntax above, and tool results become a
// user turn in <tool_response> tags. Training and serving both render through `LanguageModel.renderChat`, so a model
// is trained on exactly the text it is served with. Not here: the grammar that keeps generated calls well-formed
// (TailorGrammar.ToolCallGrammar) and OpenAI's wire shapes (TailorAPI).
import Foundation
import TailorTemplates

public enum ToolFormat: String, Sendable {
    case native
    case tailor

    public static let open = "<tool_call>\n"
    public static let close = "\n</tool_call>"
    public static let separator = "\n"

    // MARK: rendering

    /// One call as the model writes it.
    public static func callText(_ call: ToolCall) -> String {
        let object: TemplateValue = ["name": .string(call.name), "arguments": call.arguments]
        return open + object.jsonText + close
    }

    /// The system-prompt section listing the tools (Qwen2.5's wording, so models trained on it recognise it).
    static func toolsSection(_ tools: [TemplateValue]) -> String {
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
            + tools.map { "\n" + $0.jsonText }.joined()
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
            + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
    }

    /// The messages and tools as this format hands them to the template.
    func prepare(_ messages: [ChatMessage], tools: [TemplateValue]?) -> (messages: [ChatMessage], tools: [TemplateValue]?) {
        if self == .native {
            // A call-only turn has no content; templates mostly treat content as a string ("'</think>' in
            // message.content"), so it is given as "" rather than None.
            return (messages.map { m in
                guard m.role == "assistant", m.content == .none, !m.toolCalls.isEmpty else { return m }
                var m = m
                m.content = .string("")
                return m
            }, tools)
        }
        var out: [ChatMessage] = []
        var rest = messages[...]
        if let tools, !tools.isEmpty {
            let section = Self.toolsSection(tools)
            if let first = rest.first, first.role == "system", let text = first.content.stringValue {
                var m = first
                m.content = .string(text.isEmpty ? section : text + "\n\n" + section)
                out.append(m)
                rest = rest.dropFirst()
            } else {
                out.append(.system(section))
            }
        }
        var previousWasTool = false
        for m in rest {
            switch m.role {
            case "assistant" where !m.toolCalls.isEmpty:
                let text = m.content.stringValue ?? ""
                let calls = m.toolCalls.map(Self.callText).joined(separator: Self.separator)
                out.append(ChatMessage(role: "assistant", content: .string(text.isEmpty ? calls : text + "\n" + calls)))
            case "tool":
                let response = "<tool_response>\n" + (m.content.stringValue ?? "") + "\n</tool_response>"
                if previousWasTool, let last = out.last, case .string(let text) = last.content {
                    out[out.count - 1].content = .string(text + "\n" + response)
                } else {
                    out.append(.user(response))
                }
            default:
                out.append(m)
            }
            previousWasTool = m.role == "tool"
        }
        return (out, nil)
    }

    /// `native` when the template writes tools and calls in the syntax Tailor reads, checked by rendering a probe
    /// conversation (the way llama.cpp detects template capabilities); otherwise `tailor`.
    static func detect(_ template: ChatTemplate, bos: String, eos: String) -> ToolFormat {
        let tool: TemplateValue = ["type": "function", "function": [
            "name": "tailor_probe_tool", "description": "Probe.",
            "parameters": ["type": "object", "properties": ["q": ["type": "string"]], "required": ["q"]]]]
        let call = ToolCall(id: "call_tailorprobe", name: "tailor_probe_call", arguments: ["q": "x"])
        let probe = [ChatMessage.user("Hi."), ChatMessage(role: "assistant", content: .none, toolCalls: [call]),
                        ChatMessage(role: "tool", content: .string("tailor_probe_result"), toolCallID: call.id, name: call.name)]
        let (messages, tools) = ToolFormat.native.prepare(probe, tools: [tool])
        guard let text = try? template.render(ChatContext(messages: messages, tools: tools, addGenerationPrompt: true,
                                                          bosToken: bos, eosToken: eos))
        else { return .tailor }
        let rendersCall = text.contains(callText(call))
        return rendersCall && text.contains("tailor_probe_tool") && text.contains("tailor_probe_result") ? .native : .tailor
    }

    // MARK: checking tool definitions

    /// The first problem with a list of tool definitions in OpenAI's shape, with the index of the tool it is in.
    public static func problem(inTools tools: [TemplateValue]) -> (index: Int, path: String, message: String)? {
        var seen: Set<String> = []
        for (i, t) in tools.enumerated() {
            guard case .dict(let tool) = t else { return (i, "", "must be an object") }
            guard tool["type"]?.stringValue == "function" else { return (i, ".type", "must be 'function'") }
            guard case .dict(let f)? = tool["function"] else { return (i, ".function", "must be an object") }
            guard let name = f["name"]?.stringValue else { return (i, ".function.name", "is missing") }
            if let problem = nameProblem(name) { return (i, ".function.name", problem) }
            guard seen.insert(name).inserted else { return (i, ".function.name", "repeats the name '\(name)'; tool names must be unique") }
            if let p = f["parameters"] {
                guard case .dict(let schema) = p else { return (i, ".function.parameters", "must be a JSON Schema object") }
                if let type = schema["type"], type != .string("object") {
                    return (i, ".function.parameters.type", "must be 'object': a function's arguments are a JSON object")
                }
            }
            if let s = f["strict"], s != .none, !(s == .bool(true) || s == .bool(false)) {
                return (i, ".function.strict", "must be a boolean")
            }
        }
        return nil
    }

    /// One of OpenAI's `tool_calls` entries — {"id", "type": "function", "function": {"name", "arguments": JSON text
    /// of an object}} — or what is wrong with it (a phrase completing "the tool call …").
    public static func call(fromOpenAI item: Any) -> Result<ToolCall, CallProblem> {
        func bad(_ path: String, _ what: String) -> Result<ToolCall, CallProblem> { .failure(CallProblem(path: path, message: what)) }
        guard let call = item as? [String: Any] else { return bad("", "is not an object") }
        guard let id = call["id"] as? String, !id.isEmpty else { return bad(".id", "has no \"id\" string") }
        if let type = call["type"], type as? String != "function" { return bad(".type", "has a \"type\" other than \"function\"") }
        guard let f = call["function"] as? [String: Any] else { return bad(".function", "has no \"function\" object") }
        guard let name = f["name"] as? String else { return bad(".function.name", "has no function \"name\"") }
        if let problem = nameProblem(name) { return bad(".function.name", "names a function badly: \(problem)") }
        guard let arguments = f["arguments"] as? String else { return bad(".function.arguments", "has no \"arguments\" string (the JSON text of an object)") }
        let parsed = ToolCall(id: id, name: name, argumentsJSON: arguments)
        guard case .dict = parsed.arguments else { return bad(".function.arguments", "has \"arguments\" that are not the JSON text of an object") }
        return .success(parsed)
    }

    public struct CallProblem: Error {
        public let path: String
        public let message: String
    }

    /// OpenAI's rule for function names: 1 to 64 of a-z, A-Z, 0-9, '_' and '-'.
    public static func nameProblem(_ name: String) -> String? {
        let ok = (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
        return ok ? nil : "'\(name)' is not a valid function name: use 1 to 64 of a-z, A-Z, 0-9, '_' and '-'"
    }
}

// MARK: reading calls back

/// What a piece of generated text turned out to be.
public enum ToolCallEvent: Equatable, Sendable {
    /// Plain answer text (the answer did not begin with a call).
    case text(String)
    /// Call `index` began and is to `name`.
    case call(index: Int, name: String)
    /// More of call `index`'s arguments, as JSON text.
    case arguments(index: Int, String)
}

/// Reads generated text incrementally (as it streams) into text or calls in ToolFormat's syntax. Arguments come out
/// as they arrive, so a streamed call's deltas follow the model's pace.
public struct ToolCallScanner: Sendable {
    private enum Mode: Sendable {
        case undecided          // everything so far is a prefix of `open`
        case text
        case head               // after `open`: {"name": "…", "arguments": …
        case arguments(depth: Int, inString: Bool, escaped: Bool)
        case tail               // after the arguments: }, `close`, then `separator` + `open` or the end
    }
    private var mode = Mode.undecided
    private var pending: [UInt8] = []
    public struct Call: Sendable, Equatable {
        public var name: String
        /// JSON text of the arguments, as generated so far.
        public var arguments: String
        /// The call's closing tag was read (a generation cut short by max_tokens leaves the last one incomplete).
        public var isComplete = false
    }
    public private(set) var calls: [Call] = []
    private static let open = Array(ToolFormat.open.utf8)
    private static let afterArguments = Array(("}" + ToolFormat.close).utf8)
    private static let nextCall = Array((ToolFormat.separator + ToolFormat.open).utf8)

    public init() {}


    public static func read(_ text: String) -> ToolCallScanner {
        var s = ToolCallScanner()
        _ = s.feed(text)
        _ = s.finish()
        return s
    }

    public mutating func feed(_ chunk: String) -> [ToolCallEvent] {
        var events: [ToolCallEvent] = []
        pending += Array(chunk.utf8)
        while step(&events) {}
        return events
    }

    /// Ends the output: a partial `open` turns out to have been text.
    public mutating func finish() -> [ToolCallEvent] {
        guard case .undecided = mode, !pending.isEmpty else { return [] }
        mode = .text
        let s = String(decoding: pending, as: UTF8.self)
        pending = []
        return [.text(s)]
    }

    /// Consumes what it can of `pending`; false when it needs more input.
    private mutating func step(_ events: inout [ToolCallEvent]) -> Bool {
        guard !pending.isEmpty else { return false }
        switch mode {
        case .undecided:
            if pending.starts(with: Self.open) {
                pending.removeFirst(Self.open.count)
                mode = .head
                return true
            }
            if Self.open.starts(with: pending) { return false }
            mode = .text
            return true
        case .text:
            let s = String(decoding: pending, as: UTF8.self)
            pending = []
                events.append(.text(s))
            return false
        case .head:
            // {"name": "NAME", "arguments": — with one optional space after each ':' and ','.
            let head = String(decoding: pending, as: UTF8.self)
            guard let range = head.range(of: "\"arguments\":") else { return false }
            let afterKey = head[range.upperBound...]
            guard let first = afterKey.first else { return false }
            let nameText = head[..<range.lowerBound]
            guard let name = Self.name(in: String(nameText)) else { mode = .text; return true }
            let skip = head.utf8.distance(from: head.startIndex, to: range.upperBound) + (first == " " ? 1 : 0)
            pending.removeFirst(skip)
            calls.append(Call(name: name, arguments: ""))
            events.append(.call(index: calls.count - 1, name: name))
            mode = .arguments(depth: 0, inString: false, escaped: false)
            return true
        case .arguments(var depth, var inString, var escaped):
            var end: Int?   // bytes of pending that belong to the arguments, once they are complete
            scan: for (i, b) in pending.enumerated() {
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") {
                        inString = false
                        if depth == 0 { end = i + 1; break scan }
                    }
                    continue
                }
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { end = i; break scan }   // the call object closes: a scalar argument ended
                    depth -= 1
                    if depth == 0 { end = i + 1; break scan }
                default: break
                }
            }
            let taken = end ?? pending.count
            if taken > 0 {
                let s = String(decoding: pending[..<taken], as: UTF8.self)
                calls[calls.count - 1].arguments += s
                events.append(.arguments(index: calls.count - 1, s))
                pending.removeFirst(taken)
            }
            mode = end == nil ? .arguments(depth: depth, inString: inString, escaped: escaped) : .tail
            return end != nil
        case .tail:
            if pending.starts(with: Self.afterArguments) { calls[calls.count - 1].isComplete = true }
            if pending.starts(with: Self.afterArguments + Self.nextCall) {
                pending.removeFirst(Self.afterArguments.count + Self.nextCall.count)
                mode = .head
                return true
            }
            if (Self.afterArguments + Self.nextCall).starts(with: pending) { return false }
            if pending.starts(with: Self.afterArguments) {
                // Anything after a complete call that is not another call is not part of the answer.
                pending = []
                return false
            }
            mode = .text   // malformed: cannot happen under the tool grammar
            return true
        }
    }

    /// The function name in `{"name": "NAME",` (a JSON string without escapes: names are [A-Za-z0-9_-]).
    private static func name(in head: String) -> String? {
        var s = Substring(head)
        for token in ["{", "\"name\"", ":"] {
            guard s.hasPrefix(token) else { return nil }
            s = s.dropFirst(token.count)
            if token == ":" && s.hasPrefix(" ") { s = s.dropFirst() }
        }
        guard s.hasPrefix("\""), let close = s.dropFirst().firstIndex(of: "\"") else { return nil }
        let name = String(s[s.index(after: s.startIndex)..<close])
        var tail = s[s.index(after: close)...]
        guard tail.hasPrefix(",") else { return nil }
        tail = tail.dropFirst()
        if tail.hasPrefix(" ") { tail = tail.dropFirst() }
        return tail.isEmpty ? name : nil
    }
}
