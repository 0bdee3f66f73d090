// ChatContext: the variables a chat template expects, built the way transformers' apply_chat_template builds them
// (tools and documents are None when absent, tool-call arguments are objects). Not OpenAI's wire types.

public struct ChatContext: Sendable {
    public var messages: [ChatMessage]
    /// Tool definitions in OpenAI's `{"type": "function", "function": {...}}` shape; nil renders as `none`.
    public var tools: [TemplateValue]?
    public var documents: [TemplateValue]?
    public var addGenerationPrompt: Bool
    public var bosToken: String
    public var eosToken: String
    /// Further template switches, e.g. `enable_thinking` or `date_string`; they override the fields above.
    public var extra: [String: TemplateValue]

    public init(messages: [ChatMessage], tools: [TemplateValue]? = nil, documents: [TemplateValue]? = nil,
                addGenerationPrompt: Bool = true, bosToken: String = "", eosToken: String = "",
                extra: [String: TemplateValue] = [:]) {
        self.messages = messages
        self.tools = tools
        self.documents = documents
        self.addGenerationPrompt = addGenerationPrompt
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.extra = extra
    }

    public var variables: [String: TemplateValue] {
        var variables: [String: TemplateValue] = [
            "messages": .array(messages.map(\.templateValue)),
            "tools": tools.map(TemplateValue.array) ?? .none,
            "documents": documents.map(TemplateValue.array) ?? .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        variables.merge(extra) { _, new in new }
        return variables
    }
}

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    /// A string, `.none` (an assistant turn that only calls tools), or an array of content parts.
    public var content: TemplateValue
    public var toolCalls: [ToolCall]
    /// For `role == "tool"`: which call this answers.
    public var toolCallID: String?
    public var name: String?
    /// Fields some templates read beyond the usual ones (e.g. `reasoning_content`), added after them in order.
    public var extra: TemplateDictionary

    public init(role: String, content: TemplateValue, toolCalls: [ToolCall] = [], toolCallID: String? = nil,
                name: String? = nil, extra: TemplateDictionary = [:]) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
        self.extra = extra
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: "system", content: .string(text)) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: "user", content: .string(text)) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: "assistant", content: .string(text)) }

    /// The message as templates see it: role, content, then tool_calls / tool_call_id / name only when present.
    public var templateValue: TemplateValue {
        var keys = ["role", "content"]
        var values: [TemplateValue] = [.string(role), content]
        if !toolCalls.isEmpty {
            keys.append("tool_calls")
            values.append(.array(toolCalls.map(\.templateValue)))
        }
        if let toolCallID {
            keys.append("tool_call_id")
            values.append(.string(toolCallID))
        }
        if let name {
            keys.append("name")
            values.append(.string(name))
        }
        var dict = TemplateDictionary(uniqueKeys: keys, values: values)
        for (key, value) in zip(extra.keys, extra.values) { dict[key] = value }
        return .dict(dict)
    }
}

public struct ToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    /// An object, as transformers expects; see `init(id:name:argumentsJSON:)` for OpenAI's JSON-string form.
    public var arguments: TemplateValue

    public init(id: String, name: String, arguments: TemplateValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// OpenAI sends arguments as JSON text; templates print them with `tojson`, so a JSON object is parsed
    /// (keeping key order) and anything else is passed on as the original string.
    public init(id: String, name: String, argumentsJSON: String) {
        let parsed = try? TemplateValue(json: argumentsJSON)
        if case .dict? = parsed {
            self.init(id: id, name: name, arguments: parsed!)
        } else {
            self.init(id: id, name: name, arguments: .string(argumentsJSON))
        }
    }

    public var templateValue: TemplateValue {
        ["id": .string(id), "type": "function", "function": ["name": .string(name), "arguments": arguments]]
    }
}
