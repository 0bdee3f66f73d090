// ChatContext and ChatMessage: the variables handed to templates, shaped as transformers shapes them.
import Testing
@testable import TailorTemplates

@Suite struct ChatContextTests {
    @Test func variablesMatchTransformers() {
        let chat = ChatContext(messages: [.system("s"), .user("u")], bosToken: "<s>", eosToken: "</s>")
        let variables = chat.variables
        #expect(variables["tools"] == TemplateValue.none, "absent tools are passed as None, so `tools is defined`")
        #expect(variables["documents"] == TemplateValue.none)
        #expect(variables["add_generation_prompt"] == true)
        #expect(variables["bos_token"] == "<s>")
        #expect(variables["messages"] == [["role": "system", "content": "s"], ["role": "user", "content": "u"]])
    }

    @Test func toolCallsAndToolReplies() {
        let call = ToolCall(id: "call12345", name: "get_weather", argumentsJSON: #"{"city": "Paris", "unit": "celsius"}"#)
        let assistant = ChatMessage(role: "assistant", content: .none, toolCalls: [call])
        let reply = ChatMessage(role: "tool", content: "18C", toolCallID: "call12345", name: "get_weather")
        guard case .dict(let message) = assistant.templateValue,
              case .array(let calls)? = message["tool_calls"], case .dict(let first) = calls[0],
              case .dict(let function)? = first["function"], case .dict(let arguments)? = function["arguments"] else {
            Issue.record("unexpected shape \(assistant.templateValue)")
            return
        }
        #expect(message.keys == ["role", "content", "tool_calls"])
        #expect(first["type"] == "function")
        #expect(arguments.keys == ["city", "unit"], "argument order from the client is kept")
        guard case .dict(let tool) = reply.templateValue else { return }
        #expect(tool.keys == ["role", "content", "tool_call_id", "name"])
        #expect(ToolCall(id: "x", name: "f", argumentsJSON: "not json").arguments == "not json")
    }

    @Test func rendersThroughARealTemplate() throws {
        guard case .dict(let fixture) = try Fixtures.json("templates/Qwen-Qwen2.5-7B-Instruct.json"),
              let source = fixture["template"]?.stringValue else {
            Issue.record("missing Qwen2.5 fixture")
            return
        }
        let template = try ChatTemplate(source: source)
        let tool: TemplateValue = try TemplateValue(json: #"{"type": "function", "function": {"name": "now", "parameters": {}}}"#)
        var chat = ChatContext(messages: [.user("Hi")], tools: [tool], eosToken: "<|im_end|>")
        let withTools = try template.render(chat)
        #expect(withTools.contains(#"{"type": "function", "function": {"name": "now", "parameters": {}}}"#))
        #expect(withTools.hasSuffix("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"))
        chat.tools = nil
        chat.addGenerationPrompt = false
        #expect(try template.render(chat) == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                + "You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func extraVariablesOverride() throws {
        let template = try ChatTemplate(source: "{{ enable_thinking }} {{ bos_token }}")
        let chat = ChatContext(messages: [], bosToken: "<s>", extra: ["enable_thinking": false, "bos_token": "<B>"])
        #expect(try template.render(chat) == "False <B>")
    }
}
