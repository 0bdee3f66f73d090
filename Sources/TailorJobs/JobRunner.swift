// The fine-tuning queue's worker side: a validation thread that checks new jobs' files and reports before they queue,
// and a pool of training workers (default one: this machine has two cores) that take queued jobs in order, one
// project not starving the others. Jobs are claimed in the store under a lease (Store+Claims.swift) that a heartbeat
// thread renews, so several processes — on one host or many, over one database — share the queue: each job is taken
// by one worker, a worker that dies loses its jobs after the lease, and a worker whose lease was taken over is refused
// its writes. Everything durable is in the store and under DATA/jobs/<id>, so a job resumes from its last checkpoint.
// With no workers (`tailor serve --workers 0`, an API node) nothing here runs but the lifecycle for the user's actions.
import Foundation
import Logging
import TailorEngine
import TailorStore

public struct RunningJobStatus: Sendable {
    public var jobID: String
    /// Whose job it is: /v1/status shows a caller only its own project's jobs.
    public var projectID: String
    public var step: Int
    public var totalSteps: Int
    public var tokensPerSecond: Double
    public var estimatedFinish: Int?
}

public final class JobRunner: @unchecked Sendable {
    // @unchecked Sendable: mutable state (held, lost, progress, stopping) is guarded by `condition`.
    let store: Store
    let registry: ModelRegistry
    let gate: ComputeGate
    let events: JobEvents
    let speed: TrainingSpeed
    let logger: Logger
    /// Told when a succeeded job's evaluation has been created (nil: runs wait for the eval thread's next look).
    let evals: EvalRunner?
    public let workers: Int
    /// This process on the queue: `NODE/PID-RANDOM`; its threads claim jobs as `<identity>/train-0`, `…/validate`.
    public let identity: WorkerIdentity
    /// How long a claim lasts unless renewed; the heartbeat renews every third of it. A worker that dies or is cut
    /// off from the database loses its jobs this long after its last renewal.
    public var leaseSeconds: Double = 60
    /// A job whose workers' leases lapsed this many times (each died, hung or lost the database while holding it) is
    /// failed at the last lapse instead of being queued again: a job that takes its worker down, or whose failure
    /// cannot be written, is not retried for ever.
    public static let leaseLapseLimit = 3
    /// How often an idle worker looks for work another process queued (this process's own new work wakes it at once).
    public var pollSeconds: Double = 1
    var leaseMilliseconds: Int { Int((leaseSeconds * 1000).rounded()) }
    /// Longest example a job may contain (tokens), within the model's context; longer ones are reported at validation.
    public var maxExampleTokens = Int.max
    /// Memory one job's training may take (weights included); a job whose longest example needs more even with every
    /// layer recomputed is refused at validation. Half the machine's memory by default: the rest serves models.
    public var trainingMemoryLimit = Int(ProcessInfo.processInfo.physicalMemory / 2)
    private let condition = NSCondition()
    /// The leases this process's threads hold, which the heartbeat renews.
    private var held: [String: JobLease] = [:]
    /// Leases the heartbeat found taken over, by job: their thread stops the job at its next look.
    private var lost: [String: JobLease] = [:]
    /// Leases whose own thread is writing a change of their job (from before its transaction until the change is
    /// known not to end the claim, or until `letGo`): a renewal that finds such a lease gone may have come just after
    /// the job's own ending commit, so the heartbeat does not call it taken over (the change itself is fenced).
    private var settling: [String: JobLease] = [:]
    private var progress: [String: RunningJobStatus] = [:]
    private var stopping = false
    private var threads: [Thread] = []
    private var runningThreads = 0

    /// `workers` 0: an API node, which trains and validates nothing. `identity` names this process on the queue (its
    /// node stable across restarts; default the host name), shared with its EvalRunner.
    public init(store: Store, registry: ModelRegistry, gate: ComputeGate, events: JobEvents, speed: TrainingSpeed,
                workers: Int, logger: Logger, evals: EvalRunner? = nil, identity: WorkerIdentity = WorkerIdentity()) {
        self.store = store; self.registry = registry; self.gate = gate; self.events = events; self.speed = speed
        self.workers = max(0, workers); self.logger = logger; self.evals = evals
        self.identity = identity
    }

    /// Creates the evaluations of jobs that succeeded just before the last stop; with workers, releases the jobs an
    /// earlier process of this node still held (running ones go back to the queue, to resume from their last
    /// checkpoint) and those whose lease has expired, then starts the validation thread, the training workers and the
    /// heartbeat. Jobs other live processes hold are theirs.
    public func start() throws {
        try createPendingEvaluations()
        guard workers > 0 else { return }
        logger.info("joining the job queue", metadata: ["worker": "\(identity)", "workers": "\(workers)",
                                                        "lease_seconds": "\(leaseSeconds)"])
        for job in try store.claimedJobs() {
            guard let lease = JobLease(job) else { continue }
            if identity.isEarlierProcessOfThisNode(lease.worker) {
                try transition(job.id, .foundClaimedAtStart, requiring: .held(lease))
            }
        }
        expireLapsedLeases()
        spawn("tailor-validate") { [self] in validationLoop() }
        for i in 0..<workers { spawn("tailor-train-\(i)") { [self] in workerLoop(name: "train-\(i)") } }
        spawn("tailor-lease") { [self] in heartbeatLoop() }
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [self] in
            body()
            condition.lock(); runningThreads -= 1; condition.broadcast(); condition.unlock()
        }
        t.name = name
        t.stackSize = 8 << 20
        condition.lock(); runningThreads += 1; threads.append(t); condition.unlock()
        t.start()
    }

    /// New or resumed work exists.
    public func wake() { condition.lock(); condition.broadcast(); condition.unlock() }

    /// Running jobs checkpoint at their next step and go back to the queue; returns when every thread has ended.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while runningThreads > 0 { condition.wait() }
        condition.unlock()
    }

    var isStopping: Bool { condition.lock(); defer { condition.unlock() }; return stopping }

    public var runningJobs: [RunningJobStatus] {
        condition.lock(); defer { condition.unlock() }
        return Array(progress.values)
    }

    func report(_ status: RunningJobStatus?) {
        condition.lock()
        if let status { progress[status.jobID] = status }
        condition.unlock()
    }

    public var queueDepth: Int { (try? store.jobs(withStatus: [.queued]).count) ?? 0 }

    // MARK: the lifecycle

    /// Applies `event` to the job in one store transaction — read, decide (JobLifecycle), write — so that no two
    /// writers can overwrite each other; `change` adds the caller's own fields to a change (never to an unchanged or
    /// refused outcome; it sees the new status already set, and must check it when the outcome may differ). The
    /// outcome's announcements are stored in the same transaction, then published; a job that has ended (terminal,
    /// no worker holding it) tells its subscribers so. Every change of a job's status goes through here (claims
    /// through `claim`). A worker passes `requiring: .held(lease)`: if its lease was taken over, nothing is written
    /// and `StoreError.leaseLost` is thrown.
    /// `evaluationOnSuccess` is written with the change when it leaves the job succeeded (Store.updateJobWithEvents).
    @discardableResult
    public func transition(_ id: String, _ event: LifecycleEvent, requiring requirement: LeaseRequirement? = nil,
                           evaluationOnSuccess: (eval: EvalRecord, runs: [EvalRunRecord])? = nil,
                           change: (inout JobRecord) throws -> Void = { _ in }) throws -> (outcome: LifecycleOutcome, job: JobRecord?) {
        var outcome = LifecycleOutcome.unchanged
        var ownLease: JobLease?
        if case .held(let lease) = requirement {
            ownLease = lease
            condition.lock(); settling[id] = lease; condition.unlock()
        }
        var keepSettling = false
        defer {
            if let ownLease, !keepSettling {
                condition.lock(); if settling[id] == ownLease { settling.removeValue(forKey: id) }; condition.unlock()
            }
        }
        let written = try store.updateJobWithEvents(id: id, requiring: requirement, evaluationOnSuccess: evaluationOnSuccess) { j -> [JobEventDraft] in
            outcome = JobLifecycle.apply(event, to: JobState(j))
            guard case .next(let state, let effects) = outcome else { return [] }
            j.status = state.status
            precondition(!state.claimed || j.claimedBy != nil, "only a claim (JobRunner.claim) gives a job a worker")
            if !state.claimed { j.claimedBy = nil; j.leaseExpiresMs = nil }
            if state.status != .running { j.estimatedFinish = nil }
            if state.status.isTerminal { j.finishedAt = j.finishedAt ?? Int(Date().timeIntervalSince1970) }
            switch event {
            case .failed(let e), .filesInvalid(let e): if state.status == .failed { j.error = e.json }
            case .released(let step, _): j.step = step
            default: break
            }
            try change(&j)
            // The announcements are stored with the change, so whoever reads the new status reads them too.
            return Self.announcements(effects)
        }
        if case .next(let state, let effects) = outcome, let written {
            keepSettling = !state.claimed   // the claim ended: its thread lets the lease go next
            published(event, state, effects, written)
        }
        return (outcome, written?.job)
    }

    private static func announcements(_ effects: [LifecycleEffect]) -> [JobEventDraft] {
        effects.compactMap { if case .announce(let message, let level) = $0 { JobEventDraft(level: level, message: message) } else { nil } }
    }

    private func published(_ event: LifecycleEvent, _ state: JobState, _ effects: [LifecycleEffect],
                           _ written: (job: JobRecord, events: [JobEventRecord])) {
        logger.debug("job transition", metadata: ["job": "\(written.job.id)", "event": "\(event.name)", "state": "\(state)"])
        events.publish(written.events, of: written.job.id)
        if state.status.isTerminal && !state.claimed { events.publishEnd(of: written.job.id) }
        if effects.contains(.wake) { wake() }
    }

    // MARK: the queue

    /// Claims the next job in `status` (queued: to train; validating_files: to validate) for `thread` of this process,
    /// through the lifecycle's `.claimed`, in one store transaction (Store.claimNextJob); the heartbeat renews its
    /// lease from then on, until `letGo`. Nil when there is nothing to claim.
    func claim(_ status: JobStatus, thread: String) throws -> (job: JobRecord, lease: JobLease)? {
        let worker = identity.worker(thread)
        var outcome = LifecycleOutcome.unchanged
        guard let written = try store.claimNextJob(in: status, worker: worker, leaseMilliseconds: leaseMilliseconds,
                                                   fair: status == .queued, { j -> [JobEventDraft]? in
            outcome = JobLifecycle.apply(.claimed, to: JobState(j))
            guard case .next(let state, let effects) = outcome, state.claimed else { return nil }
            j.status = state.status
            j.claimedBy = worker
            return Self.announcements(effects)
        }), case .next(let state, let effects) = outcome, let lease = JobLease(written.job) else { return nil }
        condition.lock(); held[written.job.id] = lease; lost.removeValue(forKey: written.job.id); condition.unlock()
        published(.claimed, state, effects, written)
        return (written.job, lease)
    }

    /// The thread is done with the job under `lease` (released, ended, or lost): the heartbeat stops renewing it.
    /// Only that lease: the validator lets a job go after its verdict, when a training thread may have claimed it anew.
    func letGo(_ id: String, _ lease: JobLease) {
        condition.lock()
        if held[id] == lease { held.removeValue(forKey: id); lost.removeValue(forKey: id) }
        if settling[id] == lease { settling.removeValue(forKey: id) }
        // Broadcast: a stopping heartbeat waits for the last job to be let go.
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the heartbeat found this lease of the job taken over.
    func hasLost(_ id: String, _ lease: JobLease) -> Bool {
        condition.lock(); defer { condition.unlock() }
        return lost[id] == lease
    }

    /// Renews this process's leases every third of the lease and re-queues the jobs of workers whose lease lapsed.
    /// Runs until the process stops and its threads have let their jobs go.
    private func heartbeatLoop() {
        condition.lock()
        while !(stopping && held.isEmpty) {
            condition.wait(until: Date().addingTimeInterval(leaseSeconds / 3))
            let leases = held
            condition.unlock()
            do {
                let gone = try store.renewLeases(leases, leaseMilliseconds: leaseMilliseconds)
                condition.lock()
                // A lease its thread let go meanwhile (the validator's, released with its verdict) is not lost, nor one
                // whose thread is writing its job's change (perhaps the end that made this renewal find it gone): a
                // lease truly taken over is found again at the next renewal, or refuses that change.
                let taken = gone.filter { held[$0] == leases[$0] && settling[$0] != leases[$0] }
                for id in taken { lost[id] = leases[id] }
                condition.unlock()
                for id in taken { logger.warning("lost the lease of a job: another worker took it over", metadata: ["job": "\(id)", "lease": "\(leases[id]!)"]) }
            } catch {
                logger.error("could not renew the leases of running jobs", metadata: ["error": "\(error)"])
            }
            expireLapsedLeases()
            condition.lock()
        }
        condition.unlock()
    }

    /// Sends every job whose lease lapsed (not this process's own) back through the lifecycle's `.leaseExpired` — or,
    /// at its `leaseLapseLimit`-th lapse, `.failed`; the store checks again, in the transaction, that the same lease is
    /// still there and still expired (so the count read before it is the row's: only such a transition changes it).
    func expireLapsedLeases() {
        do {
            for (id, lease) in try store.expiredLeases() {
                condition.lock(); let mine = held[id] == lease; condition.unlock()
                if mine { continue }   // renewed by the heartbeat, or refused to it (then `lost` stops the thread)
                do {
                    let lapses = (try store.job(id: id)?.leaseLapses ?? 0) + 1
                    let event: LifecycleEvent = lapses < Self.leaseLapseLimit ? .leaseExpired : .failed(JobError(
                        code: "worker_lost",
                        message: "The workers holding the job stopped renewing their lease \(lapses) times (each died, hung or lost the database while running it), so it is not tried again. Check the workers' logs, then create the job again.",
                        param: nil))
                    try transition(id, event, requiring: .expired(lease)) { j in j.leaseLapses = lapses }
                    logger.warning(lapses < Self.leaseLapseLimit ? "re-queued a job whose worker's lease expired" : "failed a job whose workers' leases expired too often",
                                   metadata: ["job": "\(id)", "lease": "\(lease)", "lapses": "\(lapses)"])
                } catch StoreError.leaseLost {
                    // Renewed, or retired by another process, in between.
                }
            }
        } catch {
            logger.error("could not look for expired leases", metadata: ["error": "\(error)"])
        }
    }

    // MARK: validation

    private func validationLoop() {
        var lastSweep = Date.distantPast
        while let (job, lease) = nextClaim(.validatingFiles, thread: "validate", every: 5, housekeeping: {
            // The validator's wake-ups also sweep expired files and uploads, at most every 5 s.
            guard Date().timeIntervalSince(lastSweep) >= 5 else { return }
            lastSweep = Date()
            do { try store.deleteExpiredFiles() } catch { logger.warning("could not remove expired files", metadata: ["error": "\(error)"]) }
            do { try store.expireUploads() } catch { logger.warning("could not expire uploads", metadata: ["error": "\(error)"]) }
        }) {
            do { try validate(job, lease: lease) } catch StoreError.leaseLost {
                logger.warning("stopped validating a job whose lease was taken over", metadata: ["job": "\(job.id)", "lease": "\(lease)"])
            } catch {
                logger.error("validating a job failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
                // If even that fails, the claim lapses and the job is validated again after the lease.
                do { try fail(job.id, JobError(code: "server_error", message: "Validation failed unexpectedly: \(error)", param: nil), validating: true, lease: lease) }
                catch { logger.error("could not fail a job", metadata: ["job": "\(job.id)", "error": "\(error)"]) }
            }
            letGo(job.id, lease)
        }
    }

    /// Waits for a job in `status` to claim, looking every `every` seconds (and whenever woken); nil once the runner
    /// is stopping. `housekeeping` runs at each look.
    private func nextClaim(_ status: JobStatus, thread: String, every seconds: Double,
                           housekeeping: () -> Void = {}) -> (job: JobRecord, lease: JobLease)? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            condition.unlock()
            housekeeping()
            var claimed: (job: JobRecord, lease: JobLease)?
            do { claimed = try claim(status, thread: thread) } catch {
                logger.error("could not claim a job", metadata: ["status": "\(status.rawValue)", "error": "\(error)"])
            }
            condition.lock()
            // Claimed just as the runner began to stop: the job runs, sees the stop at once and goes back to the queue.
            if let claimed { return claimed }
            if stopping { break }
            condition.wait(until: Date().addingTimeInterval(seconds))
        }
        return nil
    }

    private func validate(_ job: JobRecord, lease: JobLease) throws {
        let named = job.validationFile.map { "training file: \(job.trainingFile) and validation file: \($0)" } ?? "training file: \(job.trainingFile)"
        try events.emit(job.id, "Validating \(named)", lease: lease)
        func fail(_ e: JobError) throws { try self.fail(job.id, e, validating: true, lease: lease) }
        if let start = try registry.encoderDecoderStart(job.model, project: job.projectID),
           let t5 = registry.encoderDecoder(named: start.baseName) {
            TestHooks.reach(.validating, job: job.id, dataDirectory: store.dataDirectory)
            return try validateEncoderDecoder(job, t5, name: start.baseName, startModel: start.directory, lease: lease)
        }
        guard let (base, startModel) = try baseModel(for: job) else {
            return try fail(JobError(code: "model_not_found", message: "Model \(job.model) is not available for fine-tuning or does not exist.", param: "model"))
        }
        TestHooks.reach(.validating, job: job.id, dataDirectory: store.dataDirectory)
        let prepared: (train: PreparedDataset, valid: PreparedDataset?)
        switch try prepareData(job, base, lease: lease) {
        case .failure(let e): return try fail(e)
        case .success(let p): prepared = p
        }
        let options = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8))
        let method = job.trainingMethod
        // A DPO job counts pairs: two examples per line.
        let units = prepared.train.examples.count / (method == .dpo ? 2 : 1)
        let h = AutoHyperparameters.resolve(try JSONDecoder().decode(HyperparameterRequest.self, from: Data(job.hyperparameters.utf8)),
                                            examples: units, method: method)
        let config = options.trainingConfig(h, seed: job.seed)
        let steps = config.totalSteps(examples: units)
        let stepsPerEpoch = steps / max(1, h.nEpochs)
        // DPO also runs the reference model once over every answer (a forward alone: about a third of a step's work).
        let reference = method == .dpo ? (prepared.train.totalTokens + (prepared.valid?.totalTokens ?? 0)) / 3 : 0
        let forwardTokens = Double(prepared.train.totalTokens * h.nEpochs + (prepared.valid?.totalTokens ?? 0) * (h.nEpochs + 1) + reference)
        let seconds = forwardTokens / speed.tokensPerSecond(base)
        let disk = Self.diskNeeded(config, base.transformer.config)
        let longest = max(Trainer.longestUnit(prepared.train.examples, pairs: method == .dpo),
                          Trainer.longestUnit(prepared.valid?.examples ?? [], pairs: method == .dpo))
        let passTokens = max(config.maxTokensPerMicroBatch, longest)
        let memory = Self.memoryNeeded(config, base.transformer.config, tokens: passTokens)
        var plan = JobPlan(hyperparameters: h, totalSteps: steps, examples: prepared.train.examples.count,
                           tokens: prepared.train.totalTokens, lossTokens: prepared.train.lossTokens,
                           validationExamples: prepared.valid?.examples.count, validationTokens: prepared.valid?.totalTokens,
                           baseModel: base.name, startModel: startModel, diskBytes: disk, estimatedSeconds: Int(seconds.rounded()))
        plan.memoryBytes = memory.planned
        let noun = method == .dpo ? "answers" : "examples"
        var message = method == .dpo ? "Training file: \(units) preference pairs, " : "Training file: "
        message += "\(plan.examples) \(noun), \(plan.tokens) tokens (\(plan.lossTokens) trained on)"
        if let v = prepared.valid { message += "; validation file: \(v.examples.count) \(noun), \(v.totalTokens) tokens" }
        message += ". \(steps) steps (\(h.nEpochs) epochs × \(stepsPerEpoch) steps of \(h.batchSize) \(method == .dpo ? "pairs" : "examples"))"
        if let beta = h.beta { message += ", DPO β \(beta)" }
        message += "; estimated duration \(Self.duration(seconds)) at \(Int(speed.tokensPerSecond(base))) tokens/s on this machine."
        message += " Checkpoints and the model need about \(Self.megabytes(disk)) of disk."
        if config.isFull {
            message += startModel == nil ? " Full fine-tuning:" : " Full fine-tuning, continuing from the weights of \(job.model):"
            message += " every weight, its gradient and two AdamW moments in fp32 take \(Self.megabytes(FullParameters.bytes(base.transformer.config)));"
        }
        message += " Training needs about \(Self.megabytes(memory.planned)) of memory for passes of \(passTokens) tokens"
        message += memory.recomputed == 0 ? "." : " (\(memory.recomputed) of \(base.transformer.config.layers) layers recomputed in the backward pass)."
        try events.emit(job.id, message, data: plan.reportData, lease: lease)
        if config.isFull && memory.least > trainingMemoryLimit {
            return try fail(JobError(code: "invalid_training_type", message: "Full fine-tuning of \(base.name) needs about \(Self.megabytes(memory.least)) of memory (every weight, its gradient and two AdamW moments in fp32: \(Self.megabytes(FullParameters.bytes(base.transformer.config))), and the activations of a \(longest)-token example with every layer recomputed), but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Use LoRA (the default), shorten the longest examples, or raise the server's --training-memory-mb.", param: "tailor.training_type"))
        }
        if let startModel, let e = Self.continuationMismatch(job, full: config.isFull, start: startModel) { return try fail(e) }
        if memory.least > trainingMemoryLimit {
            return try fail(JobError(code: "invalid_training_file", message: "The longest example has \(longest) tokens; training on it needs about \(Self.megabytes(memory.least)) of memory even with every layer recomputed, but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Split or shorten the longest examples, or raise the server's --training-memory-mb.", param: "training_file"))
        }
        if let free = store.freeBytes(), free < disk {
            return try fail(JobError(code: "insufficient_storage", message: "This job needs about \(Self.megabytes(disk)) of disk for its checkpoints and model, but the server's data directory has \(Self.megabytes(free)) free. Free disk space on the server, then create the job again.", param: nil))
        }
        // The tokenized examples go with the plan, so a worker trains on exactly what was validated, without redoing it.
        let files = JobFiles(store: store, jobID: job.id)
        try files.writeDataset(train: prepared.train.examples, validation: prepared.valid?.examples ?? [])
        let eta = Int(Date().timeIntervalSince1970 + seconds)
        try transition(job.id, .filesValidated, requiring: .held(lease)) { j in
            j.plan = try plan.json()
            j.totalSteps = steps
            j.resolvedHyperparameters = String(decoding: try JSONEncoder().encode(h), as: UTF8.self)
            if j.status == .queued { j.estimatedFinish = eta }
        }
    }

    /// A job of the other kind than the fine-tuned model it continues (in `start`): a LoRA job on a fully fine-tuned
    /// model or a full one on a LoRA model. Refused at creation; a model deleted and re-made in between is refused at
    /// validation with this.
    static func continuationMismatch(_ job: JobRecord, full: Bool, start: String) -> JobError? {
        guard full != FullModelFiles.isFullModel(start) else { return nil }
        return JobError(code: "invalid_training_type", message: full
            ? "Full fine-tuning starts from a base model or a fully fine-tuned one; \(job.model) is a LoRA fine-tuned model."
            : "\(job.model) is a fully fine-tuned model: continue it with full fine-tuning (tailor.training_type full).", param: "model")
    }

    /// The base model a job trains, and the adapter it starts from when it continues a fine-tuned model.
    func baseModel(for job: JobRecord) throws -> (LanguageModel, String?)? {
        try registry.locate(job.model, project: job.projectID).map { ($0.base, $0.adapterDirectory) }
    }

    /// Disk a job fills at most: the checkpoints kept at once (the last three, the best, and the one being written),
    /// each holding the adapter and its two AdamW moments in fp32, and some slack (the model is one of them).
    /// Full fine-tuning: each checkpoint is the whole model in fp32, and only the newest two keep their moments
    /// (JobExecution drops older ones' once a newer checkpoint is written: only the newest is resumed from).
    static func diskNeeded(_ config: TrainingConfig, _ model: LlamaConfig) -> Int {
        if config.isFull {
            let weights = FullParameters.bytes(model) / 4
            return 5 * weights + 2 * 2 * weights + (64 << 20)
        }
        let adapter = config.lora.parameterCount(for: model) * MemoryLayout<Float>.size
        return 5 * 3 * adapter + (16 << 20)
    }

    /// Memory a job's training takes: the base model's f32 weights, the adapter with its gradients and two AdamW
    /// moments (full fine-tuning: every weight with its gradient and two moments), and the buffers of a pass of `tokens` tokens — as the activation budget plans them, and at the least
    /// (every layer recomputed).
    static func memoryNeeded(_ config: TrainingConfig, _ model: LlamaConfig, tokens: Int) -> (planned: Int, least: Int, recomputed: Int) {
        // Full fine-tuning: every weight, its gradient and two moments (the job's own copy; no shared frozen base).
        let fixed = config.isFull ? FullParameters.bytes(model) : FrozenBase.bytes(model) + 4 * 4 * config.lora.parameterCount(for: model)
        let rank = config.isFull ? 0 : config.lora.rank
        let planned = TrainingModel.plan(model, rank: rank, tokens: tokens, budget: config.effectiveActivationBudget, full: config.isFull)
        let least = TrainingModel.plan(model, rank: rank, tokens: tokens, budget: 0, full: config.isFull)
        return (fixed + planned.bytes, fixed + least.bytes, model.layers - planned.storedLayers)
    }

    public static func megabytes(_ bytes: Int) -> String { "\((bytes + (1 << 20) - 1) >> 20) MB" }

    static func duration(_ s: Double) -> String {
        s < 90 ? "\(Int(s.rounded())) s" : s < 5400 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600)
    }

    enum DataResult { case success((train: PreparedDataset, valid: PreparedDataset?)), failure(JobError) }

    /// Reads and tokenises the job's files; a bad file becomes OpenAI's job error (and error events per line).
    func prepareData(_ job: JobRecord, _ base: LanguageModel, lease: JobLease? = nil) throws -> DataResult {
        let limit = min(base.contextLength, maxExampleTokens)
        let mapping = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8)).fieldMapping
        func load(_ id: String, _ param: String) throws -> Result<PreparedDataset, JobError> {
            guard let f = try store.file(id: id, project: job.projectID) else {
                return .failure(JobError(code: "invalid_\(param)", message: "invalid \(param): \(id) has expired or was deleted before the job could read it; upload it again and create a new job", param: param))
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: store.contentPath(of: f)))
            let prepared = Dataset.prepare(data, model: base, maxTokens: limit,
                                           minimumExamples: param == "training_file" ? Dataset.minimumExamples : 1,
                                           method: job.trainingMethod,
                                           mapping: mapping)
            guard prepared.isValid else {
                for issue in prepared.issues.prefix(20) {
                    try events.emit(job.id, "\(param == "training_file" ? "Training" : "Validation") file \(id): \(issue)", level: "error", lease: lease)
                }
                let first = prepared.issues[0]
                if first.code == .tooFewExamples {
                    return .failure(JobError(code: "invalid_n_examples", message: first.detail, param: param))
                }
                let more = prepared.issues.count > 1 ? " (\(prepared.issues.count - 1) more problem(s) are listed in the job's events)" : ""
                let which = param == "training_file" ? "training" : "validation"
                return .failure(JobError(code: "invalid_\(param)",
                                         message: "The job failed due to an invalid \(which) file. Invalid file format. \(first)\(more)",
                                         param: param))
            }
            return .success(prepared)
        }
        let train: PreparedDataset
        switch try load(job.trainingFile, "training_file") {
        case .failure(let e): return .failure(e)
        case .success(let p): train = p
        }
        var valid: PreparedDataset?
        if let v = job.validationFile {
            switch try load(v, "validation_file") {
            case .failure(let e): return .failure(e)
            case .success(let p): valid = p
            }
            if valid?.format != train.format {
                return .failure(JobError(code: "invalid_validation_file", message: "The validation file is in \(valid?.format?.rawValue ?? "?") format but the training file in \(train.format?.rawValue ?? "?") format; use the same format for both", param: "validation_file"))
            }
        }
        return .success((train, valid))
    }

    /// Fails the job (a bad file found while validating, or anything unexpected) through the lifecycle, if `lease`
    /// still holds it.
    func fail(_ id: String, _ error: JobError, validating: Bool = false, lease: JobLease) throws {
        try transition(id, validating ? .filesInvalid(error) : .failed(error), requiring: .held(lease))
    }

    // MARK: workers

    private func workerLoop(name: String) {
        while let (job, lease) = nextClaim(.queued, thread: name, every: pollSeconds) {
            let execution = JobExecution(runner: self, job: job, lease: lease)
            do { try execution.run() } catch StoreError.leaseLost {
                logger.warning("stopped a job whose lease was taken over, without writing more", metadata: ["job": "\(job.id)", "lease": "\(lease)"])
            } catch {
                logger.error("a job failed unexpectedly", metadata: ["job": "\(job.id)", "error": "\(error)"])
                do {
                    if StorageFailure.isFull(error) {
                        try fail(job.id, JobError(code: "insufficient_storage", message: "The server's disk filled up while the job was saving its checkpoints or model, so the job stopped; its checkpoints were removed to give the space back. Free disk space on the server, then create the job again.", param: nil), lease: lease)
                        // Its checkpoints cannot be resumed from (the job has failed), and the disk needs the room.
                        execution.files.removeCheckpoints(store: store, registry: registry)
                    } else {
                        try fail(job.id, JobError(code: "server_error", message: "Training failed unexpectedly: \(error)", param: nil), lease: lease)
                    }
                } catch {
                    // The claim lapses and another attempt follows after the lease.
                    logger.error("could not fail a job", metadata: ["job": "\(job.id)", "error": "\(error)"])
                }
            }
            letGo(job.id, lease)
            condition.lock()
            progress.removeValue(forKey: job.id)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// `ft:{base}:{project}:{suffix}:{8 characters}`, OpenAI's shape.
    public static func fineTunedModelName(base: String, project: String, suffix: String?, jobID: String) -> String {
        let short = String(jobID.dropFirst("ftjob-".count).prefix(8))
        return "ft:\(base):\(project):\(suffix ?? ""):\(short)"
    }
}
