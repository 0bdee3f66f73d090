// One run of one claimed job on a worker thread: training from the validated plan, and its end — `succeeded`, or back
// to `paused`, `cancelled` or the queue — each through the lifecycle (JobRunner.transition). It is the Trainer's
// observer: steps become metrics events and step_metrics.csv rows, checkpoints become rows and servable
// `ft:…:ckpt-step-N` models (the last three and the best are kept). Every row it writes names its lease: once another
// worker has taken the job over, the store refuses them (`leaseLost`) and the run stops without writing more.
import Foundation
import Logging
import TailorEngine
import TailorStore

final class JobExecution: TrainingObserver {
    let runner: JobRunner
    var job: JobRecord
    var store: Store { runner.store }
    let files: JobFiles
    /// The claim this run holds the job under.
    let lease: JobLease
    var modelName: String = ""
    /// The trainer stopped because the job could not be read from the database (see trainerStopRequest).
    var unreachable = false
    /// The decoder being trained; nil for an encoder–decoder job (runEncoderDecoder).
    var base: LanguageModel?
    var plan: JobPlan!
    /// A moving average of step durations, for estimated_finish.
    var secondsPerStep: Double?
    var lastMetrics: StepMetrics?
    /// The job's model is its best checkpoint rather than its last (tailor.use_best_checkpoint).
    var usesBestCheckpoint = false
    /// Full fine-tuning: checkpoints are whole models, and only the newest keeps its optimizer moments.
    var isFull = false

    init(runner: JobRunner, job: JobRecord, lease: JobLease) {
        self.runner = runner
        self.job = job
        self.lease = lease
        files = JobFiles(store: runner.store, jobID: job.id)
    }

    /// Trains the claimed job from its plan and the dataset validation wrote, and ends it through the lifecycle.
    func run() throws {
        guard let planJSON = job.plan else { throw JobExecutionError.noPlan(job.id) }
        plan = try JobPlan.decode(planJSON)
        if let t5 = runner.registry.encoderDecoder(named: plan.baseModel), let directory = runner.registry.encoderDecoderDirectory(named: plan.baseModel) {
            return try runEncoderDecoder(t5, directory: directory)
        }
        guard let base = runner.registry.base(named: plan.baseModel) else {
            return try runner.fail(job.id, JobError(code: "model_not_found", message: "Base model \(plan.baseModel) is no longer served; add it back with --model and create the job again.", param: "model"), lease: lease)
        }
        self.base = base
        TestHooks.reach(.claimed, job: job.id, dataDirectory: store.dataDirectory)
        let data = try files.readDataset()
        let options = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8))
        usesBestCheckpoint = options.useBestCheckpoint == true
        var config = options.trainingConfig(plan.hyperparameters, seed: job.seed)
        // Continuing a fine-tuned model: its adapter's shape decides the LoRA settings.
        var startAdapter: LoRAAdapter? = nil
        if let dir = plan.startModel, !config.isFull {
            let a = try PEFTAdapter.read(directory: dir, config: base.transformer.config)
            config.lora.rank = a.rank; config.lora.alpha = a.alpha; config.lora.targets = a.targets
            startAdapter = a
        }
        // One long example (or preference pair) must fit a single pass; the activation budget decides how much of it
        // is recomputed.
        let pairs = config.preferenceBeta != nil
        let longest = max(Trainer.longestUnit(data.train, pairs: pairs), Trainer.longestUnit(data.validation, pairs: pairs))
        config.maxTokensPerMicroBatch = max(config.maxTokensPerMicroBatch, longest)
        let resume = try begin()

        runner.gate.enterTraining()
        let trainer: Trainer
        if config.isFull {
            // Full fine-tuning trains a copy of its own — of the base's weights, or of the fully fine-tuned model's
            // it continues; each checkpoint is a whole Hugging Face model directory. A resumed job's checkpoint holds
            // every weight, so it starts from the base's copy rather than reading the continued model first.
            let start = resume == nil ? try plan.startModel.map { try ModelLoader.loadTransformer(path: $0) } ?? base.transformer
                                      : base.transformer
            trainer = Trainer(full: FullParameters(start), baseModelName: base.name, train: data.train,
                              validation: data.validation, config: config)
            trainer.modelFiles = try FullModelFiles.companions(of: base)
        } else {
            let frozen = runner.registry.frozenBase(base)
            trainer = Trainer(base: frozen, baseModelName: base.name, train: data.train, validation: data.validation, config: config)
        }
        isFull = config.isFull
        trainer.model.yieldPoint = { [gate = runner.gate] in gate.trainingYieldPoint() }
        trainer.observer = self
        let result: TrainingResult
        do {
            defer { runner.gate.exitTraining() }
            result = try trainer.run(resumingFrom: resume?.directory, startingFrom: startAdapter)
        }
        try finish(result.outcome, result.state, options: options, trainedTokens: plan.tokens * plan.hyperparameters.nEpochs)
    }

    /// An encoder–decoder (T5) job: a LoRA adapter trained by T5Trainer on the pairs validation wrote — or, in full
    /// fine-tuning, every weight of a copy read from the base's directory, each checkpoint a Hugging Face T5
    /// directory — with the same events, checkpoints, stops and end as a decoder's.
    func runEncoderDecoder(_ model: T5Model, directory: String) throws {
        TestHooks.reach(.claimed, job: job.id, dataDirectory: store.dataDirectory)
        let data = try files.readPairs()
        let options = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8))
        usesBestCheckpoint = options.useBestCheckpoint == true
        var config = options.trainingConfig(plan.hyperparameters, seed: job.seed)
        // Continuing a fine-tuned model: its adapter's shape decides the LoRA settings, as for a decoder.
        if let dir = plan.startModel, !config.isFull { config.lora = try T5Model.adapterConfig(directory: dir, dropout: config.lora.dropout) }
        let resume = try begin()
        let trainer: T5Trainer
        if config.isFull {
            // Read from the base's directory — or the fully fine-tuned model's it continues — straight into the
            // trainer's buffers (a resume then loads its checkpoint).
            let from = plan.startModel ?? directory
            trainer = T5Trainer(full: try T5FullParameters(directory: from, config: model.config), baseModelName: plan.baseModel,
                                train: data.train, validation: data.validation, config: config)
            trainer.modelFiles = T5FullParameters.companions(of: from)
        } else {
            trainer = T5Trainer(model: model, baseModelName: plan.baseModel, train: data.train, validation: data.validation, config: config)
        }
        isFull = config.isFull
        trainer.yieldPoint = { [gate = runner.gate] in gate.trainingYieldPoint() }
        trainer.observer = self
        runner.gate.enterTraining()
        let result: T5TrainingResult
        do {
            defer { runner.gate.exitTraining() }
            result = try trainer.run(resumingFrom: resume?.directory, startingFrom: config.isFull ? nil : plan.startModel)
        }
        try finish(result.outcome, result.state, options: options, trainedTokens: plan.tokens * plan.hyperparameters.nEpochs)
    }

    /// Names the model, marks the job started (or resumed from its latest checkpoint) and says so; returns the
    /// checkpoint to resume from.
    private func begin() throws -> CheckpointRecord? {
        let project = try store.listProjects().first { $0.id == job.projectID }?.name ?? "default"
        modelName = JobRunner.fineTunedModelName(base: plan.baseModel, project: project,
                                                 suffix: job.suffix, jobID: job.id)
        try FileManager.default.createDirectory(atPath: files.checkpoints, withIntermediateDirectories: true)
        let resume = try latestCheckpoint()
        let firstStart = job.startedAt == nil
        job = try store.updateJob(id: job.id, lease: lease) { j in
            j.startedAt = j.startedAt ?? Int(Date().timeIntervalSince1970)
            j.attempts += 1
            if let resume { j.step = resume.stepNumber }
        } ?? job
        if let resume {
            try truncateCSV(toStep: resume.stepNumber)
            try store.deleteMetricsEvents(job: job.id, afterStep: resume.stepNumber, lease: lease)
            try runner.events.emit(job.id, "Fine-tuning job resumed from step \(resume.stepNumber) (checkpoint \(resume.id))", lease: lease)
        } else {
            try? FileManager.default.removeItem(atPath: files.csv)
            // A run that stopped before its first checkpoint (its worker died or lost the lease) logged steps that run again.
            if !firstStart { try store.deleteMetricsEvents(job: job.id, afterStep: 0, lease: lease) }
            try runner.events.emit(job.id, firstStart ? "Fine-tuning job started" : "Fine-tuning job restarted", lease: lease)
        }
        return resume
    }

    func latestCheckpoint() throws -> CheckpointRecord? {
        try store.checkpoints(job: job.id).last { FileManager.default.fileExists(atPath: $0.directory + "/trainer_state.json") }
    }

    // MARK: finishing

    private func finish(_ outcome: TrainingOutcome, _ state: TrainerState, options: JobOptions, trainedTokens: Int) throws {
        switch outcome {
        case .completed, .earlyStopped:
            if case .earlyStopped(let step) = outcome {
                try runner.events.emit(job.id, "Early stopping at step \(step): the full validation loss did not improve for \(options.earlyStoppingPatience ?? 0) epochs", lease: lease)
            }
            TestHooks.reach(.finishing, job: job.id, dataDirectory: store.dataDirectory)
            try succeed(state, options: options, trainedTokens: trainedTokens)
        case .stopped(let step):
            // Paused, cancelled, or the server is stopping: the lifecycle says which, from the job's status.
            try runner.transition(job.id, .released(atStep: step, unreachable: unreachable), requiring: .held(lease))
        }
    }

    /// Publishes the model — a reference to its checkpoint (the last, or the best with use_best_checkpoint), not a
    /// copy — and the results file in the same transaction that ends the job: a cancel that raced the last step wins,
    /// and the result is withdrawn again.
    private func succeed(_ state: TrainerState, options: JobOptions, trainedTokens: Int) throws {
        let checkpoints = try store.checkpoints(job: job.id)
        guard let last = checkpoints.last, last.stepNumber == state.step else {
            throw JobExecutionError.noFinalCheckpoint(job.id, step: state.step)
        }
        var chosen = last
        if usesBestCheckpoint, let bestStep = state.bestStep, let best = checkpoints.first(where: { $0.stepNumber == bestStep }) {
            chosen = best
            try runner.events.emit(job.id, "Using the checkpoint of step \(bestStep), which had the lowest full validation loss", lease: lease)
        }
        let project = try store.listProjects().first { $0.id == job.projectID }?.name ?? "default"
        let model = FineTunedModelRecord(id: modelName, projectID: job.projectID, baseModel: plan.baseModel, jobID: job.id,
                                         adapterDirectory: chosen.directory, createdAt: Int(Date().timeIntervalSince1970), ownedBy: project)
        try store.addModel(model, lease: lease)
        let csv = (try? Data(contentsOf: URL(fileURLWithPath: files.csv))) ?? Data(Self.csvHeader.utf8)
        let results: FileRecord
        let outcome: LifecycleOutcome, succeeded: JobRecord?
        do {
            results = try store.createFile(project: job.projectID, filename: "step_metrics.csv", purpose: "fine-tune-results", bytes: Array(csv))
        } catch {
            _ = try? store.deleteModel(id: model.id, project: job.projectID)
            throw error
        }
        // The evaluation (eval and runs) is written in the transaction that ends the job, so whoever sees the job
        // succeeded finds it; a cancel that wins writes neither.
        let evaluation = job.evaluationFile == nil ? nil : runner.evaluationForSuccess(job, model: modelName)
        do {
            (outcome, succeeded) = try runner.transition(job.id, .succeeded(model: modelName), requiring: .held(lease),
                                                         evaluationOnSuccess: evaluation?.records) { j in
            guard j.status == .succeeded else { return }   // a cancel won: the job keeps no result
            j.fineTunedModel = self.modelName
            j.trainedTokens = trainedTokens
            j.resultFiles = "[\"\(results.id)\"]"
            if let evaluation { j.evaluationRuns = evaluation.link.json }
            }
        } catch {
            // Taken over (or the store failed) between the model's row and the success: the row goes again.
            _ = try? store.deleteModel(id: model.id, project: job.projectID)
            _ = try? store.deleteFile(id: results.id, project: job.projectID)
            throw error
        }
        let stepName = "\(modelName):ckpt-step-\(last.stepNumber)"
        guard case .next(let state, let effects) = outcome, state.status == .succeeded, !effects.contains(.discardResult) else {
            _ = try store.deleteModel(id: model.id, project: job.projectID)
            if last.modelName == modelName { try store.renameCheckpoint(id: last.id, to: stepName) }
            _ = try store.deleteFile(id: results.id, project: job.projectID)
            return
        }
        // The last checkpoint carries the model's name (stopped early, it was written under its step's name).
        if !usesBestCheckpoint && last.modelName != modelName { try store.renameCheckpoint(id: last.id, to: modelName) }
        if let succeeded, JobEvaluation.Link.decode(succeeded.evaluationRuns)?.created == true {
            runner.logger.info("job evaluation created", metadata: ["job": "\(job.id)", "eval": "\(evaluation?.link.evalID ?? "")"])
            runner.evals?.wake()
        }
    }

    // MARK: TrainingObserver

    func trainer(didEvaluateBaseline e: Evaluation) {
        // DPO measures the loss per pair and how often a pair is ranked right (log 2 and 0 before any update).
        let format = plan.hyperparameters.beta == nil
            ? "Base model before training: full validation loss=%.4f, full validation mean token accuracy=%.3f"
            : "Before training: full validation DPO loss=%.4f, reward accuracy=%.3f"
        try? runner.events.emit(job.id, String(format: format, e.loss, e.accuracy),
                                type: "metrics", data: ["step": 0, "full_valid_loss": e.loss, "full_valid_mean_token_accuracy": e.accuracy],
                                lease: lease)
    }

    func trainer(didFinishStep m: StepMetrics) {
        lastMetrics = m
        if let base { runner.speed.record(base, tokens: m.tokens, seconds: m.seconds) }
        var data: [String: Any] = ["step": m.step, "train_loss": m.trainLoss, "train_mean_token_accuracy": m.trainAccuracy,
                                   "total_steps": m.totalSteps, "learning_rate": Double(m.learningRate), "epoch": m.epoch]
        var message = String(format: "Step %d/%d: training loss=%.2f", m.step, m.totalSteps, m.trainLoss)
        if let chosen = m.chosenReward, let rejected = m.rejectedReward {
            // What DPO users watch (TRL's rewards/*): the implicit rewards, their margin and how often the pair is ranked right.
            data["chosen_reward"] = chosen; data["rejected_reward"] = rejected
            data["reward_margin"] = chosen - rejected; data["reward_accuracy"] = m.trainAccuracy
            message += String(format: ", reward margin=%.3f, reward accuracy=%.2f", chosen - rejected, m.trainAccuracy)
        }
        if let v = m.validLoss {
            data["valid_loss"] = v; data["valid_mean_token_accuracy"] = m.validAccuracy ?? 0
            message += String(format: ", validation loss=%.2f", v)
        }
        if let v = m.fullValidLoss {
            data["full_valid_loss"] = v; data["full_valid_mean_token_accuracy"] = m.fullValidAccuracy ?? 0
            message += String(format: ", full validation loss=%.2f", v)
        }
        // Refused once the job was taken over; the next stop request ends the run.
        guard (try? runner.events.emit(job.id, message, type: "metrics", data: data, lease: lease)) != nil else { return }
        appendCSV(m)
        let tps = base.map { runner.speed.tokensPerSecond($0) } ?? Double(m.tokens) / max(m.seconds, 1e-9)
        secondsPerStep = secondsPerStep.map { 0.8 * $0 + 0.2 * m.seconds } ?? m.seconds
        let eta = Int(Date().timeIntervalSince1970 + secondsPerStep! * Double(m.totalSteps - m.step))
        _ = try? store.updateJob(id: job.id, lease: lease) { j in
            j.step = m.step
            j.trainedTokens = m.tokensSoFar
            if j.status == .running { j.estimatedFinish = eta }
        }
        runner.report(RunningJobStatus(jobID: job.id, projectID: job.projectID, step: m.step, totalSteps: m.totalSteps, tokensPerSecond: tps, estimatedFinish: eta))
        TestHooks.reach(.step, job: job.id, dataDirectory: store.dataDirectory)
    }

    /// None once the job was taken over: the files under DATA/jobs/<id> are its new worker's.
    func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? {
        holdsLease() ? files.checkpointDirectory(step: step) : nil
    }

    /// Whether the job is still this run's: the heartbeat has not found the lease lost, and the row still names it.
    func holdsLease() -> Bool {
        guard !runner.hasLost(job.id, lease), let j = try? store.job(id: job.id) else { return false }
        return JobLease(j) == lease
    }

    func trainer(didWriteCheckpoint dir: String, step: Int, metrics m: StepMetrics) {
        // OpenAI names the last checkpoint like the fine-tuned model itself, and so does its event: the id it gives
        // is the one GET /v1/models answers to.
        let name = step == plan.totalSteps && !usesBestCheckpoint ? modelName : "\(modelName):ckpt-step-\(step)"
        var metrics: [String: Any] = ["step": step, "train_loss": m.trainLoss, "train_mean_token_accuracy": m.trainAccuracy]
        if let v = m.validLoss { metrics["valid_loss"] = v; metrics["valid_mean_token_accuracy"] = m.validAccuracy ?? 0 }
        if let v = m.fullValidLoss { metrics["full_valid_loss"] = v; metrics["full_valid_mean_token_accuracy"] = m.fullValidAccuracy ?? 0 }
        let json = (try? JSONSerialization.data(withJSONObject: metrics, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let record = CheckpointRecord(id: IDGenerator.make(prefix: "ftckpt_"), jobID: job.id, stepNumber: step,
                                      createdAt: Int(Date().timeIntervalSince1970), modelName: name, metrics: json, directory: dir)
        do {
            if let existing = try store.checkpoints(job: job.id).first(where: { $0.stepNumber == step }) {
                try store.deleteCheckpoint(id: existing.id, job: job.id, lease: lease)
            }
            try store.addCheckpoint(record, lease: lease)
            try runner.events.emit(job.id, "Checkpoint created at step \(step) with Snapshot ID: \(name)", lease: lease)
            try prune()
            if isFull { dropOlderMoments(keeping: dir) }
        } catch {
            runner.logger.error("could not record a checkpoint", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Keeps the last three checkpoints and the one with the best full validation loss; removes the rest.
    func prune() throws {
        let all = try store.checkpoints(job: job.id)
        guard all.count > 3 else { return }
        func fullValid(_ c: CheckpointRecord) -> Double? {
            (try? JSONSerialization.jsonObject(with: Data(c.metrics.utf8)) as? [String: Any])?["full_valid_loss"] as? Double
        }
        let best = all.compactMap { c in fullValid(c).map { (c, $0) } }.min { $0.1 < $1.1 }?.0
        for c in all.dropLast(3) where c.id != best?.id { try files.remove(c, store: store, registry: runner.registry, lease: lease) }
    }

    /// A full checkpoint's AdamW moments are twice its weights and serve only a resume, which starts from the newest
    /// checkpoint: older ones keep their model (servable as ckpt-step-N) and lose their moments.
    func dropOlderMoments(keeping newest: String) {
        for c in (try? store.checkpoints(job: job.id)) ?? [] where c.directory != newest {
            try? FileManager.default.removeItem(atPath: (c.directory as NSString).appendingPathComponent("optimizer"))
        }
    }

    func trainerStopRequest() -> TrainingStop? {
        let row: JobRecord?
        do { row = try store.job(id: job.id) } catch {
            // The database is away: stop (nothing this run does can be recorded), and say so when letting the job go.
            runner.logger.warning("could not read a running job from the database; stopping it", metadata: ["job": "\(job.id)", "error": "\(error)"])
            unreachable = true
            return .abandon
        }
        guard let j = row else { return .abandon }
        // Taken over: stop at once, writing nothing (not even a checkpoint: the job's files are another worker's now).
        guard JobLease(j) == lease, !runner.hasLost(job.id, lease) else { return .abandon }
        if runner.isStopping { return .pause }
        return JobLifecycle.directive(JobState(j))
    }

    // MARK: step_metrics.csv

    static let csvHeader = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy\n"
    /// A DPO job's rows add its rewards (train_accuracy is then the reward accuracy, and the losses DPO's).
    static let preferenceColumns = ",chosen_reward,rejected_reward,reward_margin"

    func appendCSV(_ m: StepMetrics) {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        var row = "\(m.step),\(f(m.trainLoss)),\(f(m.trainAccuracy)),\(f(m.validLoss)),\(f(m.validAccuracy)),\(f(m.fullValidLoss)),\(f(m.fullValidAccuracy))"
        var header = Self.csvHeader
        if let chosen = m.chosenReward, let rejected = m.rejectedReward {
            row += ",\(f(chosen)),\(f(rejected)),\(f(chosen - rejected))"
            header = header.dropLast() + Self.preferenceColumns + "\n"
        }
        row += "\n"
        let fm = FileManager.default
        if !fm.fileExists(atPath: files.csv) { fm.createFile(atPath: files.csv, contents: Data(header.utf8)) }
        if let h = FileHandle(forWritingAtPath: files.csv) {
            h.seekToEndOfFile(); h.write(Data(row.utf8)); try? h.synchronize(); try? h.close()
        }
    }

    /// After a crash the CSV may hold steps past the checkpoint we resume from; those steps will run again.
    func truncateCSV(toStep step: Int) throws {
        guard let text = try? String(contentsOfFile: files.csv, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let n = Int(line.split(separator: ",").first ?? "") else { return true }
            return n <= step
        }
        try writeFileAtomically(Data((kept.joined(separator: "\n") + "\n").utf8), to: files.csv)
    }
}

enum JobExecutionError: Error, CustomStringConvertible {
    case noPlan(String)
    case noFinalCheckpoint(String, step: Int)
    var description: String {
        switch self {
        case .noPlan(let id): "job \(id) was queued without a validated plan"
        case .noFinalCheckpoint(let id, let step): "job \(id) finished at step \(step) but its checkpoint of that step was not recorded"
        }
    }
}
