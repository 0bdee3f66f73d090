// The T5 training loop on the tiny gated-GELU fixture: it learns a small summarisation set, a paused run resumes from
// its checkpoint to the same adapter as an uninterrupted one, and the export holds what was trained.
import Foundation
import Testing
@testable import TailorEngine

struct T5TrainerTests {
    let scratch = Scratch()
    static let pairs = [
        ("summarize: The house on the hill is large and wonderful.", "a wonderful house"),
        ("summarize: Tailor trains adapters and serves them with streaming.", "Tailor trains"),
        ("summarize: The weather today is cold, with rain in the morning.", "cold and rainy"),
        ("summarize: Hello world, hello again, and hello once more.", "hello"),
        ("translate English to German: The house is wonderful.", "Das Haus ist wunderbar."),
        ("translate English to German: Hello world", "Hallo Welt"),
    ]

    static func examples(_ model: T5Model) -> [T5TrainingExample] {
        pairs.map { T5TrainingExample(source: model.tokenizer.encode($0.0, addSpecial: true),
                                      target: model.tokenizer.encode($0.1, addSpecial: true)) }
    }

    static func config(epochs: Int) -> TrainingConfig {
        var c = TrainingConfig()
        c.epochs = epochs; c.batchSize = 2; c.learningRate = 1e-2; c.evalInterval = 0
        c.lora = LoRAConfig(rank: 4, alpha: 8)
        return c
    }

    func run(_ model: T5Model, _ c: TrainingConfig, root: String, stopAt: Int? = nil, resume: String? = nil)
        throws -> (TrainerTests.Recorder, T5TrainingResult, T5Trainer) {
        let examples = Self.examples(model)
        let trainer = T5Trainer(model: model, baseModelName: "tiny-flan", train: examples, validation: Array(examples.prefix(2)), config: c)
        let rec = TrainerTests.Recorder(root: root, stopAt: stopAt)
        trainer.observer = rec
        return (rec, try trainer.run(resumingFrom: resume), trainer)
    }

    @Test func learnsTheTrainingSet() throws {
        let model = try T5ModelTests.load("tiny-flan")
        let root = scratch.directory("tailor-t5-trainer-")
        let (rec, result, trainer) = try run(model, Self.config(epochs: 12), root: root)
        #expect(result.outcome == .completed && rec.steps.count == 36)
        let first = rec.steps[0].trainLoss, last = rec.steps.suffix(3).map(\.trainLoss).reduce(0, +) / 3
        #expect(last < 0.5 * first, "train loss \(first) → \(last)")
        let full = try #require(trainer.evaluate(trainer.train))
        #expect(full.loss < 0.5 * (result.baseline?.loss ?? 0) || full.loss < 1, "loss \(full.loss), baseline \(result.baseline?.loss ?? -1)")
        #expect(rec.checkpoints[36] != nil && rec.steps.allSatisfy { $0.gradNorm.isFinite })
        // The export holds the trained adapter: loaded into fresh parameters it gives the same loss.
        let export = root + "/export"
        try trainer.export(to: export)
        let again = T5LoRAParameters(config: Self.config(epochs: 1).lora, model: model.config)
        try T5PEFTAdapter.load(into: again, directory: export)
        // Evaluated in the trainer's batches, so that the sums run in the same order.
        let tm = T5TrainingModel(model: model, lora: again, size: trainer.model.size)
        let n = trainer.train.count, b = trainer.config.batchSize
        let reloaded = stride(from: 0, to: n, by: b).reduce(0) { $0 + tm.evaluate(Array(trainer.train[$1..<min(n, $1 + b)])).lossSum }
            / Double(full.tokens)
        #expect(abs(reloaded - full.loss) < 1e-9)
    }

    @Test func pausedRunResumesToTheSameAdapter() throws {
        let model = try T5ModelTests.load("tiny-t5")
        let c = Self.config(epochs: 2)
        let rootA = scratch.directory("tailor-t5-trainer-"), rootB = scratch.directory("tailor-t5-trainer-")
        let (full, _, a) = try run(model, c, root: rootA)
        let (paused, pausedResult, _) = try run(model, c, root: rootB, stopAt: 2)
        #expect(pausedResult.outcome == .stopped(atStep: 2))
        let checkpoint = try #require(paused.checkpoints[2])
        let (resumed, _, b) = try run(model, c, root: rootB, resume: checkpoint)
        #expect(resumed.steps.map(\.step) == Array(3...6))
        #expect(resumed.steps.map(\.trainLoss) == Array(full.steps.suffix(4).map(\.trainLoss)))
        #expect(Array(UnsafeBufferPointer(start: a.lora!.values, count: a.lora!.count))
                == Array(UnsafeBufferPointer(start: b.lora!.values, count: b.lora!.count)))
    }
}
