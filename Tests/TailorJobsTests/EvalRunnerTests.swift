// The eval run loop on a real SQLite store in a temporary directory, with a stand-in sampler: counts, errored
// items that do not stop the run, cancellation mid-item, resuming a run left in_progress, and the lifecycle rules.
import Foundation
import Logging
import Testing
@testable import TailorJobs
import TailorStore

@Suite struct EvalRunnerTests {
    /// Answers "4" to everything, or waits until interrupted when `block` is set; counts its calls.
    final class FakeSampler: EvalSampler, @unchecked Sendable {
        // @unchecked Sendable: `calls` and `started` are guarded by `lock`.
        let lock = NSCondition()
        var calls: [EvalSampleRequest] = []
        var started = false
        let block: Bool
        init(block: Bool = false) { self.block = block }

        func sample(_ request: EvalSampleRequest, interrupt: EvalInterrupt) throws -> EvalSample {
            lock.lock(); calls.append(request); started = true; lock.broadcast(); lock.unlock()
            if block {
                while !interrupt.isFired { Thread.sleep(forTimeInterval: 0.01) }
                throw EvalSampleError.interrupted
            }
            if request.messages.last?.content.contains("fail me") == true {
                throw EvalSampleError.failed(code: "context_length_exceeded", message: "too long")
            }
            return EvalSample(text: "4", finishReason: "stop", promptTokens: 10, completionTokens: 1, maxTokens: 5)
        }
    }

    struct Fixture {
        let store: Store
        let directory: String
        let runner: EvalRunner
        let sampler: FakeSampler
        let project: String

        /// `node`: this runner's node on the shared queue (default the host name).
        init(block: Bool = false, node: String? = nil) throws {
            directory = NSTemporaryDirectory() + "tailor-eval-test-" + UUID().uuidString
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            store = try Store.open(dataDirectory: directory, logger: quiet)
            project = try store.listProjects()[0].id
            sampler = FakeSampler(block: block)
            runner = EvalRunner(store: store, sampler: sampler, logger: quiet, identity: WorkerIdentity(node: node))
        }

        func close() { try? store.close(); try? FileManager.default.removeItem(atPath: directory) }

        /// An eval with an exact-match criterion and a fuzzy one, and a run over `items` (`completions` when a
        /// model is given).
        func run(_ items: String, model: String? = nil) throws -> EvalRunRecord {
            let criteria = #"""
                [{"id":"exact-1","type":"string_check","name":"exact","input":"{{sample.output_text}}","reference":"{{item.answer}}","operation":"eq"},
                 {"id":"fuzzy-2","type":"text_similarity","name":"fuzzy","input":"{{sample.output_text}}","reference":"{{item.answer}}","evaluation_metric":"fuzzy_match","pass_threshold":0.5}]
                """#
            let eval = EvalRecord(id: IDGenerator.make(prefix: "eval_"), projectID: project, name: "e", dataSourceConfig: "{}",
                                  testingCriteria: criteria, metadata: nil, createdAt: 1)
            try store.createEval(eval)
            let source = model.map {
                #"{"type":"completions","model":"\#($0)","input_messages":{"type":"template","template":[{"role":"user","content":"{{item.question}}"}]},"sampling_params":{"max_completion_tokens":5}}"#
            } ?? #"{"type":"jsonl"}"#
            let run = EvalRunRecord(id: IDGenerator.make(prefix: "evalrun_"), evalID: eval.id, projectID: project, name: "r",
                                    model: model ?? "", dataSource: source, items: items, metadata: nil,
                                    tally: EvalTally(criteria: ["exact-1", "fuzzy-2"]).json, createdAt: 1)
            try store.createEvalRun(run)
            return run
        }

        func tally(_ id: String) throws -> EvalTally { EvalTally.decode(try store.evalRun(id: id)!.tally)! }
    }

    @Test func jsonlRunCountsPassFailAndErroredItems() throws {
        let f = try Fixture(); defer { f.close() }
        let run = try f.run(#"""
            [{"item":{"answer":"Paris"},"sample":{"output_text":"Paris"}},
             {"item":{"answer":"Paris"},"sample":{"output_text":"London"}},
             {"item":{"question":"no answer"},"sample":{"output_text":"Paris"}},
             {"item":{"answer":"Paris"}}]
            """#)
        try f.runner.execute(run, interrupt: EvalInterrupt())
        let done = try f.store.evalRun(id: run.id)!
        #expect(done.status == .completed && done.startedAt != nil && done.finishedAt != nil)
        let t = try f.tally(run.id)
        #expect((t.total, t.passed, t.failed, t.errored) == (4, 1, 1, 2))
        #expect(t.criteria == [EvalTally.Criterion(id: "exact-1", passed: 1, failed: 3), EvalTally.Criterion(id: "fuzzy-2", passed: 1, failed: 3)])
        #expect(t.usage.isEmpty, "a jsonl run samples no model")
        let items = try f.store.listEvalOutputItems(runID: run.id, after: nil, limit: 10, order: .asc).items
        #expect(items.map(\.status) == ["pass", "fail", "error", "error"])
        #expect(items.map(\.datasourceItemID) == [0, 1, 2, 3])
        #expect(items[2].sample.contains("item.answer"), "the errored item says which field was missing")
        #expect(f.sampler.calls.isEmpty)
    }

    @Test func completionsRunSamplesEachItemAndCountsUsage() throws {
        let f = try Fixture(); defer { f.close() }
        let run = try f.run(#"""
            [{"item":{"question":"2+2?","answer":"4"}},
             {"item":{"answer":"4"}},
             {"item":{"question":"fail me","answer":"4"}},
             {"item":{"question":"3+1?","answer":"five"}}]
            """#, model: "base")
        try f.runner.execute(run, interrupt: EvalInterrupt())
        let t = try f.tally(run.id)
        #expect((t.total, t.passed, t.failed, t.errored) == (4, 1, 1, 2))
        #expect(t.usage == [EvalTally.ModelUsage(model: "base", invocations: 2, promptTokens: 20, completionTokens: 2, cachedTokens: 0)])
        #expect(f.sampler.calls.map { $0.messages[0].content } == ["2+2?", "fail me", "3+1?"],
                "the item without a question errors before sampling")
        #expect(f.sampler.calls.allSatisfy { $0.maxTokens == 5 && $0.seed == 42 && $0.temperature == 1 && $0.project == f.project })
        let items = try f.store.listEvalOutputItems(runID: run.id, after: nil, limit: 10, order: .asc).items
        #expect(items[2].sample.contains("context_length_exceeded"))
        #expect(items[0].results.contains(#""type":"string-check-grader""#))
    }

    @Test func cancelStopsARunMidItemAndKeepsItCanceled() throws {
        let f = try Fixture(block: true); defer { f.close() }
        let run = try f.run(#"[{"item":{"question":"a","answer":"4"}},{"item":{"question":"b","answer":"4"}}]"#, model: "base")
        f.runner.start()
        f.sampler.lock.lock()
        while !f.sampler.started { f.sampler.lock.wait() }
        f.sampler.lock.unlock()
        #expect(try f.store.evalRun(id: run.id)!.status == .inProgress)
        let (applied, canceled) = try f.runner.cancel(run.id)
        #expect(applied && canceled?.status == .canceled)
        f.runner.shutdown()
        #expect(try f.store.evalRun(id: run.id)!.status == .canceled)
        #expect(try f.tally(run.id).total == 0, "the interrupted item is not stored")
        #expect(try f.runner.cancel(run.id).applied == false, "an ended run cannot be cancelled again")
    }

    @Test func aRunLeftInProgressResumesAfterItsStoredItems() throws {
        let f = try Fixture(); defer { f.close() }
        let run = try f.run(#"[{"item":{"answer":"4"},"sample":{"output_text":"4"}},{"item":{"answer":"5"},"sample":{"output_text":"4"}}]"#)
        // As a crash leaves it: started, item 0 stored with its count, item 1 not yet.
        try f.runner.transition(run.id, .start)
        var tally = EvalTally(criteria: ["exact-1", "fuzzy-2"])
        tally.add(status: "pass", criteriaPassed: [true, true], usage: [])
        let stored = EvalOutputItemRecord(id: "outputitem_0", runID: run.id, evalID: run.evalID, datasourceItemID: 0, status: "pass",
                                          datasourceItem: "{}", results: "[]", sample: "{}", createdAt: 1)
        try f.store.addEvalOutputItem(stored) { r in r.tally = tally.json; return true }
        try f.runner.execute(try f.store.evalRun(id: run.id)!, interrupt: EvalInterrupt())
        let t = try f.tally(run.id)
        #expect((t.total, t.passed, t.failed) == (2, 1, 1))
        #expect(try f.store.listEvalOutputItems(runID: run.id, after: nil, limit: 10, order: .asc).items.map(\.id).first == "outputitem_0")
        #expect(try f.store.evalRun(id: run.id)!.status == .completed)
    }

    @Test func lifecycleRules() {
        #expect(EvalRunLifecycle.apply(.start, to: .queued) == .inProgress)
        #expect(EvalRunLifecycle.apply(.start, to: .inProgress) == .inProgress, "resuming after a restart")
        #expect(EvalRunLifecycle.apply(.complete, to: .inProgress) == .completed)
        #expect(EvalRunLifecycle.apply(.complete, to: .canceled) == nil, "a cancel that came first wins")
        #expect(EvalRunLifecycle.apply(.cancel, to: .queued) == .canceled)
        #expect(EvalRunLifecycle.apply(.cancel, to: .completed) == nil)
        #expect(EvalRunLifecycle.apply(.fail, to: .canceled) == nil)
        #expect(EvalRunLifecycle.apply(.start, to: .canceled) == nil)
    }
}
