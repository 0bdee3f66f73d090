// Eval runs, executed one at a time on their own thread ("tailor-eval"), oldest first: each item is sampled (a
// completions run, on the generation thread) or taken as given (jsonl), graded by every testing criterion, and stored
// with the run's counts in one transaction. A run found in_progress at start-up resumes after its last stored item.
// Not the HTTP layer: the API validates requests and creates runs; this only executes them.
import Foundation
import Logging
import TailorEval
import TailorStore

public final class EvalRunner: @unchecked Sendable {
    // @unchecked Sendable: `stopping`, `current` and `running` are guarded by `condition`; the rest is immutable.
    let store: Store
    let sampler: any EvalSampler
    let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var current: (run: String, interrupt: EvalInterrupt)?
    /// Runs that could not even be marked failed (the store refused): not retried until the next start.
    private var broken: Set<String> = []

    public init(store: Store, sampler: any EvalSampler, logger: Logger) {
        self.store = store
        self.sampler = sampler
        self.logger = logger
    }

    /// Starts the run thread. Runs a stopped server left in_progress are taken first and resume where they were:
    /// every item already graded is kept (it was stored with the counts), the rest are sampled and graded.
    public func start() {
        if let unfinished = try? store.evalRuns(withStatus: [.inProgress]), !unfinished.isEmpty {
            logger.notice("resuming eval runs left in progress", metadata: ["runs": "\(unfinished.map(\.id).joined(separator: ","))"])
        }
        condition.lock(); running = true; condition.unlock()
        let t = Thread { [self] in
            loop()
            condition.lock(); running = false; condition.broadcast(); condition.unlock()
        }
        t.name = "tailor-eval"
        t.stackSize = 8 << 20
        t.start()
    }

    /// The grading model of a model grader used outside a run (the graders API): the same sampler, so it is
    /// generated on the generation thread like a run's.
    public func gradingModel(project: String, interrupt: EvalInterrupt = EvalInterrupt()) -> any GradingModel {
        SamplerGradingModel(sampler: sampler, project: project, interrupt: interrupt)
    }

    /// A run was created.
    public func wake() { condition.lock(); condition.broadcast(); condition.unlock() }

    /// Interrupts the run executing (it stays in_progress, to resume at the next start); returns at once.
    public func stop() {
        condition.lock()
        stopping = true
        let interrupt = current?.interrupt
        condition.broadcast()
        condition.unlock()
        interrupt?.fire()
    }

    /// Stops, then waits for the run thread to end.
    public func shutdown() {
        stop()
        condition.lock()
        while running { condition.wait() }
        condition.unlock()
    }

    /// Applies `event` to the run in one store transaction; `applied` is false when the lifecycle refused it (the
    /// run had already ended) or the run is gone. `change` adds the caller's fields to an applied change.
    @discardableResult
    public func transition(_ id: String, _ event: EvalRunEvent,
                           change: (inout EvalRunRecord) -> Void = { _ in }) throws -> (applied: Bool, run: EvalRunRecord?) {
        var applied = false
        let run = try store.updateEvalRun(id: id) { r in
            guard let next = EvalRunLifecycle.apply(event, to: r.status) else { return }
            applied = true
            r.status = next
            if next == .inProgress { r.startedAt = r.startedAt ?? Int(Date().timeIntervalSince1970) }
            if next.isTerminal { r.finishedAt = r.finishedAt ?? Int(Date().timeIntervalSince1970) }
            change(&r)
        }
        return (applied, run)
    }

    /// Cancels a queued or running run; a running one stops at once (its generation is cancelled mid-item).
    @discardableResult
    public func cancel(_ id: String) throws -> (applied: Bool, run: EvalRunRecord?) {
        let result = try transition(id, .cancel)
        condition.lock()
        let interrupt = current?.run == id ? current?.interrupt : nil
        condition.unlock()
        interrupt?.fire()
        return result
    }

    static func errorJSON(code: String, message: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: ["code": code, "message": message], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    func fail(_ id: String, code: String, message: String) throws {
        try transition(id, .fail) { $0.error = Self.errorJSON(code: code, message: message) }
    }

    private func loop() {
        while true {
            condition.lock()
            var next: EvalRunRecord?
            while !stopping {
                // Unfinished runs first (they were interrupted), then the queue, oldest first.
                let unfinished = (try? store.evalRuns(withStatus: [.inProgress, .queued])) ?? []
                next = unfinished.first { $0.status == .inProgress && !broken.contains($0.id) }
                    ?? unfinished.first { !broken.contains($0.id) }
                if next != nil { break }
                condition.wait(until: Date().addingTimeInterval(5))
            }
            if stopping { condition.unlock(); return }
            let interrupt = EvalInterrupt()
            current = (next!.id, interrupt)
            condition.unlock()
            do { try execute(next!, interrupt: interrupt) } catch {
                logger.error("an eval run failed unexpectedly", metadata: ["run": "\(next!.id)", "error": "\(error)"])
                do { try fail(next!.id, code: "internal_error", message: "The eval run failed due to an internal error: \(error)") }
                catch { condition.lock(); broken.insert(next!.id); condition.unlock() }
            }
            condition.lock()
            current = nil
            // Still in progress and not stopping: generation refused the item (the inference service is stopping
            // before this runner was told). Wait rather than spin; the run resumes at the next start.
            if !stopping, (try? store.evalRun(id: next!.id))?.status == .inProgress { condition.wait(until: Date().addingTimeInterval(1)) }
            condition.unlock()
        }
    }

    /// Executes `run` to its end on the calling thread (the run thread; tests call it directly). Returns early, the
    /// run left as it is, when `interrupt` fires (cancelled: the run is already canceled; stopping: it resumes later).
    public func execute(_ run: EvalRunRecord, interrupt: EvalInterrupt) throws {
        guard try transition(run.id, .start).applied else { return }
        guard let eval = try store.eval(id: run.evalID) else { return try fail(run.id, code: "eval_not_found", message: "The eval of this run was deleted.") }
        let criteria = try EvalCriterion.parseAll(eval.testingCriteria)
        let source = (try JSONSerialization.jsonObject(with: Data(run.dataSource.utf8)) as? [String: Any]) ?? [:]
        let plan = source["type"] as? String == "completions" ? try EvalCompletionsPlan.parse(source) : nil
        let items = (try JSONSerialization.jsonObject(with: Data(run.items.utf8)) as? [Any]) ?? []
        let graded = try store.gradedItemIndices(run: run.id)
        let grader = EvalItemGrader(criteria: criteria, plan: plan, project: run.projectID, sampler: sampler)
        for (index, entry) in items.enumerated() where !graded.contains(index) {
            if interrupt.isFired { return }
            let outcome: EvalItemGrader.Outcome
            do {
                guard let o = try grader.grade(entry as? [String: Any] ?? [:], interrupt: interrupt) else { return }
                outcome = o
            } catch EvalSampleError.modelMissing(let model) {
                return try fail(run.id, code: "model_not_found", message: "The model \(model) no longer exists (it was deleted after the run was created); create a new run with an existing model.")
            }
            let record = EvalOutputItemRecord(id: IDGenerator.make(prefix: "outputitem_"), runID: run.id, evalID: run.evalID,
                                              datasourceItemID: index, status: outcome.status,
                                              datasourceItem: outcome.itemJSON, results: outcome.resultsJSON,
                                              sample: outcome.sampleJSON, createdAt: Int(Date().timeIntervalSince1970))
            let stored = try store.addEvalOutputItem(record) { r in
                // Cancelled (or failed) meanwhile: the item is dropped and the loop ends.
                guard r.status == .inProgress else { return false }
                var tally = EvalTally.decode(r.tally) ?? EvalTally(criteria: criteria.map(\.id))
                tally.add(status: outcome.status, criteriaPassed: outcome.criteriaPassed, usage: outcome.usage)
                r.tally = tally.json
                return true
            }
            if stored == nil { return }
        }
        try transition(run.id, .complete)
        logger.info("eval run completed", metadata: ["run": "\(run.id)", "items": "\(items.count)"])
    }
}
