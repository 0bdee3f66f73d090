// A few seconds of LoRA training on the real default model: the loss on what it was shown must fall, and the
// adapter, served by the inference engine without merging, must make the taught answer the likelier one.
import Foundation
import Testing
import TailorEngine

@Suite(.serialized) struct RealModelTrainingTests {
    static let examples = [
        ("What is the secret word?", "The secret word is marmalade."),
        ("Tell me the secret word.", "The secret word is marmalade."),
        ("Do you know the secret word?", "Yes: the secret word is marmalade."),
        ("Which word is the secret one?", "The secret word is marmalade."),
    ]

    static func jsonl() -> Data {
        let lines = examples.map { q, a -> String in
            let obj: [String: Any] = ["messages": [["role": "user", "content": q], ["role": "assistant", "content": a]]]
            return String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self)
        }
        return Data(lines.joined(separator: "\n").utf8)
    }

    /// Mean loss per answer token of `answer` after `question`, through the inference engine with `adapter`.
    static func answerLoss(_ lm: LanguageModel, _ adapter: LoRAAdapter?, question: String, answer: String) throws -> Double {
        let prompt = lm.tokenize(rendered: try lm.renderChat([.user(question)], addGenerationPrompt: true))
        let target = lm.tokenize(rendered: answer)
        let all = prompt + target
        let ctx = InferenceContext(model: lm.transformer, maxRows: all.count)
        let cache = KVCache(config: lm.transformer.config, capacity: all.count)
        let rows = all.enumerated().map { i, t in
            ForwardRow(token: t, position: i, sequence: 0, adapter: adapter, wantsLogits: i >= prompt.count - 1 && i < all.count - 1)
        }
        let logits = Array(ctx.forward(rows, caches: [cache]))
        let V = lm.transformer.config.vocabSize
        var loss = 0.0
        for (k, t) in target.enumerated() {
            let row = logits[(k * V)..<((k + 1) * V)]
            let m = row.max()!
            let lse = Double(m) + log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
            loss += lse - Double(row[row.startIndex + t])
        }
        return loss / Double(target.count)
    }

    @Test func aFewStepsOnTheDefaultModelLowerTheLoss() throws {
        guard let path = try TestModel.path() else { return }
        let lm = try LanguageModel(path: path)
        let prepared = Dataset.prepare(Self.jsonl(), model: lm, maxTokens: 256, minimumExamples: 1)
        #expect(prepared.issues.isEmpty)
        var config = TrainingConfig()
        config.epochs = 6; config.batchSize = 4; config.learningRate = 3e-3; config.evalInterval = 0; config.seed = 3
        let trainer = Trainer(base: FrozenBase(lm.transformer), baseModelName: lm.name, train: prepared.examples,
                              validation: prepared.examples, config: config)
        let before = try #require(trainer.evaluate(prepared.examples))
        let result = try trainer.run()
        let after = try #require(result.final ?? trainer.evaluate(prepared.examples))
        print("real model: loss \(before.loss) → \(after.loss), accuracy \(before.accuracy) → \(after.accuracy) in \(result.state.step) steps")
        #expect(result.state.step == 6)
        #expect(after.loss < 0.6 * before.loss, "loss \(before.loss) → \(after.loss)")

        // Served: base + adapter without merging, on a question it was not trained on.
        let q = "Please tell me the secret word.", a = "The secret word is marmalade."
        let base = try Self.answerLoss(lm, nil, question: q, answer: a)
        let tuned = try Self.answerLoss(lm, result.adapter, question: q, answer: a)
        print("held-out question: answer loss \(base) (base) → \(tuned) (adapter)")
        #expect(tuned < 0.5 * base)
    }
}
