// `tailor bench dpo`: preference training (DPO) speed, memory and effect. Speed: tokens/s of DPO steps (both answers
// of each pair through forward and backward) with the reference pass, done once per run, amortised over an epoch.
// Effect: on held-out pairs, how often the preferred answer is the likelier one (and the DPO rewards) before and
// after training. TRL's DPOTrainer runs the same in Tests/reference/bench_trl_dpo.py (scripts/bench.sh dpo).
import ArgumentParser
import Foundation
import Logging
import TailorEngine

struct BenchDPO: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dpo", abstract: "DPO steps/s, tokens/s, memory, and reward accuracy before and after.")
    @Option var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Preference pairs to train on (OpenAI's DPO format; Tests/reference/make_preference_set.py makes them).")
    var data: String
    @Option(name: .customLong("held-out"), help: "Preference pairs to measure the effect on.")
    var heldOut: String?
    @Option(name: .customLong("batch-size")) var batchSize = 4
    @Option var rank = 8
    @Option var beta = 0.1
    @Option(help: "Steps to time (after the warm-up); 0 trains a whole epoch.") var steps = 12
    @Option(name: .customLong("warmup-steps")) var warmupSteps = 2
    @Option var threads: Int?
    @Flag var json = false

    final class Timer: TrainingObserver {
        var metrics: [StepMetrics] = []
        var firstStepAt: Date?
        let stopAt: Int?
        init(stopAt: Int?) { self.stopAt = stopAt }
        func trainer(didEvaluateBaseline evaluation: Evaluation) {}
        func trainer(didFinishStep m: StepMetrics) {
            if metrics.isEmpty { firstStepAt = Date().addingTimeInterval(-m.seconds) }
            metrics.append(m)
            BenchSupport.log(String(format: "step %d: %d tokens in %.2f s, loss %.3f, margin %.3f", m.step, m.tokens, m.seconds,
                                    m.trainLoss, (m.chosenReward ?? 0) - (m.rejectedReward ?? 0)))
        }
        func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? { nil }
        func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) {}
        func trainerStopRequest() -> TrainingStop? { stopAt.map { metrics.count >= $0 } == true ? .pause : nil }
    }

    func run() throws {
        var logger = Logger(label: "bench"); logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        let lm = try LanguageModel(path: model)
        func pairs(_ path: String) throws -> [TrainingExample] {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            let prepared = Dataset.prepare(bytes, model: lm, maxTokens: 1024, minimumExamples: 1, method: .dpo)
            guard prepared.isValid else { throw ValidationError("\(path): \(prepared.issues.first!)") }
            return prepared.examples
        }
        let train = try pairs(data)
        let held = try heldOut.map(pairs) ?? []
        var config = TrainingConfig()
        config.lora = LoRAConfig(rank: rank, alpha: Float(2 * rank))
        config.batchSize = batchSize
        config.epochs = 1
        config.evalInterval = 0
        config.learningRate = 2e-4
        config.preferenceBeta = beta
        let trainer = Trainer(base: FrozenBase(lm.transformer), baseModelName: lm.name, train: train, validation: [], config: config)
        // Before: the base model alone (the reference of a new adapter).
        let before = held.isEmpty ? nil : logProbs(trainer.model, held, adapter: false)
        let timer = Timer(stopAt: steps > 0 ? warmupSteps + steps : nil)
        trainer.observer = timer
        let started = Date()
        _ = try trainer.run()
        // Everything before the first step is the reference pass over the training pairs (no validation set here).
        let referenceSeconds = (timer.firstStepAt ?? started).timeIntervalSince(started)
        let measured = Array(timer.metrics.dropFirst(warmupSteps))
        let seconds = measured.map(\.seconds), tokens = measured.reduce(0) { $0 + $1.tokens }
        let stepsPerEpoch = Double(config.stepsPerEpoch(examples: train.count / 2))
        let perStep = BenchSupport.median(seconds) + referenceSeconds / stepsPerEpoch
        var results: [String: Any] = [
            "tokens_per_s": BenchSupport.round(Double(tokens) / Double(max(1, measured.count)) / perStep),
            "step_tokens_per_s": BenchSupport.round(Double(tokens) / seconds.reduce(0, +)),
            "seconds_per_step": BenchSupport.round(BenchSupport.median(seconds), 3),
            "reference_seconds": BenchSupport.round(referenceSeconds, 2),
            "peak_rss_bytes": BenchSupport.peakRSS,
            "steps": measured.count, "batch_pairs": batchSize, "rank": rank, "beta": beta, "threads": KernelThreads.count,
        ]
        if let before {
            let after = logProbs(trainer.model, held, adapter: true)
            let pairsCount = held.count / 2
            func share(_ ok: (Int) -> Bool) -> Double { BenchSupport.round(Double((0..<pairsCount).filter(ok).count) / Double(pairsCount), 3) }
            let margins = (0..<pairsCount).map { p in beta * ((after[2 * p] - before[2 * p]) - (after[2 * p + 1] - before[2 * p + 1])) }
            results["held_out_pairs"] = pairsCount
            results["preferred_likelier_before"] = share { before[2 * $0] > before[2 * $0 + 1] }
            results["preferred_likelier_after"] = share { after[2 * $0] > after[2 * $0 + 1] }
            results["reward_accuracy_after"] = share { margins[$0] > 0 }
            results["reward_margin_after"] = BenchSupport.round(margins.reduce(0, +) / Double(pairsCount), 3)
        }
        BenchSupport.emit(results, json: json)
    }

    /// Each example's log-likelihood of its answer, with the adapter as it is now or without it, one pair per pass.
    func logProbs(_ model: TrainingModel, _ examples: [TrainingExample], adapter: Bool) -> [Double] {
        stride(from: 0, to: examples.count, by: 2).flatMap { i -> [Double] in
            var b = PackedBatch()
            for e in examples[i..<(i + 2)] { b.append(tokens: e.tokens, lossMask: e.lossMask) }
            return model.sequenceLogProbs(b, adapter: adapter)
        }
    }
}
