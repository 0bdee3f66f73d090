// Validating a job on an encoder–decoder (T5) base: the files become (source, target) pairs through the job's field
// mapping (prompt/completion by default) with T5Dataset, problems become the job's error and error events by line
// as a decoder job's do, and the plan — hyperparameters, steps, the pairs' size, the memory of the longest pass —
// is written with the tokenized pairs for the worker (JobExecution.runEncoderDecoder trains them with T5Trainer).
// A LoRA adapter, or (tailor.training_type full) every weight: then the job's own fp32 copy with its gradients and
// two AdamW moments (16 bytes a weight) and the activations must fit the server's training memory, or the job fails
// here with the figure. A job on a LoRA fine-tuned T5 model continues its adapter, a full job on a fully fine-tuned
// one its weights. DPO of T5 models is refused when the job is created.
import Foundation
import TailorEngine
import TailorStore

extension JobRunner {
    /// `startModel`: the directory of the fine-tuned model the job continues (a LoRA job takes its adapter's shape, a
    /// full job its weights), nil for a job on the base `name`.
    func validateEncoderDecoder(_ job: JobRecord, _ model: T5Model, name: String, startModel: String?, lease: JobLease) throws {
        func fail(_ e: JobError) throws { try self.fail(job.id, e, validating: true, lease: lease) }
        let options = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8))
        let mapping = options.fieldMapping ?? .promptCompletion
        func load(_ id: String, _ param: String) throws -> Result<[T5TrainingExample], JobError> {
            guard let f = try store.file(id: id, project: job.projectID) else {
                return .failure(JobError(code: "invalid_\(param)", message: "invalid \(param): \(id) has expired or was deleted before the job could read it; upload it again and create a new job", param: param))
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: store.contentPath(of: f)))
            let (examples, issues) = T5Dataset.prepare(data, tokenizer: model.tokenizer, mapping: mapping,
                                                       minimumExamples: param == "training_file" ? Dataset.minimumExamples : 1)
            guard let first = issues.first else { return .success(examples) }
            for issue in issues.prefix(20) {
                try events.emit(job.id, "\(param == "training_file" ? "Training" : "Validation") file \(id): \(issue)", level: "error", lease: lease)
            }
            if first.code == .tooFewExamples { return .failure(JobError(code: "invalid_n_examples", message: first.detail, param: param)) }
            let more = issues.count > 1 ? " (\(issues.count - 1) more problem(s) are listed in the job's events)" : ""
            return .failure(JobError(code: "invalid_\(param)", message: "The job failed due to an invalid \(param == "training_file" ? "training" : "validation") file. Invalid file format. \(first)\(more)", param: param))
        }
        let train: [T5TrainingExample]
        switch try load(job.trainingFile, "training_file") {
        case .failure(let e): return try fail(e)
        case .success(let t): train = t
        }
        var valid: [T5TrainingExample]?
        if let v = job.validationFile {
            switch try load(v, "validation_file") {
            case .failure(let e): return try fail(e)
            case .success(let t): valid = t
            }
        }
        let h = AutoHyperparameters.resolve(try JSONDecoder().decode(HyperparameterRequest.self, from: Data(job.hyperparameters.utf8)),
                                            examples: train.count, method: .supervised)
        var config = options.trainingConfig(h, seed: job.seed)
        if let startModel {
            if let e = Self.continuationMismatch(job, full: config.isFull, start: startModel) { return try fail(e) }
            if !config.isFull { config.lora = try T5Model.adapterConfig(directory: startModel, dropout: config.lora.dropout) }
        }
        let steps = config.totalSteps(examples: train.count)
        func tokens(_ e: [T5TrainingExample]) -> Int { e.reduce(0) { $0 + $1.source.count + $1.target.count } }
        let all = train + (valid ?? [])
        let maxSource = all.map(\.source.count).max() ?? 1, maxTarget = all.map(\.target.count).max() ?? 1
        // A step runs its whole batch in one pass: the activations of the batch of the longest pairs.
        let size = T5PassSize.fitting(all, batchSize: config.batchSize)
        let disk: Int, fixed: Int, activations: Int
        if config.isFull {
            // Each checkpoint is the whole model in fp32 (five at most at once); the newest two keep their moments.
            let weights = 4 * T5FullParameters.parameterCount(model.config)
            disk = 5 * weights + 2 * 2 * weights + (64 << 20)
            fixed = T5FullParameters.bytes(model.config)
            activations = T5TrainingModel.activationBytes(model.config, size: size, rank: 0, full: true)
        } else {
            // Each checkpoint holds the adapter and its two AdamW moments; five at most exist at once. The adapter
            // trains on the loaded model's f32 weights.
            let lora = T5LoRAParameters(config: config.lora, model: model.config)
            disk = 5 * 3 * 4 * lora.count + (16 << 20)
            fixed = 4 * model.config.parameterCount + 4 * 4 * lora.count
            activations = T5TrainingModel.activationBytes(model.config, size: size, rank: config.lora.rank)
        }
        let memory = fixed + activations
        var plan = JobPlan(hyperparameters: h, totalSteps: steps, examples: train.count, tokens: tokens(train),
                           lossTokens: train.reduce(0) { $0 + $1.target.count },
                           validationExamples: valid?.count, validationTokens: valid.map(tokens),
                           baseModel: name, startModel: startModel, diskBytes: disk, estimatedSeconds: 0)
        plan.memoryBytes = memory
        var message = "Training file: \(plan.examples) pairs (\"\(mapping.input)\" → \"\(mapping.target)\"), \(plan.tokens) tokens (\(plan.lossTokens) trained on)"
        if let valid { message += "; validation file: \(valid.count) pairs, \(tokens(valid)) tokens" }
        message += ". \(steps) steps (\(h.nEpochs) epochs × \(steps / max(1, h.nEpochs)) steps of \(h.batchSize) pairs) of "
        message += config.isFull ? "every weight of the encoder-decoder \(startModel == nil ? name : job.model) (full fine-tuning\(startModel == nil ? "" : ", continuing from its weights"))."
            : startModel != nil ? "the LoRA adapter of \(job.model) (rank \(config.lora.rank)), continued on the encoder-decoder \(name)."
            : "a LoRA adapter on the encoder-decoder \(name)."
        message += " Checkpoints and the model need about \(Self.megabytes(disk)) of disk; training needs about \(Self.megabytes(memory)) of memory"
        message += config.isFull ? " (every weight, its gradient and two AdamW moments in fp32 take \(Self.megabytes(fixed)))." : "."
        try events.emit(job.id, message, data: plan.reportData, lease: lease)
        if config.isFull && memory > trainingMemoryLimit {
            return try fail(JobError(code: "invalid_training_type", message: "Full fine-tuning of \(name) needs about \(Self.megabytes(memory)) of memory (every weight, its gradient and two AdamW moments in fp32: \(Self.megabytes(fixed)), and the activations of sources of up to \(maxSource) and targets of up to \(maxTarget) tokens in batches of \(config.batchSize) pairs), but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Use LoRA (the default), lower batch_size, shorten the longest records (tailor.max_source_tokens and max_target_tokens cut them), or raise the server's --training-memory-mb.", param: "tailor.training_type"))
        }
        if memory > trainingMemoryLimit {
            return try fail(JobError(code: "invalid_training_file", message: "Training on a batch of the \(config.batchSize) longest pairs needs about \(Self.megabytes(memory)) of memory, but this server lets a job use \(Self.megabytes(trainingMemoryLimit)). Lower batch_size, shorten the longest records (tailor.max_source_tokens and max_target_tokens cut them), or raise the server's --training-memory-mb.", param: "training_file"))
        }
        if let free = store.freeBytes(), free < disk {
            return try fail(JobError(code: "insufficient_storage", message: "This job needs about \(Self.megabytes(disk)) of disk for its checkpoints and model, but the server's data directory has \(Self.megabytes(free)) free. Free disk space on the server, then create the job again.", param: nil))
        }
        try JobFiles(store: store, jobID: job.id).writePairs(train: train, validation: valid ?? [])
        try transition(job.id, .filesValidated, requiring: .held(lease)) { j in
            j.plan = try plan.json()
            j.totalSteps = steps
            j.resolvedHyperparameters = String(decoding: try JSONEncoder().encode(h), as: UTF8.self)
        }
    }
}
