// A fine-tuning job's evaluation without a model: test files read into items (chat and prompt/completion, and the
// lines refused), the default graders, and runs built by EvalDefinition executing through the EvalRunner with
// item_reference inputs and a model grader answered by a stand-in sampler.
import Foundation
import Logging
import TailorEngine
import Testing
@testable import TailorJobs
import TailorStore

@Suite struct JobEvaluationTests {
    /// Answers "4" to a sample request and `{"score": 0.8}` to a grading request (one with a schema).
    final class Sampler: EvalSampler, @unchecked Sendable {
        // @unchecked Sendable: `calls` is guarded by `lock`.
        let lock = NSLock()
        var calls: [EvalSampleRequest] = []
        func sample(_ request: EvalSampleRequest, interrupt: EvalInterrupt) throws -> EvalSample {
            lock.withLock { calls.append(request) }
            let text = request.schema == nil ? "4" : #"{"score": 0.8}"#
            return EvalSample(text: text, finishReason: "stop", promptTokens: 7, completionTokens: 3, maxTokens: 16)
        }
    }

    static let chatFile = """
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}

        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "3+1?"}, {"role": "assistant", "content": "four"}]}
        """

    @Test func chatLinesBecomeMessagesAndTheLastAssistantTurn() throws {
        let set = try JobEvaluation.read(Data(Self.chatFile.utf8))
        #expect(set.format == .chat && set.items.count == 2 && !set.referencesAreJSON)
        let second = set.items[1]["item"] as! [String: Any]
        #expect(second["reference"] as? String == "four")
        #expect((second["messages"] as! [[String: Any]]).map { $0["content"] as! String } == ["hi", "hello", "3+1?"])
        #expect(JobEvaluation.defaultGraders(set).map { $0["name"] as! String } == ["exact_match", "rouge_l", "bleu"])
    }

    @Test func promptCompletionLinesAndJSONReferences() throws {
        let set = try JobEvaluation.read(Data(#"""
            {"prompt": "Extract: Ada, 36", "completion": "{\"name\": \"Ada\", \"age\": 36}"}
            {"prompt": "Extract: Bob, 7", "completion": "[\"Bob\", 7]"}
            """#.utf8))
        #expect(set.format == .promptCompletion && set.referencesAreJSON)
        #expect((set.items[0]["item"] as! [String: Any])["prompt"] as? String == "Extract: Ada, 36")
        #expect(JobEvaluation.defaultGraders(set).last?["name"] as? String == "valid_json")
        let source = JobEvaluation.dataSource(model: "m", format: set.format, maxTokens: 8)
        #expect((source["input_messages"] as! [String: Any])["item_reference"] as? String == "item.prompt")
    }

    @Test func aTrainingFileSaysHowItsModelIsAsked() {
        #expect(JobEvaluation.trainingFormat(Data(Self.chatFile.utf8)) == .chat)
        #expect(JobEvaluation.trainingFormat(Data("\n{\"prompt\": \"a\", \"completion\": \"b\"}\n".utf8)) == .promptCompletion)
        #expect(JobEvaluation.trainingFormat(Data(#"{"input": {"messages": []}, "preferred_output": []}"#.utf8)) == .chat, "DPO data is chat")
        #expect(JobEvaluation.trainingFormat(Data("not json".utf8)) == nil)
    }

    @Test func aFieldMappingReadsEveryLineAsAPairOfItsFields() throws {
        let mapping = FieldMapping(input: "document", target: "summary")
        let text = "{\"document\": \"a long text\", \"summary\": \"short\", \"id\": 3}\n{\"document\": \"b\", \"summary\": \"c\"}\n"
        let set = try JobEvaluation.read(Data(text.utf8), mapping: mapping)
        #expect(set.format == .promptCompletion)
        #expect(set.items.map { ($0["item"] as! [String: Any])["prompt"] as! String } == ["a long text", "b"])
        #expect(set.items.map { ($0["item"] as! [String: Any])["reference"] as! String } == ["short", "c"])
        do {
            _ = try JobEvaluation.read(Data("{\"document\": \"a\", \"summary\": \"b\"}\n{\"text\": \"a\", \"summary\": \"b\"}".utf8), mapping: mapping)
            Issue.record("a line without the input field is refused")
        } catch let e as JobEvaluation.TestFileError {
            #expect(e.line == 2 && e.message.contains("\"document\""), "\(e)")
        }
        // Without the mapping, the same records are neither chat nor prompt/completion.
        #expect(throws: JobEvaluation.TestFileError.self) { try JobEvaluation.read(Data(text.utf8)) }
    }

    @Test func refusedLinesSayWhichAndWhy() {
        func line(_ text: String) -> Int? {
            do { _ = try JobEvaluation.read(Data(text.utf8)); return nil } catch let e as JobEvaluation.TestFileError { return e.line } catch { return -1 }
        }
        #expect(line("not json") == 1)
        #expect(line(#"{"messages": [{"role": "user", "content": "hi"}]}"#) == 1, "no reference answer")
        #expect(line(#"{"messages": [{"role": "assistant", "content": "hi"}]}"#) == 1, "no input before the answer")
        #expect(line("{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"messages\": []}") == 2, "two formats")
        #expect(line("\n\n") == 1, "no examples")
        #expect(line(#"{"prompt": "a"}"#) == 1)
    }

    struct Fixture {
        let store: Store
        let directory: String
        let runner: EvalRunner
        let sampler = Sampler()
        let project: String

        init() throws {
            directory = NSTemporaryDirectory() + "tailor-jobeval-test-" + UUID().uuidString
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            store = try Store.open(dataDirectory: directory, logger: quiet)
            project = try store.listProjects()[0].id
            runner = EvalRunner(store: store, sampler: sampler, logger: quiet)
        }

        func close() { try? store.close(); try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func itemReferenceRunsAnswerEachItemsOwnMessagesOrPrompt() throws {
        let f = try Fixture(); defer { f.close() }
        let set = try JobEvaluation.read(Data(Self.chatFile.utf8))
        let eval = try EvalDefinition.eval(project: f.project, name: "e", itemSchema: JobEvaluation.itemSchema(set.format),
                                           includeSample: true, criteria: EvalDefinition.criteriaWithIDs(JobEvaluation.defaultGraders(set)),
                                           metadata: nil)
        try f.store.createEval(eval)
        let run = try EvalDefinition.run(eval: eval, name: nil, model: "base",
                                         dataSource: JobEvaluation.dataSource(model: "base", format: set.format, maxTokens: 16),
                                         items: set.items, metadata: nil)
        try f.store.createEvalRun(run)
        try f.runner.execute(run, interrupt: EvalInterrupt())
        let t = EvalTally.decode(try f.store.evalRun(id: run.id)!.tally)!
        #expect((t.total, t.passed, t.failed, t.errored) == (2, 1, 1, 0), "\"4\" is the first reference, not the second")
        #expect(f.sampler.calls.map { $0.messages.map(\.content) } == [["Be brief.", "2+2?"], ["hi", "hello", "3+1?"]])
        #expect(f.sampler.calls.allSatisfy { $0.prompt == nil && $0.temperature == 0 && $0.maxTokens == 16 })

        // The same with a prompt/completion file: each prompt is continued as plain text.
        let pc = try JobEvaluation.read(Data(#"{"prompt": "2+2=", "completion": "4"}"#.utf8))
        let plain = try EvalDefinition.run(eval: eval, name: nil, model: "base",
                                           dataSource: JobEvaluation.dataSource(model: "base", format: pc.format, maxTokens: 16),
                                           items: pc.items, metadata: nil)
        try f.store.createEvalRun(plain)
        try f.runner.execute(plain, interrupt: EvalInterrupt())
        #expect(f.sampler.calls.last?.prompt == "2+2=" && f.sampler.calls.last?.messages.isEmpty == true)
    }

    @Test func aModelGraderAsksTheSamplerUnderItsSchemaAndIsCounted() throws {
        let f = try Fixture(); defer { f.close() }
        let criteria: [[String: Any]] = [[
            "type": "score_model", "name": "judge", "model": "judge-model", "pass_threshold": 0.5,
            "input": [["role": "user", "content": "Answer: {{sample.output_text}}. Expected: {{item.answer}}. Score it."]],
        ]]
        let eval = try EvalDefinition.eval(project: f.project, name: "e", itemSchema: ["type": "object"], includeSample: true,
                                           criteria: EvalDefinition.criteriaWithIDs(criteria), metadata: nil)
        try f.store.createEval(eval)
        let run = try EvalDefinition.run(eval: eval, name: nil, model: "", dataSource: ["type": "jsonl"],
                                         items: [["item": ["answer": "4"], "sample": ["output_text": "four"]]], metadata: nil)
        try f.store.createEvalRun(run)
        try f.runner.execute(run, interrupt: EvalInterrupt())
        let asked = try #require(f.sampler.calls.first)
        #expect(asked.model == "judge-model" && asked.messages[0].content == "Answer: four. Expected: 4. Score it.")
        #expect(asked.schema?.contains("\"score\"") == true && asked.temperature == 0)
        let item = try #require(try f.store.listEvalOutputItems(runID: run.id, after: nil, limit: 10, order: .asc).items.first)
        #expect(item.status == "pass")
        let results = try JSONSerialization.jsonObject(with: Data(item.results.utf8)) as! [[String: Any]]
        #expect(results[0]["score"] as? Double == 0.8 && results[0]["type"] as? String == "score-model-grader")
        #expect(((results[0]["sample"] as? [String: Any])?["model"]) as? String == "judge-model")
        let t = EvalTally.decode(try f.store.evalRun(id: run.id)!.tally)!
        #expect(t.usage == [EvalTally.ModelUsage(model: "judge-model", invocations: 1, promptTokens: 7, completionTokens: 3, cachedTokens: 0)])
    }
}
