// Training files through the real model's chat template and tokenizer: which tokens carry loss, and the per-line
// report for bad files.
import Foundation
import Testing
import TailorEngine
import TailorTemplates

@Suite(.serialized) struct DatasetTests {
    static let model: LanguageModel? = {
        guard let path = try? TestModel.path() else { return nil }
        return try? LanguageModel(path: path)
    }()

    func lm() throws -> LanguageModel? {
        guard try TestModel.path() != nil else { return nil }
        return try #require(Self.model, "the default model did not load")
    }

    func prepare(_ lines: [String], _ lm: LanguageModel, minimum: Int = 1, maxTokens: Int = 512,
                 method: TrainingMethod = .supervised, mapping: FieldMapping? = nil) -> PreparedDataset {
        Dataset.prepare(Data(lines.joined(separator: "\n").utf8), model: lm, maxTokens: maxTokens, minimumExamples: minimum,
                        method: method, mapping: mapping)
    }

    func lossText(_ e: TrainingExample, _ lm: LanguageModel) -> [String] {
        // Contiguous runs of loss tokens, decoded.
        var runs: [String] = [], current: [Int] = []
        for (t, m) in zip(e.tokens, e.lossMask) {
            if m { current.append(t) } else if !current.isEmpty { runs.append(lm.tokenizer.decode(current)); current = [] }
        }
        if !current.isEmpty { runs.append(lm.tokenizer.decode(current)) }
        return runs
    }

    @Test func lossCoversTheAssistantTextAndItsEndOfTurnToken() throws {
        guard let lm = try lm() else { return }
        let line = #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello, how can I help?"}]}"#
        let d = prepare([line], lm)
        #expect(d.issues.isEmpty)
        let e = try #require(d.examples.first)
        #expect(lm.tokenizer.decode(e.tokens) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello, how can I help?<|im_end|>\n")
        #expect(lossText(e, lm) == ["Hello, how can I help?<|im_end|>"])
        // Exactly: the answer's tokens, then <|im_end|> (id 2), and not the newline after it.
        let answer = lm.tokenizer.encode("Hello, how can I help?")
        let masked = zip(e.tokens, e.lossMask).filter(\.1).map(\.0)
        #expect(masked == answer + [2])
        #expect(e.lossMask.last == false)
    }

    @Test func weightZeroTurnsCarryNoLoss() throws {
        guard let lm = try lm() else { return }
        let line = #"{"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris", "weight": 0}, {"role": "user", "content": "Be more sarcastic."}, {"role": "assistant", "content": "Paris, obviously.", "weight": 1}]}"#
        let e = try #require(prepare([line], lm).examples.first)
        #expect(lossText(e, lm) == ["Paris, obviously.<|im_end|>"])
        let both = line.replacingOccurrences(of: #", "weight": 0"#, with: "")
        #expect(lossText(try #require(prepare([both], lm).examples.first), lm) == ["Paris<|im_end|>", "Paris, obviously.<|im_end|>"])
    }

    static let pair = #"{"input": {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And of Italy?"}]}, "preferred_output": [{"role": "assistant", "content": "Rome, of course!"}], "non_preferred_output": [{"role": "assistant", "content": "I am not sure."}]}"#

    @Test func aPreferencePairIsTwoExamplesTrainedOnTheirAnswersOnly() throws {
        guard let lm = try lm() else { return }
        let d = prepare([Self.pair], lm, method: .dpo)
        #expect(d.issues.isEmpty && d.format == .preference && d.examples.count == 2)
        let (chosen, rejected) = (d.examples[0], d.examples[1])
        #expect(lossText(chosen, lm) == ["Rome, of course!<|im_end|>"])    // not the input's own assistant turn
        #expect(lossText(rejected, lm) == ["I am not sure.<|im_end|>"])
        // The two share the conversation up to the answer.
        let prompt = chosen.lossMask.firstIndex(of: true)!
        #expect(Array(chosen.tokens[..<prompt]) == Array(rejected.tokens[..<prompt]))
    }

    @Test func badPreferenceLinesAreNamed() throws {
        guard let lm = try lm() else { return }
        func issue(_ line: String, method: TrainingMethod = .dpo) -> DatasetIssue? { prepare([line], lm, method: method).issues.first }
        let same = Self.pair.replacingOccurrences(of: "I am not sure.", with: "Rome, of course!")
        #expect(issue(same)?.code == .badPreference)
        #expect(issue(same)?.description.contains("identical") == true)
        let missing = Self.pair.replacingOccurrences(of: #", "non_preferred_output": [{"role": "assistant", "content": "I am not sure."}]"#, with: "")
        #expect(issue(missing)?.code == .badPreference && issue(missing)?.description.contains("non_preferred_output") == true)
        #expect(issue(Self.pair.replacingOccurrences(of: #""input""#, with: #""inputs""#))?.code == .badField)
        let two = Self.pair.replacingOccurrences(of: #"[{"role": "assistant", "content": "I am not sure."}]"#,
                                                 with: #"[{"role": "assistant", "content": "A"}, {"role": "assistant", "content": "B"}]"#)
        #expect(issue(two)?.code == .badPreference && issue(two)?.line == 1)
        let userAnswer = Self.pair.replacingOccurrences(of: #"[{"role": "assistant", "content": "I am not sure."}]"#, with: #"[{"role": "user", "content": "no"}]"#)
        #expect(issue(userAnswer)?.code == .badPreference)
        // Each method takes its own format only.
        #expect(issue(Self.pair, method: .supervised)?.code == .wrongMethod)
        #expect(issue(#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}"#)?.code == .wrongMethod)
        // Ten pairs are ten examples, as OpenAI counts them.
        #expect(prepare(Array(repeating: Self.pair, count: 9), lm, minimum: 10, method: .dpo).issues.first?.code == .tooFewExamples)
        #expect(prepare(Array(repeating: Self.pair, count: 10), lm, minimum: 10, method: .dpo).issues.isEmpty)
    }

    @Test func promptCompletionTrainsOnTheCompletionAndEOS() throws {
        guard let lm = try lm() else { return }
        let e = try #require(prepare([#"{"prompt": "Q: 2+2?\nA:", "completion": " 4"}"#], lm).examples.first)
        #expect(lossText(e, lm) == [" 4<|im_end|>"])   // SmolLM2's EOS is <|im_end|>
    }

    /// Hugging Face-shaped records: the mapped fields become the prompt and completion, other fields are ignored,
    /// and the same text gives the same tokens as a prompt/completion line.
    @Test func mappedFieldsTrainLikePromptAndCompletion() throws {
        guard let lm = try lm() else { return }
        let mapping = FieldMapping(input: "document", target: "summary")
        let mapped = try #require(prepare([#"{"id": 7, "document": "Q: 2+2?\nA:", "summary": " 4"}"#], lm, mapping: mapping).examples.first)
        let plain = try #require(prepare([#"{"prompt": "Q: 2+2?\nA:", "completion": " 4"}"#], lm).examples.first)
        #expect(mapped == plain)
        // A line in chat shape is still read through the mapping, not as a chat.
        let issue = prepare([#"{"messages": [{"role": "user", "content": "hi"}]}"#], lm, mapping: mapping).issues.first
        #expect(issue?.code == .badField && issue?.line == 1)
        #expect(issue?.detail.contains("no \"document\" field") == true, "\(String(describing: issue))")
        let notText = prepare([#"{"document": ["a"], "summary": "b"}"#], lm, mapping: mapping).issues.first
        #expect(notText?.detail == "\"document\" must be a string")
    }

    /// Truncation only when asked: without limits an over-long example is refused with its line; with them the
    /// input keeps its first tokens and the target its first tokens and always its end-of-sequence token.
    @Test func truncationIsOptInAndKeepsTheEndOfSequence() throws {
        guard let lm = try lm() else { return }
        let long = String(repeating: "word ", count: 300)
        let line = #"{"document": "\#(long)", "summary": "\#(long)"}"#
        let refused = prepare([line], lm, maxTokens: 256, mapping: FieldMapping(input: "document", target: "summary"))
        #expect(refused.issues.first?.code == .tooLong && refused.issues.first?.line == 1)
        let mapping = FieldMapping(input: "document", target: "summary", maxSourceTokens: 100, maxTargetTokens: 50)
        let e = try #require(prepare([line], lm, maxTokens: 256, mapping: mapping).examples.first)
        #expect(e.tokens.count == 150)
        #expect(e.lossMask.filter { $0 }.count == 50 && e.lossMask.prefix(100).allSatisfy { !$0 })
        #expect(e.tokens.last == lm.tokenizer.eos)
        let full = lm.tokenize(plain: long)
        #expect(Array(e.tokens.prefix(100)) == Array(full.prefix(100)))
        // A limit larger than the text changes nothing.
        let short = #"{"document": "Q: 2+2?\nA:", "summary": " 4"}"#
        let roomy = FieldMapping(input: "document", target: "summary", maxSourceTokens: 1000, maxTargetTokens: 1000)
        #expect(prepare([short], lm, mapping: roomy).examples == prepare([short], lm, mapping: FieldMapping(input: "document", target: "summary")).examples)
    }

    @Test func filesSavedOnWindowsPrepareAsTheSameExamples() throws {
        guard let lm = try lm() else { return }
        let lines = (0..<3).map { #"{"messages": [{"role": "user", "content": "Q\#($0)"}, {"role": "assistant", "content": "A\#($0)"}]}"# }
        let unix = Dataset.prepare(Data((lines.joined(separator: "\n") + "\n").utf8), model: lm, maxTokens: 512, minimumExamples: 1)
        let windows = Dataset.prepare(Data((lines.joined(separator: "\r\n") + "\r\n").utf8), model: lm, maxTokens: 512, minimumExamples: 1)
        #expect(windows.issues.isEmpty, "\(windows.issues)")
        #expect(windows.examples.count == 3)
        #expect(windows.examples.map(\.tokens) == unix.examples.map(\.tokens))
    }

    @Test func badLinesAreReportedOneByOne() throws {
        guard let lm = try lm() else { return }
        let good = #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#
        let lines = [
            good,
            "{not json",
            #"{"messages": [{"role": "user", "content": "a"}]}"#,
            #"{"messages": [{"role": "wizard", "content": "a"}, {"role": "assistant", "content": "b"}]}"#,
            #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]}"#,
            #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}"#,
            #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 2}]}"#,
            #"{"messages": [{"role": "user", "content": "a <|im_start|> b"}, {"role": "assistant", "content": "b"}]}"#,
            #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}]}"#,
            #"{"foo": 1}"#,
            #"{"messages": [{"role": "assistant", "content": "b"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#,
            "",
            #"{"messages": [{"role": "user", "content": "\#(String(repeating: "word ", count: 200))"}, {"role": "assistant", "content": "b"}]}"#,
        ]
        let d = prepare(lines, lm, maxTokens: 100)
        let got = d.issues.map { "\($0.line):\($0.message.map(String.init) ?? "-"):\($0.code.rawValue)" }
        #expect(got == ["2:-:invalid_json", "3:-:example_missing_assistant_message", "4:1:unrecognized_role",
                        "5:2:missing_content", "6:3:trailing_user_message", "7:2:invalid_weight", "8:1:invalid_token",
                        "9:-:no_trainable_tokens", "10:-:unknown_format", "11:1:invalid_role_order", "13:-:example_too_long"])
        #expect(d.examples.count == 1)
        #expect(d.issues[3].description == "Example 5, message 2: has empty content")
    }

    @Test func tooFewExamplesIsAnIssue() throws {
        guard let lm = try lm() else { return }
        let good = #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#
        let d = prepare(Array(repeating: good, count: 7), lm, minimum: 10)
        #expect(d.issues.map(\.code) == [.tooFewExamples])
        #expect(d.issues.first?.description == "Training file has 7 example(s), but must have at least 10 examples")
    }

    @Test func theSharedDatasetsPrepareWhenPresent() throws {
        guard let lm = try lm() else { return }
        let dir = TestModel.repoRoot.appendingPathComponent("../shared/datasets").standardized
        for name in ["gadgetgurus-train.jsonl", "gadgetgurus-train.prompt-completion.jsonl"] {
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else { continue }
            let d = Dataset.prepare(data, model: lm, maxTokens: 1024)
            #expect(d.issues.isEmpty, "\(name): \(d.issues.prefix(3))")
            #expect(d.examples.count == 200)
        }
    }

    // MARK: tools

    static let toolsJSON = #"[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]"#
    static func callJSON(_ id: String = "call_1", name: String = "get_weather", arguments: String = #"{\"city\": \"Paris\"}"#) -> String {
        #"{"id": "\#(id)", "type": "function", "function": {"name": "\#(name)", "arguments": "\#(arguments)"}}"#
    }

    @Test func toolCallsAreTrainedInTheTextServingPromptsFor() throws {
        guard let lm = try lm() else { return }
        // OpenAI's function-calling format: tools on the line, the last assistant turn a call.
        let line = #"{"tools": \#(Self.toolsJSON), "messages": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "tool_calls": [\#(Self.callJSON())]}]}"#
        let d = prepare([line], lm)
        #expect(d.issues.isEmpty, "\(d.issues)")
        let e = try #require(d.examples.first)
        // The loss covers exactly the call as Tailor's default format writes it, and the end of turn.
        #expect(lossText(e, lm) == [ToolFormat.open + #"{"name": "get_weather", "arguments": {"city": "Paris"}}"# + ToolFormat.close + "<|im_end|>"])
        // The tokens before it are the prompt serving builds for the same conversation and tools.
        guard case .array(let tools) = try TemplateValue(json: Self.toolsJSON) else { Issue.record("tools"); return }
        let prompt = try lm.tokenizeChat([.user("Weather in Paris?")], tools: tools, addGenerationPrompt: true)
        let firstLoss = try #require(e.lossMask.firstIndex(of: true))
        #expect(Array(e.tokens[..<firstLoss]) == prompt)
    }

    @Test func toolLinesAreCheckedPerLine() throws {
        guard let lm = try lm() else { return }
        let user = #"{"role": "user", "content": "Weather?"}"#
        func line(_ messages: String, tools: String = Self.toolsJSON) -> String { #"{"tools": \#(tools), "messages": [\#(user), \#(messages)]}"# }
        let lines = [
            line(#"{"role": "assistant", "tool_calls": [\#(Self.callJSON(arguments: "not json"))]}"#),
            line(#"{"role": "assistant", "tool_calls": [\#(Self.callJSON(name: "get_time"))]}"#),
            line(#"{"role": "assistant", "tool_calls": [\#(Self.callJSON())]}, {"role": "tool", "tool_call_id": "call_9", "content": "21"}, {"role": "assistant", "content": "Warm."}"#),
            line(#"{"role": "assistant", "tool_calls": [\#(Self.callJSON())]}, {"role": "user", "content": "And?"}, {"role": "assistant", "content": "Warm."}"#),
            line(#"{"role": "assistant", "content": "Hi"}"#, tools: #"[{"type": "function", "function": {"description": "no name"}}]"#),
            line(#"{"role": "assistant", "content": "Hi"}"#, tools: #"{"not": "a list"}"#),
            line(#"{"role": "assistant", "tool_calls": [\#(Self.callJSON())]}, {"role": "tool", "tool_call_id": "call_1", "content": "21"}, {"role": "assistant", "content": "Warm."}"#),
        ]
        let d = prepare(lines, lm)
        let got = d.issues.map { "\($0.line):\($0.message.map(String.init) ?? "-"):\($0.code.rawValue)" }
        #expect(got == ["1:2:invalid_tool_call", "2:2:invalid_tool_call", "3:3:invalid_tool_call", "4:3:invalid_tool_call",
                        "5:-:invalid_tools", "6:-:invalid_tools"])
        #expect(d.issues[0].description.contains("not the JSON text of an object"))
        #expect(d.issues[1].description.contains("'get_time', which is not one of the line's tools"))
        #expect(d.issues[4].description.contains("tools[0].function.name is missing"))
        #expect(d.examples.count == 1)   // the good last line
    }
}
