// Eval runs, executed one at a time on their own thread ("tailor-eval"): each item is sampled (a completions run, on
// the generation thread) or taken as given (jsonl), graded by every testing criterion, and stored with the run's
// counts in one transaction. Runs are claimed in the store under a lease (Store+EvalClaims.swift) that a heartbeat
// thread renews, so every node running evals over one database shares them: each run is executed by one node, a run
// whose node died is taken over after the lease and resumes after its last stored item, and a node whose lease was
// taken over is refused its writes. Not the HTTP layer: the API validates requests and creates runs; this executes them.
import Foundation
import Logging
import TailorEval
import TailorStore

public final class EvalRunner: @unchecked Sendable {
    // @unchecked Sendable: `stopping`, `current`, `threads` and `broken` are guarded by `condition`; the rest is set
    // before `start`.
    let store: Store
    let sampler: any EvalSampler
    let logger: Logger
    /// This process on the shared queue; its eval thread claims runs as `<identity>/eval`.
    public let identity: WorkerIdentity
    /// How long a claim on a run lasts unless renewed; the heartbeat renews every third of it.
    public var leaseSeconds: Double = 60
    /// How often an idle eval thread looks for runs created on other nodes (a run created here wakes it at once).
    public var pollSeconds: Double = 1
    var leaseMilliseconds: Int { Int((leaseSeconds * 1000).rounded()) }
    private let condition = NSCondition()
    private var stopping = false
    private var threads = 0
    /// The run executing, under which lease (nil: executed directly, unclaimed), and whether the heartbeat found that
    /// lease taken over.
    private var current: (run: String, lease: JobLease?, interrupt: EvalInterrupt, lost: Bool)?
    /// Runs that could not even be marked failed (the store refused): not claimed again until the next start.
    private var broken: Set<String> = []

    public init(store: Store, sampler: any EvalSampler, logger: Logger, identity: WorkerIdentity = WorkerIdentity()) {
        self.store = store
        self.sampler = sampler
        self.logger = logger
        self.identity = identity
    }

    /// Releases the runs an earlier process of this node still held (it is gone: they resume at once rather than after
    /// their lease), then starts the run thread and its heartbeat. Interrupted runs are claimed first and resume where
    /// they were: every item already graded is kept (it was stored with the counts), the rest are sampled and graded.
    public func start() {
        do {
            let mine = try store.claimedEvalRuns().filter { run in run.claimedBy.map(identity.isEarlierProcessOfThisNode) ?? false }
            for run in mine { if let lease = JobLease(run) { try store.releaseEvalRun(id: run.id, lease: lease) } }
            if !mine.isEmpty { logger.notice("released the eval runs this node's earlier process held", metadata: ["runs": "\(mine.map(\.id).joined(separator: ","))"]) }
        } catch {
            logger.error("could not release the eval runs this node's earlier process held; they resume after their lease", metadata: ["error": "\(error)"])
        }
        spawn("tailor-eval") { [self] in loop() }
        spawn("tailor-eval-lease") { [self] in heartbeatLoop() }
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [self] in
            body()
            condition.lock(); threads -= 1; condition.broadcast(); condition.unlock()
        }
        t.name = name
        t.stackSize = 8 << 20
        condition.lock(); threads += 1; condition.unlock()
        t.start()
    }

    /// The grading model of a model grader used outside a run (the graders API): the same sampler, so it is
    /// generated on the generation thread like a run's.
    public func gradingModel(project: String, interrupt: EvalInterrupt = EvalInterrupt()) -> any GradingModel {
        SamplerGradingModel(sampler: sampler, project: project, interrupt: interrupt)
    }

    /// A run was created.
    public func wake() { condition.lock(); condition.broadcast(); condition.unlock() }

    /// Interrupts the run executing (it stays in_progress and is released, for this node's next start or another node
    /// to resume); returns at once.
    public func stop() {
        condition.lock()
        stopping = true
        let interrupt = current?.interrupt
        condition.broadcast()
        condition.unlock()
        interrupt?.fire()
    }

    /// Stops, then waits for the run thread (which releases its run) and the heartbeat to end.
    public func shutdown() {
        stop()
        condition.lock()
        while threads > 0 { condition.wait() }
        condition.unlock()
    }

    /// Applies `event` to the run in one store transaction; `applied` is false when the lifecycle refused it (the
    /// run had already ended) or the run is gone. `change` adds the caller's fields to an applied change. The node
    /// executing the run passes its `lease`: if it was taken over, nothing is written and `StoreError.leaseLost` is
    /// thrown; the user's actions (cancel) pass none.
    @discardableResult
    public func transition(_ id: String, _ event: EvalRunEvent, lease: JobLease? = nil,
                           change: (inout EvalRunRecord) -> Void = { _ in }) throws -> (applied: Bool, run: EvalRunRecord?) {
        var applied = false
        let run = try store.updateEvalRun(id: id, lease: lease) { r in
            guard let next = EvalRunLifecycle.apply(event, to: r.status) else { return }
            applied = true
            r.status = next
            if next == .inProgress { r.startedAt = r.startedAt ?? Int(Date().timeIntervalSince1970) }
            if next.isTerminal { r.finishedAt = r.finishedAt ?? Int(Date().timeIntervalSince1970) }
            change(&r)
        }
        return (applied, run)
    }

    /// Cancels a queued or running run; one running here stops at once (its generation is cancelled mid-item), one
    /// running on another node at its next item or heartbeat, whichever comes first.
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

    func fail(_ id: String, code: String, message: String, lease: JobLease?) throws {
        try transition(id, .fail, lease: lease) { $0.error = Self.errorJSON(code: code, message: message) }
    }

    private func loop() {
        while let (run, lease, interrupt) = nextClaim() {
            do { try execute(run, lease: lease, interrupt: interrupt) } catch StoreError.leaseLost {
                logger.warning("stopped an eval run whose lease was taken over, without writing more", metadata: ["run": "\(run.id)", "lease": "\(lease)"])
            } catch {
                logger.error("an eval run failed unexpectedly", metadata: ["run": "\(run.id)", "error": "\(error)"])
                do { try fail(run.id, code: "internal_error", message: "The eval run failed due to an internal error: \(error)", lease: lease) }
                catch StoreError.leaseLost {}
                catch { condition.lock(); broken.insert(run.id); condition.unlock() }
            }
            condition.lock()
            let lost = current?.lost ?? false
            current = nil
            condition.unlock()
            // Ended, or interrupted (stopping, lost, or the inference service stopping first): given back either way, so
            // an unfinished run resumes on whichever node claims it next.
            do { try store.releaseEvalRun(id: run.id, lease: lease) } catch {
                logger.error("could not release an eval run; it resumes after its lease", metadata: ["run": "\(run.id)", "error": "\(error)"])
            }
            // Still in progress here, not stopping, not lost: generation refused the item (the inference service is
            // stopping before this runner was told). Wait rather than claim it again at once.
            condition.lock()
            if !stopping, !lost, (try? store.evalRun(id: run.id))?.status == .inProgress { condition.wait(until: Date().addingTimeInterval(1)) }
            condition.unlock()
        }
    }

    /// Waits for a run to claim, looking every `pollSeconds` (and whenever woken); nil once the runner is stopping.
    /// The claimed run is `current` from then on, so `stop`, `cancel` and the heartbeat reach it.
    private func nextClaim() -> (EvalRunRecord, JobLease, EvalInterrupt)? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            let skip = broken
            condition.unlock()
            var claimed: (run: EvalRunRecord, lease: JobLease, previous: JobLease?)?
            do { claimed = try store.claimNextEvalRun(worker: identity.worker("eval"), leaseMilliseconds: leaseMilliseconds, excluding: skip) }
            catch { logger.error("could not claim an eval run", metadata: ["error": "\(error)"]) }
            if let claimed {
                logger.info("executing an eval run", metadata: ["run": "\(claimed.run.id)", "lease": "\(claimed.lease)"])
                if let previous = claimed.previous {
                    logger.notice("took over an eval run whose node's lease lapsed", metadata: ["run": "\(claimed.run.id)", "previous": "\(previous)"])
                }
            }
            condition.lock()
            if let claimed {
                if stopping {
                    condition.unlock()
                    _ = try? store.releaseEvalRun(id: claimed.run.id, lease: claimed.lease)
                    condition.lock()
                    return nil
                }
                let interrupt = EvalInterrupt()
                current = (claimed.run.id, claimed.lease, interrupt, false)
                return (claimed.run, claimed.lease, interrupt)
            }
            condition.wait(until: Date().addingTimeInterval(pollSeconds))
        }
        return nil
    }

    /// Renews the lease of the run executing every third of the lease. A lease found taken over (or its run deleted)
    /// interrupts the run at once, as does a cancel made on another node. Runs until the run thread has ended.
    private func heartbeatLoop() {
        condition.lock()
        while !(stopping && threads <= 1) {
            condition.wait(until: Date().addingTimeInterval(leaseSeconds / 3))
            guard let held = current, let lease = held.lease, !held.lost else { continue }
            let id = held.run, interrupt = held.interrupt
            condition.unlock()
            var status: EvalRunStatus??
            do { status = try store.renewEvalRunLease(id: id, lease: lease, leaseMilliseconds: leaseMilliseconds) } catch {
                logger.error("could not renew the lease of the eval run executing", metadata: ["run": "\(id)", "error": "\(error)"])
            }
            condition.lock()
            guard let status, current?.run == id, current?.lease == lease else { continue }
            if status == nil {
                current?.lost = true
                logger.warning("lost the lease of an eval run: another node took it over, or it was deleted", metadata: ["run": "\(id)", "lease": "\(lease)"])
                interrupt.fire()
            } else if status?.isTerminal == true {
                interrupt.fire()   // canceled on another node
            }
        }
        condition.unlock()
    }

    /// Executes `run` to its end on the calling thread (the run thread; tests call it directly), every write fenced by
    /// `lease` when given. Returns early, the run left as it is, when `interrupt` fires or the run's status read
    /// between items is no longer in_progress (cancelled: the run is already canceled; stopping: it resumes later).
    /// Throws `StoreError.leaseLost`, having written nothing more, when another node took the run over.
    public func execute(_ run: EvalRunRecord, lease: JobLease? = nil, interrupt: EvalInterrupt) throws {
        guard try transition(run.id, .start, lease: lease).applied else { return }
        guard let eval = try store.eval(id: run.evalID) else { return try fail(run.id, code: "eval_not_found", message: "The eval of this run was deleted.", lease: lease) }
        let criteria = try EvalCriterion.parseAll(eval.testingCriteria)
        let source = (try JSONSerialization.jsonObject(with: Data(run.dataSource.utf8)) as? [String: Any]) ?? [:]
        let plan = source["type"] as? String == "completions" ? try EvalCompletionsPlan.parse(source) : nil
        let items = (try JSONSerialization.jsonObject(with: Data(run.items.utf8)) as? [Any]) ?? []
        let graded = try store.gradedItemIndices(run: run.id)
        let grader = EvalItemGrader(criteria: criteria, plan: plan, project: run.projectID, sampler: sampler)
        for (index, entry) in items.enumerated() where !graded.contains(index) {
            // A cancel made on another node is seen here, before the next item's generation.
            if interrupt.isFired { return }
            guard try store.evalRun(id: run.id)?.status == .inProgress else { return }
            TestHooks.reach(.evalItem, job: run.id, dataDirectory: store.dataDirectory)
            let outcome: EvalItemGrader.Outcome
            do {
                guard let o = try grader.grade(entry as? [String: Any] ?? [:], interrupt: interrupt) else { return }
                outcome = o
            } catch EvalSampleError.modelMissing(let model) {
                return try fail(run.id, code: "model_not_found", message: "The model \(model) no longer exists (it was deleted after the run was created); create a new run with an existing model.", lease: lease)
            }
            let record = EvalOutputItemRecord(id: IDGenerator.make(prefix: "outputitem_"), runID: run.id, evalID: run.evalID,
                                              datasourceItemID: index, status: outcome.status,
                                              datasourceItem: outcome.itemJSON, results: outcome.resultsJSON,
                                              sample: outcome.sampleJSON, createdAt: Int(Date().timeIntervalSince1970))
            let stored = try store.addEvalOutputItem(record, lease: lease) { r in
                // Cancelled (or failed) meanwhile: the item is dropped and the loop ends.
                guard r.status == .inProgress else { return false }
                var tally = EvalTally.decode(r.tally) ?? EvalTally(criteria: criteria.map(\.id))
                tally.add(status: outcome.status, criteriaPassed: outcome.criteriaPassed, usage: outcome.usage)
                r.tally = tally.json
                return true
            }
            if stored == nil { return }
        }
        try transition(run.id, .complete, lease: lease)
        logger.info("eval run completed", metadata: ["run": "\(run.id)", "items": "\(items.count)"])
    }
}
