// Tool formats: which templates render tools natively (by probing real templates from the fixture set), what
// Tailor's default writes for a template without tool syntax (SmolLM2's), that both put a call in the same text the
// native Qwen2.5 template writes, and that the scanner reads calls back the same however the text is chunked.
import Foundation
import Testing
import TailorTemplates
@testable import TailorEngine

@Suite struct ToolFormatTests {
    static let fixtures = TestModel.repoRoot.appendingPathComponent("Tests/TailorTemplatesTests/Fixtures/templates")

    func template(_ name: String) throws -> (ChatTemplate, bos: String, eos: String) {
        let o = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".json"))) as? [String: Any])
        return (try ChatTemplate(source: o["template"] as! String), o["bos_token"] as? String ?? "", o["eos_token"] as? String ?? "")
    }

    func format(_ name: String) throws -> ToolFormat {
        let (t, bos, eos) = try template(name)
        return ToolFormat.detect(t, bos: bos, eos: eos)
    }

    static let tool: TemplateValue = ["type": "function", "function": ["name": "get_weather", "description": "Weather now.",
        "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]]]
    static let call = ToolCall(id: "call_1", name: "get_weather", argumentsJSON: #"{"city": "Paris"}"#)
    static let conversation = [ChatMessage.user("Weather in Paris?"),
                               ChatMessage(role: "assistant", content: .none, toolCalls: [call]),
                               ChatMessage(role: "tool", content: .string(#"{"temp_c": 21}"#), toolCallID: "call_1"),
                               ChatMessage.assistant("It is 21 °C.")]

    @Test func templatesWithHermesCallsAreNativeOthersGetTheDefault() throws {
        for name in ["Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "NousResearch-Hermes-3-Llama-3.1-8B-tool_use"] {
            #expect(try format(name) == .native, "\(name)")
        }
        // No tool syntax at all, or a different one (Llama 3.1's JSON, Mistral's [TOOL_CALLS], Qwen3-Coder's XML).
        for name in ["HuggingFaceTB-SmolLM2-135M-Instruct", "meta-llama-Llama-3.1-8B-Instruct",
                     "mistralai-Mistral-Nemo-Instruct-2407", "Qwen3-Coder", "google-gemma-2-2b-it"] {
            #expect(try format(name) == .tailor, "\(name)")
        }
    }

    @Test func theDefaultWritesWhatQwensTemplateWrites() throws {
        // The same conversation through Qwen2.5's own template and through SmolLM2's with Tailor's default: the
        // system section, the call and the tool response are the same text.
        let (qwen, _, _) = try template("Qwen-Qwen2.5-7B-Instruct")
        let native = try qwen.render(ChatContext(messages: [.system("Be brief.")] + Self.conversation, tools: [Self.tool], addGenerationPrompt: false))
        let (smol, _, _) = try template("HuggingFaceTB-SmolLM2-135M-Instruct")
        let (messages, tools) = ToolFormat.tailor.prepare([.system("Be brief.")] + Self.conversation, tools: [Self.tool])
        #expect(tools == nil)
        let tailor = try smol.render(ChatContext(messages: messages, addGenerationPrompt: false))
        #expect(native == tailor, "\n\(native)\n----\n\(tailor)")
        #expect(tailor.contains(#"<tool_call>\#n{"name": "get_weather", "arguments": {"city": "Paris"}}\#n</tool_call>"#))
        #expect(tailor.contains("<|im_start|>user\n<tool_response>\n{\"temp_c\": 21}\n</tool_response><|im_end|>"))
    }

    @Test func defaultFormatAddsASystemMessageAndJoinsToolResults() {
        let two = [ChatMessage.user("Both?"),
                   ChatMessage(role: "assistant", content: .string("Checking."), toolCalls: [Self.call, ToolCall(id: "call_2", name: "get_weather", argumentsJSON: #"{"city": "Rome"}"#)]),
                   ChatMessage(role: "tool", content: .string("21"), toolCallID: "call_1"),
                   ChatMessage(role: "tool", content: .string("25"), toolCallID: "call_2")]
        let (m, _) = ToolFormat.tailor.prepare(two, tools: [Self.tool])
        #expect(m.map(\.role) == ["system", "user", "assistant", "user"])
        #expect(m[0].content.stringValue!.hasPrefix("# Tools\n"))
        #expect(m[2].content.stringValue == "Checking.\n" + ToolFormat.callText(Self.call) + "\n" + ToolFormat.callText(two[1].toolCalls[1]))
        #expect(m[3].content.stringValue == "<tool_response>\n21\n</tool_response>\n<tool_response>\n25\n</tool_response>")
        // Native formats pass everything through to the template.
        let (same, tools) = ToolFormat.native.prepare(two, tools: [Self.tool])
        #expect(same == two && tools == [Self.tool])
        // …except that a call-only turn's missing content is given as "" (Qwen3's template does string tests on it).
        let (callOnly, _) = ToolFormat.native.prepare(Self.conversation, tools: nil)
        #expect(callOnly[1].content == .string("") && callOnly[1].toolCalls == [Self.call])
    }

    @Test func scannerReadsCallsHoweverTheTextIsChunked() {
        let text = ToolFormat.open + #"{"name": "get_weather", "arguments": {"city": "Pa}r\"is", "n": [1, {"a": 2}]}}"# + ToolFormat.close
            + "\n" + ToolFormat.open + #"{"name":"get_time","arguments":{}}"# + ToolFormat.close
        let whole = ToolCallScanner.read(text)
        #expect(whole.calls.map(\.name) == ["get_weather", "get_time"])
        #expect(whole.calls.map(\.arguments) == [#"{"city": "Pa}r\"is", "n": [1, {"a": 2}]}"#, "{}"])
        #expect(whole.calls.allSatisfy { $0.isComplete })
        let bytes = Array(text.utf8)
        for cut in 1..<bytes.count {
            var s = ToolCallScanner()
            var events = s.feed(String(decoding: bytes[..<cut], as: UTF8.self))
            events += s.feed(String(decoding: bytes[cut...], as: UTF8.self))
            events += s.finish()
            #expect(s.calls == whole.calls, "cut at \(cut)")
            let args = events.compactMap { e -> String? in if case .arguments(0, let a) = e { return a }; return nil }.joined()
            #expect(args == whole.calls[0].arguments)
            #expect(!events.contains { if case .text = $0 { return true }; return false })
        }
    }

    @Test func scannerTellsTextFromCallsAndMarksACutCall() {
        var s = ToolCallScanner()
        #expect(s.feed("<tool").isEmpty)           // could still be a call
        #expect(s.feed("s are handy") == [.text("<tools are handy")])
        #expect(s.feed(" indeed") == [.text(" indeed")])
        var short = ToolCallScanner()
        #expect(short.feed("<to").isEmpty)
        #expect(short.finish() == [.text("<to")])
        let cut = ToolCallScanner.read(ToolFormat.open + #"{"name": "f", "arguments": {"a": "#)
        #expect(cut.calls.count == 1 && !cut.calls[0].isComplete)
    }
}
