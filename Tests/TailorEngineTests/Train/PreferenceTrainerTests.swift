// The training loop in preference mode (DPO) on the tiny random model: pairs stay whole, the run learns to rank them,
// a resumed run continues exactly (the reference is recomputed from the starting adapter, not from the checkpoint),
// and continuing a trained adapter measures rewards against that adapter.
import Foundation
import Testing
import TailorEngine

@Suite struct PreferenceTrainerTests {
    let scratch = Scratch()
    /// Eight pairs: a shared prompt, then a chosen and a rejected answer.
    static func pairs(count: Int = 8) -> [TrainingExample] {
        (0..<count).flatMap { i -> [TrainingExample] in
            let prompt = [1, 10 + i % 7, 20 + i % 5]
            let chosen = [30 + i % 11, 40 + (i * 3) % 13, 2], rejected = [50 + i % 9, 2]
            func example(_ answer: [Int]) -> TrainingExample {
                TrainingExample(line: i + 1, tokens: prompt + answer,
                                lossMask: Array(repeating: false, count: prompt.count) + Array(repeating: true, count: answer.count))
            }
            return [example(chosen), example(rejected)]
        }
    }

    static func config(epochs: Int = 3) -> TrainingConfig {
        var c = TrainerTests.config(epochs: epochs)
        c.batchSize = 2                  // pairs per step
        c.maxTokensPerMicroBatch = 12    // one pair per micro-batch: exercises accumulation with pairs kept whole
        c.preferenceBeta = 0.5
        return c
    }

    func run(_ base: FrozenBase, _ c: TrainingConfig, root: String, stopAt: Int? = nil, resume: String? = nil,
             initial: LoRAAdapter? = nil) throws -> (TrainerTests.Recorder, TrainingResult) {
        let trainer = Trainer(base: base, baseModelName: "tiny", train: Self.pairs(), validation: Self.pairs(count: 3), config: c)
        let rec = TrainerTests.Recorder(root: root, stopAt: stopAt)
        trainer.observer = rec
        return (rec, try trainer.run(resumingFrom: resume, startingFrom: initial))
    }

    @Test func learnsToRankThePairs() throws {
        let base = FrozenBase(TinyModel.make(seed: 21, embeddingScale: 2))
        var c = Self.config(epochs: 15)
        c.learningRate = 2e-2
        let (rec, result) = try run(base, c, root: scratch.directory("tailor-preference-"))
        #expect(rec.steps.count == 15 * 4)                               // 8 pairs / 2 per step × 15 epochs
        // Before any update the policy is the reference: every margin is zero, the loss log 2.
        let baseline = try #require(rec.baseline)
        #expect(abs(baseline.loss - log(2)) < 1e-9 && baseline.accuracy == 0)
        let first = try #require(rec.steps.first), last = try #require(rec.steps.last)
        #expect(abs(first.trainLoss - log(2)) < 1e-6)
        #expect(last.trainLoss < 0.2, "the DPO loss only fell to \(last.trainLoss)")
        #expect(last.trainAccuracy == 1 && last.chosenReward! > last.rejectedReward!)
        #expect(try #require(result.final).accuracy == 1)
    }

    @Test func resumingContinuesExactly() throws {
        let base = FrozenBase(TinyModel.make(seed: 22))
        let c = Self.config()
        let (full, fullResult) = try run(base, c, root: scratch.directory("tailor-preference-"))
        let dir = scratch.directory("tailor-preference-")
        let (first, stopped) = try run(base, c, root: dir, stopAt: 5)
        #expect(stopped.outcome == .stopped(atStep: 5))
        let (second, resumed) = try run(base, c, root: dir, resume: try #require(first.checkpoints[5]))
        #expect((first.steps + second.steps).map(\.trainLoss) == full.steps.map(\.trainLoss))
        #expect((first.steps + second.steps).map(\.chosenReward) == full.steps.map(\.chosenReward))
        #expect(resumed.adapter.layers[1][.q]!.b == fullResult.adapter.layers[1][.q]!.b)
    }

    @Test func aContinuedAdapterIsItsOwnReference() throws {
        let base = FrozenBase(TinyModel.make(seed: 23))
        // An adapter trained by a first run, continued by a second: its rewards start at zero again.
        // (Without dropout: with it the policy's first forward already differs from the reference's, as in TRL.)
        var c = Self.config(epochs: 2)
        c.lora.dropout = 0
        let (_, trained) = try run(base, c, root: scratch.directory("tailor-preference-"))
        c.epochs = 1
        let (rec, _) = try run(base, c, root: scratch.directory("tailor-preference-"), initial: trained.adapter)
        let first = try #require(rec.steps.first)
        #expect(abs(first.trainLoss - log(2)) < 1e-6 && first.chosenReward == 0 && first.rejectedReward == 0)
        #expect(abs(try #require(rec.baseline).loss - log(2)) < 1e-9)
    }

    /// A pair's chosen and rejected answers follow one prompt: each micro-batch computes it once, and the run's DPO
    /// losses and rewards are those of the pairs computed whole.
    @Test func sharingThePromptIsTheSameRun() throws {
        let base = FrozenBase(TinyModel.make(seed: 23))
        var c = Self.config()
        c.lora.dropout = 0
        let (shared, _) = try run(base, c, root: scratch.directory("tailor-preference-"))
        c.sharedPrefixes = false
        let (whole, _) = try run(base, c, root: scratch.directory("tailor-preference-"))
        #expect(shared.steps.count == whole.steps.count && !shared.steps.isEmpty)
        for (a, b) in zip(shared.steps, whole.steps) {
            #expect(abs(a.trainLoss - b.trainLoss) <= 1e-5 * b.trainLoss, "step \(a.step): \(a.trainLoss) vs \(b.trainLoss)")
            #expect(abs(a.chosenReward! - b.chosenReward!) <= 1e-5 && abs(a.rejectedReward! - b.rejectedReward!) <= 1e-5)
            // Two pairs a step, each answer's last token predicting nothing: four rows fewer than tokens whole.
            #expect(a.rows! < b.rows! && b.rows == b.tokens - 4 && a.tokens == b.tokens)
        }
    }

    /// A pair longer than a micro-batch (each answer fits, the two together do not) gets a pass of its own, laid out
    /// for it, as one long example does — it used to overrun the pass and stop the process.
    @Test func aPairLongerThanAMicroBatchTrains() throws {
        let base = FrozenBase(TinyModel.make(seed: 24))
        var c = Self.config()
        c.maxTokensPerMicroBatch = 8     // each example is 5–6 tokens, each pair 11
        for shared in [true, false] {
            c.sharedPrefixes = shared
            let (rec, _) = try run(base, c, root: scratch.directory("tailor-preference-"))
            #expect(rec.steps.count == 12 && rec.steps.allSatisfy { $0.trainLoss.isFinite })
        }
    }
}
