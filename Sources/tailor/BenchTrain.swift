// `tailor bench train`: LoRA (or, with --training-type full, full fine-tuning) speed and memory on a dataset — tokens/s
// through the forward pass, seconds per optimizer step, peak RSS, and the fraction of this machine's sgemm peak
// (measured in the same run) a step reaches.
import ArgumentParser
import Foundation
import Logging
import TailorEngine

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "LoRA or full training steps/s, tokens/s, memory and MFU.")
    @Option var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option var data = "../shared/datasets/gadgetgurus-train.jsonl"
    @Option(name: .customLong("batch-size")) var batchSize = 4
    @Option var rank = 8
    @Option(name: .customLong("training-type"), help: "lora, or full (every weight, fp32 AdamW with weight decay 0.01, learning rate 5e-5, as `tailor train`).")
    var trainingType: TrainingConfig.TrainingType = .lora
    @Option var steps = 12
    @Option(name: .customLong("warmup-steps")) var warmupSteps = 2
    @Flag(name: .customLong("gradient-checkpointing")) var checkpointing = false
    @Flag(name: .customLong("no-shared-prefixes"), help: "Compute every example whole, even the prompt prefix a micro-batch's examples share.")
    var noSharedPrefixes = false
    @Option(help: "Also time full validations over this file (the pass a job makes before training and at each epoch's end).")
    var validation: String?
    @Option var threads: Int?
    @Flag var json = false

    final class Timer: TrainingObserver {
        var metrics: [StepMetrics] = []
        let stopAt: Int
        init(stopAt: Int) { self.stopAt = stopAt }
        func trainer(didEvaluateBaseline evaluation: Evaluation) {}
        func trainer(didFinishStep m: StepMetrics) { metrics.append(m); BenchSupport.log("step \(m.step): \(m.tokens) tokens in \(String(format: "%.2f", m.seconds)) s") }
        func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? { nil }
        func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) {}
        func trainerStopRequest() -> TrainingStop? { metrics.count >= stopAt ? .pause : nil }
    }

    func run() throws {
        var logger = Logger(label: "bench"); logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        let peak = Self.sgemmPeak()
        BenchSupport.log("sgemm peak: \(BenchSupport.round(peak)) GFLOP/s")
        let lm = try LanguageModel(path: model)
        guard let bytes = FileManager.default.contents(atPath: data) else { throw ValidationError("cannot read \(data)") }
        let prepared = Dataset.prepare(bytes, model: lm, maxTokens: 1024)
        guard prepared.isValid else { throw ValidationError("\(data): \(prepared.issues.first!)") }
        let valid = try validation.map { path -> [TrainingExample] in
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            let p = Dataset.prepare(bytes, model: lm, maxTokens: 1024)
            guard p.isValid else { throw ValidationError("\(path): \(p.issues.first!)") }
            return p.examples
        } ?? []
        var config = TrainingConfig()
        config.lora = LoRAConfig(rank: rank, alpha: Float(2 * rank))
        config.batchSize = batchSize
        config.epochs = 1
        config.evalInterval = 0
        config.gradientCheckpointing = checkpointing
        config.sharedPrefixes = !noSharedPrefixes
        let full = trainingType == .full
        if full { config.trainingType = .full; config.adam.weightDecay = 0.01; config.learningRate = 5e-5 }
        let trainer = full
            ? Trainer(full: FullParameters(lm.transformer), baseModelName: lm.name, train: prepared.examples, validation: valid, config: config)
            : Trainer(base: FrozenBase(lm.transformer), baseModelName: lm.name, train: prepared.examples, validation: valid, config: config)
        // Full validations, timed before training (the first one warms up, as the warm-up steps do).
        var validationSeconds: [Double] = [], validationLossTokens = 0
        if !valid.isEmpty {
            for _ in 0..<4 {
                let t = Date()
                validationLossTokens = trainer.evaluate(valid)?.tokens ?? 0
                validationSeconds.append(Date().timeIntervalSince(t))
            }
            BenchSupport.log("full validation (\(valid.count) examples): \(validationSeconds.map { String(format: "%.2f", $0) }) s")
            validationSeconds.removeFirst()
        }
        let timer = Timer(stopAt: warmupSteps + steps)
        trainer.observer = timer
        _ = try trainer.run()
        let measured = Array(timer.metrics.dropFirst(warmupSteps))
        let seconds = measured.map(\.seconds), tokens = measured.reduce(0) { $0 + $1.tokens }
        // Rows computed: fewer than the examples' tokens where micro-batches share a prompt prefix.
        let rows = measured.reduce(0) { $0 + ($1.rows ?? $1.tokens) }
        let c = lm.transformer.config
        // FLOPs a LoRA step needs: forward 2·P·T through the layer matrices, backward 2·P·T for ∂x (the base is frozen),
        // and the head only on loss positions (4·V·C per loss token). Attention and LoRA terms are below 2 % here.
        // Full fine-tuning adds ∂W: 2·P·T more, and 2·V·C per loss token for the head.
        let layerParams = Double(c.layers * (c.qDim * c.dim * 2 + c.kvDim * c.dim * 2 + 3 * c.hiddenDim * c.dim))
        let lossTokens = Double(measured.reduce(0) { $0 + $1.lossTokens })
        let passes: Double = full ? 6 : 4
        let flops = passes * layerParams * Double(rows) + passes * Double(c.vocabSize * c.dim) * lossTokens
        let total = seconds.reduce(0, +)
        BenchSupport.emit([
            "tokens_per_s": BenchSupport.round(Double(tokens) / total),
            "rows_per_s": BenchSupport.round(Double(rows) / total),
            "seconds_per_step": BenchSupport.round(BenchSupport.median(seconds), 3),
            "peak_rss_bytes": BenchSupport.peakRSS,
            "sgemm_peak_gflops": BenchSupport.round(peak),
            "model_flops_utilization": BenchSupport.round(flops / total / (peak * 1e9), 3),
            "steps": measured.count, "batch_size": batchSize, "rank": rank, "threads": KernelThreads.count,
            "training_type": trainingType.rawValue,
            "loss_first": BenchSupport.round(timer.metrics.first?.trainLoss ?? 0, 4), "loss_last": BenchSupport.round(timer.metrics.last?.trainLoss ?? 0, 4),
            "gradient_checkpointing": checkpointing, "shared_prefixes": !noSharedPrefixes,
        ].merging(validationSeconds.isEmpty ? [:] : [
            "validation_seconds": BenchSupport.round(BenchSupport.median(validationSeconds), 3),
            "validation_tokens": valid.reduce(0) { $0 + $1.tokens.count }, "validation_loss_tokens": validationLossTokens,
        ]) { a, _ in a }, json: json)
    }

    /// The best sgemm rate over shapes like a training step's (tall activations times the layer matrices).
    static func sgemmPeak() -> Double {
        var best = 0.0
        for (m, n, k) in [(512, 1536, 576), (512, 576, 1536), (1024, 1024, 1024)] {
            let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: n * k)
            var c = [Float](repeating: 0, count: m * n)
            for _ in 0..<8 {
                let t = Date()
                Blas.linear(&c, a, b, rows: m, inFeatures: k, outFeatures: n)
                best = max(best, 2 * Double(m * n * k) / Date().timeIntervalSince(t) / 1e9)
            }
        }
        return best
    }
}
