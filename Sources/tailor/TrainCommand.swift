// `tailor train`: fine-tune a LoRA adapter (or, with --training-type full, every weight) from the command line, with a
// progress line, checkpoints to resume from, and the adapter written in PEFT form (a full run: the model as a Hugging
// Face directory).
import ArgumentParser
import Foundation
import Logging
import TailorEngine

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Fine-tune a LoRA adapter on a JSONL file (chat or prompt/completion).")

    @Option(help: "Base model: a GGUF file or a Hugging Face directory.") var model: String
    @Option(name: [.customLong("train"), .customLong("data")], help: "Training data (JSONL).") var data: String
    @Option(help: "Validation data (JSONL).") var validation: String?
    @Option(name: [.customLong("out"), .customLong("output")], help: "Output directory: adapter/, checkpoints/, step_metrics.csv.") var output = "tailor-run"
    @Option var epochs = 3
    @Option(name: .customLong("batch-size")) var batchSize = 4
    @Option(name: .customLong("training-type"), help: "lora (an adapter on the frozen model) or full (every weight, fp32 AdamW with weight decay 0.01).") var trainingType: TrainingConfig.TrainingType = .lora
    @Option(name: .customLong("learning-rate"), help: "Peak learning rate (default 1e-3 for LoRA, 5e-5 for full fine-tuning).") var learningRate: Float?
    @Option(name: [.customLong("lora-rank"), .customLong("rank")]) var rank = 8
    @Option(name: [.customLong("lora-alpha"), .customLong("alpha")]) var alpha: Float = 16
    @Option var dropout: Float = 0
    @Option(help: "Comma-separated projections to adapt (q,k,v,o,gate,up,down).") var targets = "q,k,v,o,gate,up,down"
    @Option var seed: UInt64 = 42
    @Option(name: .customLong("max-tokens"), help: "Tokens packed per forward pass; a longer example gets a pass of its own (examples may run to the model's context).") var maxTokens = 1024
    @Option(name: .customLong("activation-memory-mb"), help: "MiB for a pass's activations: layers beyond it are recomputed in the backward pass (default 512).") var activationMemoryMB: Int?
    @Flag(name: .customLong("gradient-checkpointing"), help: "Recompute every layer in the backward pass (the least memory).") var checkpointing = false
    @Option(name: .customLong("checkpoint-every"), help: "Also checkpoint every N steps.") var checkpointEvery = 0
    @Option(help: "Resume from a checkpoint directory of the same run.") var resume: String?
    @Option(name: .customLong("stop-after"), help: "Stop (with a checkpoint) after this many steps; for tests.") var stopAfter: Int?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("input-field"), help: "Read every record as a prompt/completion pair: this field is the prompt (e.g. document).") var inputField: String?
    @Option(name: .customLong("target-field"), help: "…and this field the completion (e.g. summary).") var targetField: String?
    @Option(name: .customLong("max-source-tokens"), help: "Keep the first N tokens of the prompt (default: refuse longer examples).") var maxSourceTokens: Int?
    @Option(name: .customLong("max-target-tokens"), help: "Keep the first N tokens of the completion, the end-of-sequence token included.") var maxTargetTokens: Int?

    /// The records' mapping when any mapping option is given.
    var mapping: FieldMapping? {
        FieldMapping.asked(input: inputField, target: targetField, maxSourceTokens: maxSourceTokens, maxTargetTokens: maxTargetTokens)
    }

    func run() throws {
        var logger = Logger(label: "tailor.train")
        logger.logLevel = .info
        CPURuntime.configure(threads: threads, logger: logger)
        if T5Config.describes(directory: model) { return try runT5() }
        let lm = try LanguageModel(path: model)
        var config = TrainingConfig()
        config.lora = LoRAConfig(rank: rank, alpha: alpha, dropout: dropout, targets: try parseTargets(targets))
        let full = trainingType == .full
        if full { config.trainingType = .full; config.adam.weightDecay = 0.01 }
        config.epochs = epochs; config.batchSize = batchSize; config.learningRate = learningRate ?? (full ? 5e-5 : 1e-3); config.seed = seed
        config.maxTokensPerMicroBatch = maxTokens; config.gradientCheckpointing = checkpointing
        config.activationBudget = activationMemoryMB.map { $0 << 20 }
        config.checkpointInterval = checkpointEvery
        let limit = lm.contextLength
        let train = try prepare(data, lm, limit: limit, minimum: Dataset.minimumExamples)
        let valid = try validation.map { try prepare($0, lm, limit: limit, minimum: 1) } ?? []
        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)

        let fullParameters = full ? FullParameters(lm.transformer) : nil
        let trainer = try fullParameters.map { p -> Trainer in
            let t = Trainer(full: p, baseModelName: lm.name, train: train, validation: valid, config: config)
            t.modelFiles = try FullModelFiles.companions(of: lm)
            return t
        } ?? Trainer(base: FrozenBase(lm.transformer), baseModelName: lm.name, train: train, validation: valid, config: config)
        let progress = ProgressReporter(output: output, totalSteps: trainer.totalSteps, stopAfter: stopAfter)
        trainer.observer = progress
        FileHandle.standardError.write(Data("training \(lm.name): \(train.count) examples (\(train.reduce(0) { $0 + $1.tokens.count }) tokens), \(valid.count) validation, \(trainer.totalSteps) steps\n".utf8))
        let tm = trainer.model, layers = lm.transformer.config.layers
        let longest = train.map(\.tokens.count).max() ?? 0
        FileHandle.standardError.write(Data("passes of up to \(tm.maxTokens) tokens: \(tm.activationBytes >> 20) MiB of activations; the longest example (\(longest) tokens) recomputes \(layers - tm.storedLayers(tokens: longest)) of \(layers) layers\n".utf8))
        let result = try trainer.run(resumingFrom: resume)
        var summary: String
        if let fullParameters {
            let modelDir = (output as NSString).appendingPathComponent("model")
            try fm.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
            for (name, data) in trainer.modelFiles { try writeFileAtomically(data, to: (modelDir as NSString).appendingPathComponent(name)) }
            try FullModelFiles.writeSafetensors(fullParameters, to: (modelDir as NSString).appendingPathComponent("model.safetensors"))
            summary = "\n\(result.outcome) after \(result.state.step) steps; model (Hugging Face directory) in \(modelDir)"
        } else {
            let adapterDir = (output as NSString).appendingPathComponent("adapter")
            try PEFTAdapter.write(result.adapter, config: lm.transformer.config, baseModel: lm.name, dropout: dropout, to: adapterDir)
            summary = "\n\(result.outcome) after \(result.state.step) steps; adapter in \(adapterDir)"
        }
        if let b = result.baseline { summary += String(format: "\nvalidation loss before: %.4f (accuracy %.3f)", b.loss, b.accuracy) }
        if let f = result.final { summary += String(format: "\nvalidation loss after:  %.4f (accuracy %.3f)", f.loss, f.accuracy) }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    /// An encoder–decoder run: (source, target) pairs from the mapped fields (prompt/completion by default), the
    /// adapter written as PEFT's T5 files, or (--training-type full) the whole model as a Hugging Face T5 directory.
    func runT5() throws {
        let name = (model as NSString).lastPathComponent
        var config = TrainingConfig()
        config.lora = LoRAConfig(rank: rank, alpha: alpha, dropout: dropout, targets: try parseTargets(targets))
        let full = trainingType == .full
        if full { config.trainingType = .full; config.adam.weightDecay = 0.01 }
        config.epochs = epochs; config.batchSize = batchSize; config.learningRate = learningRate ?? (full ? 5e-5 : 1e-3); config.seed = seed
        config.checkpointInterval = checkpointEvery
        if full {
            // Before anything is loaded: what the run will hold besides its activations.
            let c = try T5Config(directory: model)
            FileHandle.standardError.write(Data(String(format: "full fine-tuning: %d weights; each, its gradient and two AdamW moments in fp32 take %.1f MiB\n", T5FullParameters.parameterCount(c), Double(T5FullParameters.bytes(c)) / 1048576).utf8))
        }
        // The loaded model lives in this closure only: a full run reads the weights again, straight into its own
        // buffers, so the model is never held twice (a LoRA run keeps the model it adapts).
        let (train, valid, t5) = try { () throws -> ([T5TrainingExample], [T5TrainingExample], T5Model?) in
            let t5 = try T5Model(directory: model)
            func read(_ path: String, minimum: Int) throws -> [T5TrainingExample] {
                guard let bytes = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                let (examples, issues) = T5Dataset.prepare(bytes, tokenizer: t5.tokenizer, mapping: mapping ?? .promptCompletion,
                                                           minimumExamples: minimum)
                guard issues.isEmpty else {
                    let lines = issues.prefix(20).map { "  \(path): \($0)" }.joined(separator: "\n")
                    throw ValidationError("the data has \(issues.count) problem(s):\n\(lines)")
                }
                return examples
            }
            return (try read(data, minimum: Dataset.minimumExamples), try validation.map { try read($0, minimum: 1) } ?? [], full ? nil : t5)
        }()
        let trainer = try t5.map { T5Trainer(model: $0, baseModelName: name, train: train, validation: valid, config: config) }
            ?? T5Trainer(full: try T5FullParameters(directory: model, config: try T5Config(directory: model)), baseModelName: name,
                         train: train, validation: valid, config: config)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        if full { trainer.modelFiles = T5FullParameters.companions(of: model) }
        let progress = ProgressReporter(output: output, totalSteps: trainer.totalSteps, stopAfter: stopAfter)
        trainer.observer = progress
        let tokens = train.reduce(0) { $0 + $1.source.count + $1.target.count }
        FileHandle.standardError.write(Data("training \(name) (T5): \(train.count) pairs (\(tokens) tokens), \(valid.count) validation, \(trainer.totalSteps) steps; \(trainer.model.activationBytes >> 20) MiB of activations for passes of \(config.batchSize) pairs (up to \(trainer.model.size.sourceRows) source and \(trainer.model.size.targetRows) target tokens; sources of up to \(trainer.model.maxSource), targets of up to \(trainer.model.maxTarget))\n".utf8))
        let result = try trainer.run(resumingFrom: resume)
        let exportDir = (output as NSString).appendingPathComponent(full ? "model" : "adapter")
        try trainer.export(to: exportDir)
        var summary = "\n\(result.outcome) after \(result.state.step) steps; "
            + (full ? "model (Hugging Face T5 directory) in \(exportDir)" : "adapter (PEFT, SEQ_2_SEQ_LM) in \(exportDir)")
        if let b = result.baseline { summary += String(format: "\nvalidation loss before: %.4f (accuracy %.3f)", b.loss, b.accuracy) }
        if let f = result.final { summary += String(format: "\nvalidation loss after:  %.4f (accuracy %.3f)", f.loss, f.accuracy) }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    func parseTargets(_ s: String) throws -> [LoRATarget] {
        try s.split(separator: ",").map { name in
            guard let t = LoRATarget(rawValue: String(name)) ?? LoRATarget(moduleName: String(name)) else {
                throw ValidationError("unknown target \(name); use q, k, v, o, gate, up, down")
            }
            return t
        }
    }

    func prepare(_ path: String, _ lm: LanguageModel, limit: Int, minimum: Int) throws -> [TrainingExample] {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        let prepared = Dataset.prepare(bytes, model: lm, maxTokens: limit, minimumExamples: minimum, mapping: mapping)
        guard prepared.isValid else {
            let lines = prepared.issues.prefix(20).map { "  \(path): \($0)" }.joined(separator: "\n")
            throw ValidationError("the data has \(prepared.issues.count) problem(s):\n\(lines)")
        }
        return prepared.examples
    }
}

/// Prints one progress line per step and writes step_metrics.csv (OpenAI's columns) and checkpoints.
final class ProgressReporter: TrainingObserver {
    let output: String
    let totalSteps: Int
    let stopAfter: Int?
    let started = Date()
    var csv = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
    var lastStep = 0

    init(output: String, totalSteps: Int, stopAfter: Int?) {
        self.output = output; self.totalSteps = totalSteps; self.stopAfter = stopAfter
    }

    func trainer(didEvaluateBaseline e: Evaluation) {
        FileHandle.standardError.write(Data(String(format: "base model validation loss %.4f, accuracy %.3f\n", e.loss, e.accuracy).utf8))
    }

    func trainer(didFinishStep m: StepMetrics) {
        lastStep = m.step
        let elapsed = Date().timeIntervalSince(started)
        let eta = elapsed / Double(m.step) * Double(m.totalSteps - m.step)
        // The ETA is appended, not passed as %@: a Swift String through %@ corrupts the heap on Linux's Foundation.
        var line = String(format: "\rstep %d/%d epoch %d  loss %.4f  acc %.3f  lr %.2e  %.0f tok/s  eta ",
                          m.step, m.totalSteps, m.epoch, m.trainLoss, m.trainAccuracy, m.learningRate,
                          Double(m.tokens) / max(m.seconds, 1e-9)) + Self.duration(eta)
        if let v = m.fullValidLoss { line += String(format: "  full valid loss %.4f\n", v) }
        else if let v = m.validLoss { line += String(format: "  valid loss %.4f", v) }
        FileHandle.standardError.write(Data(line.utf8))
        csv += "\(m.step),\(m.trainLoss),\(m.trainAccuracy),\(m.validLoss.map { "\($0)" } ?? ""),\(m.validAccuracy.map { "\($0)" } ?? "")\n"
        try? writeFileAtomically(Data(csv.utf8), to: (output as NSString).appendingPathComponent("step_metrics.csv"))
    }

    func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? {
        (output as NSString).appendingPathComponent(String(format: "checkpoints/step-%06d", step))
    }

    func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) {}

    func trainerStopRequest() -> TrainingStop? { stopAfter.map { lastStep >= $0 } == true ? .pause : nil }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

extension TrainingConfig.TrainingType: ExpressibleByArgument {}
