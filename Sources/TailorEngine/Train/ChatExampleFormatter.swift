// One chat example → tokens and loss mask. The conversation is rendered with the model's own template; each
// assistant turn's span is found by rendering the conversation up to it with and without the turn, and its tokens
// (through the end-of-turn token, never the template's trailing newline) carry loss unless the turn has weight 0.
// A line's `tools` and its assistants' `tool_calls` are checked (names, JSON arguments, answered call ids) and
// rendered in the model's tool format, as serving renders them; an assistant's calls are part of its trained span.
import Foundation
import TailorTemplates

enum ChatExampleFormatter {
    static let roles: Set<String> = ["system", "user", "assistant", "tool", "function"]
    static let messageKeys: Set<String> = ["role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"]

    static func format(_ o: [String: Any], tools: [TemplateValue]?, line: Int, model: LanguageModel, specials: [String]) throws -> TrainingExample {
        guard let raw = o["messages"] as? [Any] else {
            throw DatasetIssue(.missingMessages, line: line, "\"messages\" must be a list of messages")
        }
        guard !raw.isEmpty else { throw DatasetIssue(.missingMessages, line: line, "\"messages\" is empty") }
        var messages: [ChatMessage] = []
        var trained: [Bool] = []
        for (i, item) in raw.enumerated() {
            let (message, weight) = try parseMessage(item, line: line, index: i + 1, specials: specials)
            messages.append(message)
            trained.append(message.role == "assistant" && weight)
        }
        try checkOrder(messages, line: line)
        try checkToolCalls(messages, tools: tools, line: line)
        if let tools { try Dataset.checkNoSpecialTokens(TemplateValue.array(tools).jsonText, specials, line: line, message: nil) }

        let full: String
        var spans: [(Range<Int>, Bool)] = []   // assistant spans in UTF-8 bytes, and whether they carry loss
        do {
            full = try model.renderChat(messages, tools: tools, addGenerationPrompt: false)
            for (i, m) in messages.enumerated() where m.role == "assistant" {
                let before = try model.renderChat(Array(messages[..<i]), tools: tools, addGenerationPrompt: true)
                let through = try model.renderChat(Array(messages[...i]), tools: tools, addGenerationPrompt: false)
                guard through.hasPrefix(before), full.hasPrefix(through) else {
                    throw DatasetIssue(.templateError, line: line, message: i + 1,
                        "the model's chat template renders this conversation differently as it grows, so the assistant text cannot be located; Tailor cannot train this model on chat data")
                }
                spans.append((before.utf8.count..<through.utf8.count, trained[i]))
            }
        } catch let issue as DatasetIssue {
            throw issue
        } catch {
            throw DatasetIssue(.templateError, line: line, "the model's chat template rejected the conversation: \(error)")
        }

        let tokens = model.tokenize(rendered: full)
        let offsets = try byteOffsets(tokens, model.tokenizer, textBytes: full.utf8.count, line: line)
        var mask = [Bool](repeating: false, count: tokens.count)
        for (span, weighted) in spans where weighted {
            var j = offsets.firstIndex { $0.upperBound > span.lowerBound } ?? tokens.count
            while j < tokens.count && offsets[j].lowerBound < span.upperBound {
                mask[j] = true
                if model.tokenizer.endOfTurnTokens.contains(tokens[j]) { break }
                j += 1
            }
        }
        return TrainingExample(line: line, tokens: tokens, lossMask: mask)
    }

    /// Each token's byte range in the rendered text. Tokens added in front of the text (BOS, a SentencePiece prefix
    /// space) get empty ranges at 0.
    static func byteOffsets(_ tokens: [Int], _ t: Tokenizer, textBytes: Int, line: Int) throws -> [Range<Int>] {
        let lengths = tokens.map { t.tokenBytes($0).count }
        var extra = lengths.reduce(0, +) - textBytes
        guard extra >= 0 else {
            throw DatasetIssue(.templateError, line: line, "the tokenizer dropped text while encoding this example")
        }
        var offsets: [Range<Int>] = []
        var position = 0
        for n in lengths {
            let skipped = min(extra, n)   // bytes that are not in the text (BOS, prefix space)
            extra -= skipped
            offsets.append(position..<(position + n - skipped))
            position += n - skipped
        }
        return offsets
    }

    static func parseMessage(_ item: Any, line: Int, index: Int, specials: [String]) throws -> (ChatMessage, Bool) {
        guard let m = item as? [String: Any] else {
            throw DatasetIssue(.badMessage, line: line, message: index, "is not an object")
        }
        guard let role = m["role"] as? String else {
            throw DatasetIssue(.badMessage, line: line, message: index, "has no \"role\"")
        }
        guard roles.contains(role) else {
            throw DatasetIssue(.unknownRole, line: line, message: index,
                               "has an unrecognized role \"\(role)\"; use system, user, assistant or tool")
        }
        if let extra = m.keys.first(where: { !messageKeys.contains($0) }) {
            throw DatasetIssue(.badMessage, line: line, message: index, "has an unrecognized key \"\(extra)\"")
        }
        var weight = true
        if let w = m["weight"] {
            guard role == "assistant" else {
                throw DatasetIssue(.badWeight, line: line, message: index, "has a \"weight\", which only assistant messages may have")
            }
            // JSON true/false arrive as NSNumber too; their objCType is "c" (char), a number's is "i", "q" or "d".
            guard let n = w as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue == 0 || n.doubleValue == 1 else {
                throw DatasetIssue(.badWeight, line: line, message: index, "\"weight\" must be 0 or 1")
            }
            weight = n.doubleValue == 1
        }
        let text = try contentText(m["content"], line: line, index: index)
        let toolCalls = try parseToolCalls(m["tool_calls"], line: line, index: index)
        if !toolCalls.isEmpty && role != "assistant" {
            throw DatasetIssue(.badToolCall, line: line, message: index, "has \"tool_calls\", which only assistant messages may have")
        }
        for call in toolCalls { try Dataset.checkNoSpecialTokens(call.arguments.jsonText, specials, line: line, message: index) }
        if (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && toolCalls.isEmpty {
            throw DatasetIssue(.missingContent, line: line, message: index, "has empty content")
        }
        if let text { try Dataset.checkNoSpecialTokens(text, specials, line: line, message: index) }
        let message = ChatMessage(role: role, content: text.map(TemplateValue.string) ?? .none, toolCalls: toolCalls,
                                  toolCallID: m["tool_call_id"] as? String, name: m["name"] as? String)
        return (message, weight)
    }

    /// A string, or a list of text parts joined (OpenAI's content-part form); nil when absent or null.
    static func contentText(_ value: Any?, line: Int, index: Int) throws -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let s as String: return s
        case let parts as [Any]:
            return try parts.map { part -> String in
                guard let p = part as? [String: Any], (p["type"] as? String) == "text", let t = p["text"] as? String else {
                    throw DatasetIssue(.badMessage, line: line, message: index, "has a content part that is not text")
                }
                return t
            }.joined()
        default:
            throw DatasetIssue(.badMessage, line: line, message: index, "\"content\" must be a string")
        }
    }

    /// OpenAI's `tool_calls`: [{"id", "type": "function", "function": {"name", "arguments": JSON text of an object}}].
    static func parseToolCalls(_ value: Any?, line: Int, index: Int) throws -> [ToolCall] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else {
            throw DatasetIssue(.badToolCall, line: line, message: index, "\"tool_calls\" must be a list")
        }
        return try list.enumerated().map { j, item in
            switch ToolFormat.call(fromOpenAI: item) {
            case .success(let call): return call
            case .failure(let p): throw DatasetIssue(.badToolCall, line: line, message: index, "tool call \(j + 1) \(p.message)")
            }
        }
    }

    /// The line's tools, read from the line's text so that key order is kept (templates print tools as written);
    /// nil when the line has none (`text` nil).
    static func tools(_ text: String?, at path: [String], line: Int) throws -> [TemplateValue]? {
        guard let text else { return nil }
        var value = try? TemplateValue(json: text)
        for key in path { if case .dict(let d)? = value { value = d[key] } else { value = nil } }
        guard let value, value != .none else { return nil }
        guard case .array(let list) = value else { throw DatasetIssue(.badTools, line: line, "\"tools\" must be a list of tools") }
        if let p = ToolFormat.problem(inTools: list) {
            throw DatasetIssue(.badTools, line: line, "tools[\(p.index)]\(p.path) \(p.message)")
        }
        return list.isEmpty ? nil : list
    }

    /// Calls name a listed tool (when the line lists tools); every tool message answers an earlier call of the turn
    /// before it, and every call of an assistant turn followed by tool messages is answered.
    static func checkToolCalls(_ messages: [ChatMessage], tools: [TemplateValue]?, line: Int) throws {
        let names: Set<String>? = tools.map { Set($0.compactMap { t in
            if case .dict(let d) = t, case .dict(let f)? = d["function"] { return f["name"]?.stringValue }
            return nil
        }) }
        var open: [String] = []   // call ids of the last assistant turn not yet answered
        for (i, m) in messages.enumerated() {
            switch m.role {
            case "assistant":
                if let names, let unknown = m.toolCalls.first(where: { !names.contains($0.name) }) {
                    throw DatasetIssue(.badToolCall, line: line, message: i + 1, "calls '\(unknown.name)', which is not one of the line's tools")
                }
                if !open.isEmpty {
                    throw DatasetIssue(.badToolCall, line: line, message: i,
                                       "leaves tool call(s) \(open.joined(separator: ", ")) without a tool message answering them")
                }
                open = m.toolCalls.map(\.id)
                if Set(open).count != open.count {
                    throw DatasetIssue(.badToolCall, line: line, message: i + 1, "has two tool calls with the same id")
                }
            case "tool":
                guard let id = m.toolCallID else {
                    throw DatasetIssue(.badToolCall, line: line, message: i + 1, "is a tool message without a \"tool_call_id\"")
                }
                guard let k = open.firstIndex(of: id) else {
                    throw DatasetIssue(.badToolCall, line: line, message: i + 1,
                                       "answers tool_call_id '\(id)', which no unanswered tool call of the assistant message before it has")
                }
                open.remove(at: k)
            default:
                if !open.isEmpty {
                    throw DatasetIssue(.badToolCall, line: line, message: i + 1,
                                       "comes before tool call(s) \(open.joined(separator: ", ")) have a tool message answering them")
                }
            }
        }
    }

    /// System messages first; then a user turn before any assistant turn; the example ends with an assistant turn.
    static func checkOrder(_ messages: [ChatMessage], line: Int) throws {
        var seenUser = false, seenOther = false
        for (i, m) in messages.enumerated() {
            switch m.role {
            case "system":
                if seenOther {
                    throw DatasetIssue(.roleOrder, line: line, message: i + 1, "is a system message after the conversation started; put system messages first")
                }
            case "user": seenUser = true; seenOther = true
            case "assistant":
                if !seenUser {
                    throw DatasetIssue(.roleOrder, line: line, message: i + 1, "is an assistant message before any user message")
                }
                seenOther = true
            default: seenOther = true
            }
        }
        guard messages.contains(where: { $0.role == "assistant" }) else {
            throw DatasetIssue(.noAssistant, line: line, "has no assistant message to learn from")
        }
        if let last = messages.last, last.role == "user" {
            throw DatasetIssue(.trailingUser, line: line, message: messages.count,
                               "ends with a user message that no assistant message answers; remove it or add the answer")
        }
    }
}
