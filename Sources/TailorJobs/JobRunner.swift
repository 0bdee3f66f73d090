// The fine-tuning queue: a validation thread that checks new jobs' files and reports before they queue, and a pool
// of training workers (default one: this machine has two cores) that take queued jobs in order, one project not
// starving the others. Everything durable is in the store and under DATA/jobs/<id>, so a crash or restart resumes
// running jobs from their last checkpoint.
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
    // @unchecked Sendable: mutable state (executing, lastStart, progress, stopping) is guarded by `condition`.
    let store: Store
    let registry: ModelRegistry
    let gate: ComputeGate
    let events: JobEvents
    let speed: TrainingSpeed
    let logger: Logger
    /// Told when a succeeded job's evaluation has been created (nil: runs wait for the eval thread's next look).
    let evals: EvalRunner?
    public let workers: Int
    /// Longest example a job may contain (tokens), within the model's context; longer ones are reported at validation.
    public var maxExampleTokens = Int.max
    /// Memory one job's training may take (weights included); a job whose longest example needs more even with every
    /// layer recomputed is refused at validation. Half the machine's memory by default: the rest serves models.
    public var trainingMemoryLimit = Int(ProcessInfo.processInfo.physicalMemory / 2)
    private let condition = NSCondition()
    private var executing: Set<String> = []
    /// Jobs whose validation hit an unexpected error even when failing them: not retried until the next start.
    private var broken: Set<String> = []
    private var lastStart: [String: Int] = [:]
    private var progress: [String: RunningJobStatus] = [:]
    private var stopping = false
    private var threads: [Thread] = []
    private var runningThreads = 0

    public init(store: Store, registry: ModelRegistry, gate: ComputeGate, events: JobEvents, speed: TrainingSpeed,
                workers: Int, logger: Logger, evals: EvalRunner? = nil) {
        self.store = store; self.registry = registry; self.gate = gate; self.events = events; self.speed = speed
        self.workers = max(1, workers); self.logger = logger; self.evals = evals
    }

    /// Releases the jobs a stopped process still held (running ones go back to the queue, to resume from their last
    /// checkpoint) and creates the evaluations of jobs that succeeded just before it stopped, then starts the
    /// validation thread and the workers.
    public func start() throws {
        for job in try store.jobs(withStatus: JobStatus.allCases) where job.claimedBy != nil {
            try transition(job.id, .foundClaimedAtStart)
        }
        try createPendingEvaluations()
        spawn("tailor-validate") { [self] in validationLoop() }
        for i in 0..<workers { spawn("tailor-train-\(i)") { [self] in workerLoop(name: "tailor-train-\(i)") } }
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
    /// no worker holding it) tells its subscribers so. Every change of a job's status goes through here.
    @discardableResult
    public func transition(_ id: String, _ event: LifecycleEvent, worker: String? = nil,
                           change: (inout JobRecord) throws -> Void = { _ in }) throws -> (outcome: LifecycleOutcome, job: JobRecord?) {
        var outcome = LifecycleOutcome.unchanged
        let written = try store.updateJobWithEvents(id: id) { j -> [JobEventDraft] in
            outcome = JobLifecycle.apply(event, to: JobState(j))
            guard case .next(let state, let effects) = outcome else { return [] }
            j.status = state.status
            j.claimedBy = state.claimed ? (j.claimedBy ?? worker ?? "tailor") : nil
            if state.status != .running { j.estimatedFinish = nil }
            if state.status.isTerminal { j.finishedAt = j.finishedAt ?? Int(Date().timeIntervalSince1970) }
            switch event {
            case .failed(let e), .filesInvalid(let e): if state.status == .failed { j.error = e.json }
            case .released(let step): j.step = step
            default: break
            }
            try change(&j)
            // The announcements are stored with the change, so whoever reads the new status reads them too.
            return effects.compactMap { if case .announce(let message, let level) = $0 { JobEventDraft(level: level, message: message) } else { nil } }
        }
        if case .next(let state, let effects) = outcome, let written {
            logger.debug("job transition", metadata: ["job": "\(id)", "event": "\(event.name)", "state": "\(state)"])
            events.publish(written.events, of: id)
            if state.status.isTerminal && !state.claimed { events.publishEnd(of: id) }
            if effects.contains(.wake) { wake() }
        }
        return (outcome, written?.job)
    }

    // MARK: validation

    private func validationLoop() {
        while true {
            condition.lock()
            var next: JobRecord?
            while !stopping {
                // The validator's 5 s wake-ups also sweep expired files.
                do { try store.deleteExpiredFiles() } catch { logger.warning("could not remove expired files", metadata: ["error": "\(error)"]) }
                next = (try? store.jobs(withStatus: [.validatingFiles]))?.first { !executing.contains($0.id) && !broken.contains($0.id) }
                if next != nil { break }
                condition.wait(until: Date().addingTimeInterval(5))
            }
            if stopping { condition.unlock(); return }
            executing.insert(next!.id)
            condition.unlock()
            do { try validate(next!) } catch {
                logger.error("validating a job failed", metadata: ["job": "\(next!.id)", "error": "\(error)"])
                do { try fail(next!.id, JobError(code: "server_error", message: "Validation failed unexpectedly: \(error)", param: nil), validating: true) }
                catch { condition.lock(); broken.insert(next!.id); condition.unlock() }
            }
            condition.lock(); executing.remove(next!.id); condition.broadcast(); condition.unlock()
        }
    }

    private func validate(_ job: JobRecord) throws {
        let named = job.validationFile.map { "training file: \(job.trainingFile) and validation file: \($0)" } ?? "training file: \(job.trainingFile)"
        try events.emit(job.id, "Validating \(named)")
        guard let (base, startAdapter) = try baseModel(for: job) else {
            return try fail(job.id, JobError(code: "model_not_found", message: "Model \(job.model) is not available for fine-tuning or does not exist.", param: "model"), validating: true)
        }
        TestHooks.reach(.validating, job: job.id, dataDirectory: store.dataDirectory)
        let prepared: (train: PreparedDataset, valid: PreparedDataset?)
        switch try prepareData(job, base) {
        case .failure(let e): return try fail(job.id, e, validating: true)
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
        let longest = (prepared.train.examples + (prepared.valid?.examples ?? [])).map(\.tokens.count).max() ?? 0
        let passTokens = max(config.maxTokensPerMicroBatch, longest)
        let memory = Self.memoryNeeded(config, base.transformer.config, tokens: passTokens)
        var plan = JobPlan(hyperparameters: h, totalSteps: steps, examples: prepared.train.examples.count,
                           tokens: prepared.train.totalTokens, lossTokens: prepared.train.lossTokens,
                           validationExamples: prepared.valid?.examples.count, validationTokens: prepared.valid?.totalTokens,
                           baseModel: base.name, startAdapter: startAdapter, diskBytes: disk, estimatedSeconds: Int(seconds.rounded()))
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
            message += " Full fine-tuning: every weight, its gradient and two AdamW moments in fp32 take \(Self.megabytes(FullParameters.bytes(base.transformer.config)));"
        }
        message += " Training needs about \(Self.megabytes(memory.planned)) of memory for passes of \(passTokens) tokens"
        message += memory.recomputed == 0 ? "." : " (\(memory.recomputed) of \(base.transformer.config.layers) layers recomputed in the backward pass)."
        try events.emit(job.id, message, data: plan.reportData)
        if config.isFull && memory.least > trainingMemoryLimit {
            return try fail(job.id, JobError(code: "invalid_training_type", message: "Full fine-tuning of \(base.name) needs about \(Self.megabytes(memory.least)) of memory (every weight, its gradient and two AdamW moments in fp32: \(Self.megabytes(FullParameters.bytes(base.transformer.config))), and the activations of a \(longest)-token example with every layer recomputed), but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Use LoRA (the default), shorten the longest examples, or raise the server's --training-memory-mb.", param: "tailor.training_type"), validating: true)
        }
        if config.isFull && startAdapter != nil {
            return try fail(job.id, JobError(code: "invalid_training_type", message: "Full fine-tuning starts from a base model; \(job.model) is a fine-tuned model.", param: "model"), validating: true)
        }
        if memory.least > trainingMemoryLimit {
            return try fail(job.id, JobError(code: "invalid_training_file", message: "The longest example has \(longest) tokens; training on it needs about \(Self.megabytes(memory.least)) of memory even with every layer recomputed, but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Split or shorten the longest examples, or raise the server's --training-memory-mb.", param: "training_file"), validating: true)
        }
        if let free = store.freeBytes(), free < disk {
            return try fail(job.id, JobError(code: "insufficient_storage", message: "This job needs about \(Self.megabytes(disk)) of disk for its checkpoints and model, but the server's data directory has \(Self.megabytes(free)) free. Free disk space on the server, then create the job again.", param: nil), validating: true)
        }
        // The tokenized examples go with the plan, so a worker trains on exactly what was validated, without redoing it.
        let files = JobFiles(store: store, jobID: job.id)
        try files.writeDataset(train: prepared.train.examples, validation: prepared.valid?.examples ?? [])
        let eta = Int(Date().timeIntervalSince1970 + seconds)
        try transition(job.id, .filesValidated) { j in
            j.plan = try plan.json()
            j.totalSteps = steps
            j.resolvedHyperparameters = String(decoding: try JSONEncoder().encode(h), as: UTF8.self)
            if j.status == .queued { j.estimatedFinish = eta }
        }
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
        let planned = TrainingModel.plan(model, rank: rank, tokens: tokens, budget: config.effectiveActivationBudget)
        let least = TrainingModel.plan(model, rank: rank, tokens: tokens, budget: 0)
        return (fixed + planned.bytes, fixed + least.bytes, model.layers - planned.storedLayers)
    }

    public static func megabytes(_ bytes: Int) -> String { "\((bytes + (1 << 20) - 1) >> 20) MB" }

    static func duration(_ s: Double) -> String {
        s < 90 ? "\(Int(s.rounded())) s" : s < 5400 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600)
    }

    enum DataResult { case success((train: PreparedDataset, valid: PreparedDataset?)), failure(JobError) }

    /// Reads and tokenises the job's files; a bad file becomes OpenAI's job error (and error events per line).
    func prepareData(_ job: JobRecord, _ base: LanguageModel) throws -> DataResult {
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
                    try events.emit(job.id, "\(param == "training_file" ? "Training" : "Validation") file \(id): \(issue)", level: "error")
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

    /// Fails the job (a bad file found while validating, or anything unexpected) through the lifecycle.
    func fail(_ id: String, _ error: JobError, validating: Bool = false) throws {
        try transition(id, validating ? .filesInvalid(error) : .failed(error))
    }

    // MARK: workers

    private func workerLoop(name: String) {
        while true {
            condition.lock()
            var next: JobRecord?
            while !stopping {
                next = pickNext()
                if next != nil { break }
                condition.wait(until: Date().addingTimeInterval(5))
            }
            if stopping { condition.unlock(); return }
            executing.insert(next!.id)
            lastStart[next!.projectID] = Int(Date().timeIntervalSince1970 * 1000)
            condition.unlock()
            let execution = JobExecution(runner: self, job: next!, worker: name)
            do { try execution.run() } catch {
                logger.error("a job failed unexpectedly", metadata: ["job": "\(next!.id)", "error": "\(error)"])
                do {
                    if StorageFailure.isFull(error) {
                        // Its checkpoints cannot be resumed from (the job has failed), and the disk needs the room.
                        execution.files.removeCheckpoints(store: store, registry: registry)
                        try fail(next!.id, JobError(code: "insufficient_storage", message: "The server's disk filled up while the job was saving its checkpoints or model, so the job stopped; its checkpoints were removed to give the space back. Free disk space on the server, then create the job again.", param: nil))
                    } else {
                        try fail(next!.id, JobError(code: "server_error", message: "Training failed unexpectedly: \(error)", param: nil))
                    }
                } catch { condition.lock(); broken.insert(next!.id); condition.unlock() }
            }
            condition.lock()
            executing.remove(next!.id)
            progress.removeValue(forKey: next!.id)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The oldest queued job of the project that started a job least recently (fair across projects). Call locked.
    private func pickNext() -> JobRecord? {
        guard let queued = try? store.jobs(withStatus: [.queued]) else { return nil }
        let candidates = queued.filter { !executing.contains($0.id) && !broken.contains($0.id) }
        var firstPerProject: [String: JobRecord] = [:]
        for j in candidates where firstPerProject[j.projectID] == nil { firstPerProject[j.projectID] = j }
        return firstPerProject.values.min { a, b in
            let la = lastStart[a.projectID] ?? 0, lb = lastStart[b.projectID] ?? 0
            return la != lb ? la < lb : a.createdAt < b.createdAt
        }
    }

    /// `ft:{base}:{project}:{suffix}:{8 characters}`, OpenAI's shape.
    public static func fineTunedModelName(base: String, project: String, suffix: String?, jobID: String) -> String {
        let short = String(jobID.dropFirst("ftjob-".count).prefix(8))
        return "ft:\(base):\(project):\(suffix ?? ""):\(short)"
    }
}
