// Full fine-tuning against transformers on tiny random Llama (tied head), Qwen 2 (biases), Qwen 3 (q/k norms) and
// Gemma 3 (post-norms, scaled embeddings, sliding windows) checkpoints: every parameter's gradient of one batch and
// the losses and gradient norms of five AdamW steps with weight decay on the matrices and clipping (fixtures made by
// Tests/reference/full_finetune_reference.py); finite differences; checkpoints that resume exactly and load as
// Hugging Face models.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct FullFineTuningTests {
    static let families = ["llama", "qwen2", "qwen3", "gemma3"]

    static func reference(_ family: String) throws -> [String: Any] {
        try #require(try Fixtures.json("tiny_full/\(family).json") as? [String: Any])
    }

    static func model(_ ref: [String: Any]) throws -> Transformer {
        try ModelLoader.loadTransformer(path: Fixtures.url(ref["model"] as! String).path)
    }

    static func batch(_ ref: [String: Any]) -> PackedBatch {
        var b = PackedBatch()
        for e in ref["examples"] as! [[String: [Int]]] {
            let p = e["prompt"]!, c = e["completion"]!
            b.append(tokens: p + c, lossMask: [Bool](repeating: false, count: p.count) + [Bool](repeating: true, count: c.count))
        }
        return b
    }

    @Test(arguments: families)
    func gradientsMatchTransformers(family: String) throws {
        let ref = try Self.reference(family)
        let full = FullParameters(try Self.model(ref))
        let tm = TrainingModel(full: full, maxTokens: 64, activationBudget: nil)
        let batch = Self.batch(ref)
        full.zeroGrad()
        let r = try #require(tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0))
        let firstLoss = ref["first_loss"] as! Double
        #expect(abs(r.lossSum / Double(r.tokens) - firstLoss) < 1e-4, "\(family) loss \(r.lossSum / Double(r.tokens)) vs \(firstLoss)")
        let expected = ref["grads"] as! [String: [Double]]
        let tensors = FullModelFiles.tensors(full)
        #expect(Set(tensors.map(\.name)) == Set(expected.keys), "\(family): the trained tensors are transformers' parameters")
        #expect(tensors.reduce(0) { $0 + $1.count } == full.count, "every value of the layout is one parameter's")
        var worst = 0.0
        for t in tensors {
            let g = try #require(expected[t.name])
            let mine = UnsafeBufferPointer(start: full.gradient(t.values), count: t.count)
            #expect(g.count == t.count)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let err = zip(mine, g).map { abs(Double($0) - $1) }.max()!
            worst = max(worst, err / max(norm, 1e-12))
            // f32 on both sides, fixtures at 7 significant digits.
            #expect(err <= 1e-4 * norm + 1e-6, "\(family) \(t.name): max |Δ| \(err), |g| \(norm)")
        }
        print("\(family): \(tensors.count) tensors, \(full.count) parameters, worst max |Δ| / |g| = \(worst)")
    }

    @Test(arguments: families)
    func adamWStepsMatchTransformers(family: String) throws {
        let ref = try Self.reference(family)
        let full = FullParameters(try Self.model(ref))
        let tm = TrainingModel(full: full, maxTokens: 64, activationBudget: nil)
        let batch = Self.batch(ref)
        var adam = AdamWConfig()
        adam.weightDecay = Float(ref["weight_decay"] as! Double)
        adam.clipNorm = Float(ref["max_grad_norm"] as! Double)
        let decayedNames = Set(ref["decayed"] as! [String])
        let decayed = FullModelFiles.tensors(full).filter { t in
            let start = t.values - full.values
            return full.decayed.contains { $0.contains(start) }
        }.map(\.name)
        #expect(Set(decayed) == decayedNames, "\(family): the matrices are decayed, norms and biases not (Trainer's grouping)")
        let lr = Float(ref["learning_rate"] as! Double)
        let norms = ref["step_grad_norms"] as! [Double]
        for (i, expected) in (ref["step_losses"] as! [Double]).enumerated() {
            full.zeroGrad()
            let s = try #require(tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0))
            let loss = s.lossSum / Double(s.tokens)
            #expect(abs(loss - expected) < 1e-4 * max(1, expected), "\(family) step \(i + 1): loss \(loss) vs \(expected)")
            let norm = AdamW.step(full, lr: lr, t: i + 1, config: adam)
            #expect(abs(Double(norm) - norms[i]) < 1e-4 * max(1, norms[i]), "\(family) step \(i + 1): gradient norm \(norm) vs \(norms[i])")
        }
    }

    /// The whole backward into every kind of weight, against finite differences, with and without recomputation.
    @Test(arguments: ["llama", "qwen2", "gemma3"])
    func gradientsMatchFiniteDifferences(family: String) throws {
        let ref = try Self.reference(family)
        let full = FullParameters(try Self.model(ref))
        let batch = Self.batch(ref)
        for checkpointing in [false, true] {
            let tm = TrainingModel(full: full, maxTokens: 64, activationBudget: checkpointing ? 0 : nil)
            full.zeroGrad()
            _ = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: 0)
            let analytic = Array(UnsafeBufferPointer(start: full.grads, count: full.count))
            func loss(_ values: [Float]) -> Double {
                full.values.update(from: values, count: values.count)
                return tm.evaluate(batch).lossSum
            }
            var values = Array(UnsafeBufferPointer(start: full.values, count: full.count))
            var indices: [Int] = []
            for t in FullModelFiles.tensors(full) {
                let start = t.values - full.values
                // The embedding rows of tokens in the batch (the others have no gradient), and spread entries elsewhere.
                if t.name == TensorRole.tokenEmbedding.huggingFace {
                    let C = full.config.dim, id = Int(batch.tokens[3])
                    indices += [start + id * C, start + id * C + C / 2]
                } else {
                    indices += [start, start + t.count / 3, start + t.count - 1]
                }
            }
            GradientCheck.check("\(family) full (checkpointing \(checkpointing))", values: &values, analytic: analytic,
                                indices: indices, eps: 1e-2, rtol: 3e-2, atol: 2e-3, loss: loss)
            full.values.update(from: values, count: values.count)
        }
    }

    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "tailor-full-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// A checkpoint holds the weights and both moments: a new copy loaded from it continues bit for bit, and the
    /// checkpoint directory loads as a Hugging Face model (with the base's tokenizer files) whose logits are the
    /// trained weights'.
    @Test(arguments: families)
    func checkpointsResumeExactlyAndLoadAsModels(family: String) throws {
        let ref = try Self.reference(family)
        let hf = Fixtures.url(ref["model"] as! String).path
        let lm = try LanguageModel(path: hf)
        let batch = Self.batch(ref)
        var adam = AdamWConfig(); adam.weightDecay = 0.01
        func steps(_ full: FullParameters, _ tm: TrainingModel, _ range: ClosedRange<Int>) -> [Double] {
            range.map { t in
                full.zeroGrad()
                let s = tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0)!
                AdamW.step(full, lr: 1e-3, t: t, config: adam)
                return s.lossSum
            }
        }
        let a = FullParameters(lm.transformer), tmA = TrainingModel(full: a, maxTokens: 64, activationBudget: nil)
        _ = steps(a, tmA, 1...2)
        let lossAtStep2 = tmA.evaluate(batch).lossSum
        let dir = Self.tempDir() + "/step-2"
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        var config = TrainingConfig(); config.trainingType = .full
        let state = TrainerState(step: 2, totalSteps: 4, epoch: 0, epochOffset: 0, tokensSoFar: 0, seed: 1, config: config,
                                 trainExamples: 2, bestValidLoss: nil, bestStep: nil, epochsWithoutImprovement: 0,
                                 baseModel: lm.name, metrics: nil)
        try TrainingCheckpoint.write(full: a, files: try FullModelFiles.companions(of: lm), state: state, to: dir)

        let b = FullParameters(lm.transformer)
        #expect(try TrainingCheckpoint.load(into: b, from: dir) == state)
        for (x, y) in [(a.values, b.values), (a.m, b.m), (a.v, b.v)] {
            #expect(Array(UnsafeBufferPointer(start: x, count: a.count)) == Array(UnsafeBufferPointer(start: y, count: b.count)))
        }
        let tmB = TrainingModel(full: b, maxTokens: 64, activationBudget: nil)
        #expect(steps(a, tmA, 3...4) == steps(b, tmB, 3...4), "\(family): the resumed run differs")

        // The checkpoint is a model directory: Tailor loads it with its tokenizer and it computes the trained loss.
        let served = try LanguageModel(path: dir)
        #expect(served.tokenizer.vocabularySize == lm.tokenizer.vocabularySize)
        let reloaded = FullParameters(served.transformer)
        let tmR = TrainingModel(full: reloaded, maxTokens: 64, activationBudget: nil)
        let loss = tmR.evaluate(batch).lossSum
        #expect(abs(loss - lossAtStep2) <= 1e-6 * abs(lossAtStep2), "\(family): the checkpoint's model gives \(loss), the trained weights \(lossAtStep2)")
    }

    /// The training loop of a full run, paused after step 3 and resumed from its checkpoint (written without any
    /// companion files: the config is made from the model's shape), gives the uninterrupted run's losses and weights.
    @Test func aPausedFullRunResumesExactly() throws {
        let model = TinyModel.make(seed: 12)
        var c = TrainerTests.config()
        c.trainingType = .full; c.lora = LoRAConfig(); c.adam.weightDecay = 0.01; c.learningRate = 2e-3
        func run(root: String, stopAt: Int? = nil, resume: String? = nil) throws -> (TrainerTests.Recorder, FullParameters) {
            let full = FullParameters(model)
            let trainer = Trainer(full: full, baseModelName: "tiny", train: TrainerTests.examples(),
                                  validation: Array(TrainerTests.examples(count: 4)), config: c)
            let rec = TrainerTests.Recorder(root: root, stopAt: stopAt)
            trainer.observer = rec
            _ = try trainer.run(resumingFrom: resume)
            return (rec, full)
        }
        let root = Self.tempDir(), dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: dir) }
        let (whole, wholeWeights) = try run(root: root)
        let (first, _) = try run(root: dir, stopAt: 3)
        let checkpoint = try #require(first.checkpoints[3], "a paused run leaves a checkpoint")
        let (second, resumedWeights) = try run(root: dir, resume: checkpoint)
        #expect(first.steps.map(\.trainLoss) + second.steps.map(\.trainLoss) == whole.steps.map(\.trainLoss))
        #expect(whole.steps.last!.trainLoss < whole.steps.first!.trainLoss)
        #expect(Array(UnsafeBufferPointer(start: resumedWeights.values, count: resumedWeights.count))
                == Array(UnsafeBufferPointer(start: wholeWeights.values, count: wholeWeights.count)))
    }
}
