// The training loop on a tiny random model: determinism, exact resume from a checkpoint, and memorisation.
import Foundation
import Testing
import TailorEngine

@Suite struct TrainerTests {
    let scratch = Scratch()
    /// Twelve short "conversations" over the tiny vocabulary: a prompt part without loss, an answer with loss.
    static func examples(count: Int = 12) -> [TrainingExample] {
        (0..<count).map { i in
            let prompt = [1, 10 + i % 7, 20 + i % 5]
            let answer = [30 + i % 11, 40 + (i * 3) % 13, 2]
            return TrainingExample(line: i + 1, tokens: prompt + answer,
                                   lossMask: Array(repeating: false, count: prompt.count) + Array(repeating: true, count: answer.count))
        }
    }

    static func config(epochs: Int = 2) -> TrainingConfig {
        var c = TrainingConfig()
        c.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0.1)
        c.epochs = epochs
        c.batchSize = 3
        c.learningRate = 5e-3
        c.maxTokensPerMicroBatch = 12     // two examples per micro-batch: exercises accumulation
        c.evalInterval = 2
        c.seed = 7
        return c
    }

    final class Recorder: TrainingObserver {
        var steps: [StepMetrics] = []
        var baseline: Evaluation?
        var checkpoints: [Int: String] = [:]
        var stopAt: Int?
        let root: String
        init(root: String, stopAt: Int? = nil) { self.root = root; self.stopAt = stopAt }
        func trainer(didEvaluateBaseline evaluation: Evaluation) { baseline = evaluation }
        func trainer(didFinishStep metrics: StepMetrics) { steps.append(metrics) }
        func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? { root + "/step-\(step)" }
        func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) { checkpoints[step] = directory }
        func trainerStopRequest() -> TrainingStop? { stopAt.map { steps.count >= $0 } == true ? .pause : nil }
    }


    func run(_ base: FrozenBase, _ c: TrainingConfig, root: String, stopAt: Int? = nil, resume: String? = nil) throws -> (Recorder, TrainingResult) {
        let trainer = Trainer(base: base, baseModelName: "tiny", train: Self.examples(), validation: Array(Self.examples(count: 4)), config: c)
        let rec = Recorder(root: root, stopAt: stopAt)
        trainer.observer = rec
        let result = try trainer.run(resumingFrom: resume)
        return (rec, result)
    }

    @Test func sameSeedGivesTheSameLossCurve() throws {
        let base = FrozenBase(TinyModel.make(seed: 11))
        let (a, _) = try run(base, Self.config(), root: scratch.directory("tailor-trainer-"))
        let (b, _) = try run(base, Self.config(), root: scratch.directory("tailor-trainer-"))
        #expect(a.steps.map(\.trainLoss) == b.steps.map(\.trainLoss))
        var other = Self.config(); other.seed = 8
        let (c, _) = try run(base, other, root: scratch.directory("tailor-trainer-"))
        #expect(a.steps.map(\.trainLoss) != c.steps.map(\.trainLoss))
    }

    @Test func resumingFromACheckpointContinuesExactly() throws {
        let base = FrozenBase(TinyModel.make(seed: 12))
        let c = Self.config()
        let (full, fullResult) = try run(base, c, root: scratch.directory("tailor-trainer-"))
        let dir = scratch.directory("tailor-trainer-")
        let (first, stopped) = try run(base, c, root: dir, stopAt: 3)
        #expect(stopped.outcome == .stopped(atStep: 3))
        let checkpoint = try #require(first.checkpoints[3], "a stopped run leaves a checkpoint")
        let (second, resumed) = try run(base, c, root: dir, resume: checkpoint)
        let before = first.steps.map(\.trainLoss), after = second.steps.map(\.trainLoss)
        #expect(before + after == full.steps.map(\.trainLoss), "resumed losses differ from the uninterrupted run")
        #expect(resumed.adapter.layers[1][.down]!.b == fullResult.adapter.layers[1][.down]!.b)
    }

    @Test func memorisesAHandfulOfExamples() throws {
        let base = FrozenBase(TinyModel.make(seed: 13, embeddingScale: 2))
        var c = Self.config(epochs: 60)
        c.lora = LoRAConfig(rank: 8, alpha: 16)
        c.learningRate = 2e-2
        c.evalInterval = 0
        let trainer = Trainer(base: base, baseModelName: "tiny", train: Array(Self.examples(count: 4)), validation: [], config: c)
        let rec = Recorder(root: scratch.directory("tailor-trainer-"))
        trainer.observer = rec
        _ = try trainer.run()
        let first = try #require(rec.steps.first), last = try #require(rec.steps.last)
        #expect(first.trainLoss > 3)
        #expect(last.trainLoss < 0.05, "loss only fell to \(last.trainLoss)")
        #expect(last.trainAccuracy == 1)
    }

    @Test func validationAndCheckpointsFollowTheConfig() throws {
        let base = FrozenBase(TinyModel.make(seed: 14))
        let (rec, result) = try run(base, Self.config(), root: scratch.directory("tailor-trainer-"))
        #expect(rec.steps.count == 8)                       // 12 examples / 3 per step × 2 epochs
        #expect(rec.steps.filter { $0.validLoss != nil }.map(\.step) == [2, 4, 6, 8])
        #expect(rec.steps.filter { $0.fullValidLoss != nil }.map(\.step) == [4, 8])
        #expect(rec.checkpoints.keys.sorted() == [4, 8])    // epoch ends
        #expect(rec.baseline != nil)
        #expect(result.final!.loss < rec.baseline!.loss)
    }

    /// Where a step measures a validation batch and the full set (each epoch's end here: batches of 3 of the 4
    /// validation examples every 2 steps), the batch counts as its part of the full set and only the rest is run:
    /// the full loss and accuracy are still the set's, measured whole at that point. The baseline, which leaves a
    /// fresh adapter's products out (B = 0 adds exactly nothing), is the model's with them.
    @Test func theFullValidationTakesTheBatchAsItsPartAndTheBaselineSkipsAZeroAdapter() throws {
        final class Checker: TrainingObserver {
            weak var trainer: Trainer?
            var baseline: Evaluation?
            var full: [(step: Int, loss: Double, accuracy: Double, whole: Evaluation)] = []
            var stopAt: Int
            init(stopAt: Int) { self.stopAt = stopAt }
            func trainer(didEvaluateBaseline evaluation: Evaluation) { baseline = evaluation }
            func trainer(didFinishStep m: StepMetrics) {
                guard let loss = m.fullValidLoss, let t = trainer, let whole = t.evaluate(t.validation) else { return }
                full.append((m.step, loss, m.fullValidAccuracy!, whole))
            }
            func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? { nil }
            func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) {}
            func trainerStopRequest() -> TrainingStop? { (trainer?.totalSteps ?? 0) > 0 && stopAt == 0 ? .pause : nil }
        }
        let base = FrozenBase(TinyModel.make(seed: 14))
        func trainer() -> Trainer {
            Trainer(base: base, baseModelName: "tiny", train: Self.examples(), validation: Array(Self.examples(count: 4)), config: Self.config())
        }
        let t = trainer(), checker = Checker(stopAt: 8)
        t.observer = checker; checker.trainer = t
        _ = try t.run()
        #expect(checker.full.map(\.step) == [4, 8])
        for f in checker.full {
            // The rows sit in other products than when the set runs whole: the same loss to f32 rounding (1.2e-8
            // relative on OpenBLAS's Zen/Haswell kernels, which round a row by its place in the product; one
            // example's loss left out or counted twice would be ~25 %).
            #expect(abs(f.loss - f.whole.loss) <= 1e-6 * f.whole.loss, "step \(f.step): \(f.loss) vs \(f.whole.loss)")
            #expect(abs(f.accuracy - f.whole.accuracy) <= 1e-12, "step \(f.step)")
        }
        // Stopped before step 1: the adapter is the fresh one, and the full set with its products is the baseline.
        let fresh = trainer(), stopped = Checker(stopAt: 0)
        fresh.observer = stopped; stopped.trainer = fresh
        #expect(try fresh.run().outcome == .stopped(atStep: 0))
        #expect(fresh.evaluate(fresh.validation) == stopped.baseline)
    }

    /// Examples beginning with one system prompt: each micro-batch computes it once, and it is the same run — the
    /// same losses step by step and the same validation — over fewer rows; none is shared with sharedPrefixes off or
    /// with adapter dropout on (each example would draw its own mask over the prompt).
    @Test func sharingAPromptPrefixIsTheSameRun() throws {
        let system = [1, 5, 6, 7, 8, 9]
        let withSystem = { (e: TrainingExample) in
            TrainingExample(line: e.line, tokens: system + e.tokens, lossMask: system.map { _ in false } + e.lossMask)
        }
        let train = Self.examples().map(withSystem), validation = Self.examples(count: 4).map(withSystem)
        let base = FrozenBase(TinyModel.make(seed: 13))
        func run(_ c: TrainingConfig) throws -> Recorder {
            let trainer = Trainer(base: base, baseModelName: "tiny", train: train, validation: validation, config: c)
            let rec = Recorder(root: scratch.directory("tailor-trainer-"))
            trainer.observer = rec
            _ = try trainer.run()
            return rec
        }
        var c = Self.config()
        c.lora.dropout = 0
        c.maxTokensPerMicroBatch = 40
        let shared = try run(c)
        c.sharedPrefixes = false
        let whole = try run(c)
        var dropout = Self.config()
        dropout.maxTokensPerMicroBatch = 40
        let withDropout = try run(dropout)
        #expect(shared.steps.count == whole.steps.count && shared.steps.count > 4)
        for (a, b) in zip(shared.steps, whole.steps) {
            #expect(abs(a.trainLoss - b.trainLoss) <= 1e-5 * b.trainLoss, "step \(a.step): \(a.trainLoss) vs \(b.trainLoss)")
            // Each example's last token predicts nothing (its answer ends in a loss token): one row fewer each.
            #expect(a.tokens == b.tokens && b.rows == b.tokens - 3)
            // Three examples a step in micro-batches of at most 40 rows: at least one batch of two shares ≥ 7 tokens.
            #expect(a.rows! <= a.tokens - system.count - 1, "step \(a.step): \(a.rows!) rows for \(a.tokens) tokens")
            #expect(a.validLoss.map { abs($0 - b.validLoss!) <= 1e-5 * $0 } ?? (b.validLoss == nil))
        }
        #expect(abs(shared.baseline!.loss - whole.baseline!.loss) <= 1e-6 * whole.baseline!.loss)
        #expect(withDropout.steps.allSatisfy { $0.rows == $0.tokens - 3 })
    }
}
