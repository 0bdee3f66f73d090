// Full fine-tuning of T5 against transformers on the tiny ReLU/tied and gated-GELU/untied fixtures: every parameter's
// gradient of one padded batch, and the losses and gradient norms of five AdamW steps with weight decay 0.01 on the
// matrices (Trainer's grouping) and clipping at 1 (Tests/reference/t5/make_full_fixtures.py); finite differences
// through every kind of weight, the position tables included; checkpoints that reload as models and resume exactly.
import Foundation
import Testing
@testable import TailorEngine

struct T5FullFineTuningTests {
    let scratch = Scratch()
    static func reference(_ name: String) throws -> [String: Any] {
        try #require(try Fixtures.json("t5/full-\(name)/reference.json") as? [String: Any])
    }

    static func examples(_ ref: [String: Any]) -> [T5TrainingExample] {
        zip(ref["sources"] as! [[Int]], ref["targets"] as! [[Int]]).map { T5TrainingExample(source: $0, target: $1) }
    }

    /// Mean loss over the batch's target tokens, with every gradient of it added (transformers' loss), in one packed
    /// pass of the batch.
    static func forwardBackward(_ tm: T5TrainingModel, _ examples: [T5TrainingExample]) -> Double {
        let tokens = examples.reduce(0) { $0 + $1.target.count }
        return tm.forwardBackward(examples, gradScale: 1 / Float(tokens)).lossSum / Double(tokens)
    }

    /// Relative tolerance of a gradient against transformers' (f32 on both sides, sums in another order). tiny-t5 is
    /// ill-conditioned in f32 (initializer_factor 4, ReLU units at their kink): transformers' own f32 gradients differ
    /// from its f64 ones by up to 2.5e-4 of a tensor's norm there (measured), 1.3e-6 on tiny-flan.
    static func gradientTolerance(_ name: String) -> Double { name == "tiny-t5" ? 1e-3 : 1e-5 }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func gradientsMatchTransformers(_ name: String) throws {
        let model = try T5ModelTests.load(name)
        let ref = try Self.reference(name)
        let full = T5FullParameters(model.weights, config: model.config)
        let tm = T5TrainingModel(full: full, size: T5PassSize(pairs: Self.examples(ref)))
        full.zeroGrad()
        let loss = Self.forwardBackward(tm, Self.examples(ref))
        let want = ref["loss"] as! Double
        // Loss: within 1e-5 relative (f32 on both sides).
        #expect(abs(loss - want) <= 1e-5 * want, "\(name): loss \(loss), transformers \(want)")
        #expect(Set(full.tensors.map(\.name)) == Set(ref["parameters"] as! [String]), "\(name): the trained tensors are named_parameters()")
        #expect(full.tensors.reduce(0) { $0 + $1.count } == full.count && full.count == T5FullParameters.parameterCount(model.config))
        let grads = try SafeTensorsFile(path: Fixtures.url("t5/full-\(name)/gradients.safetensors").path)
        var worst = 0.0
        for t in full.tensors {
            let info = try #require(grads.tensors[t.name], "\(t.name)")
            #expect(info.shape == t.shape, "\(t.name)")
            let g = try grads.weight(info).toFloats()
            let mine = UnsafeBufferPointer(start: full.grads + t.offset, count: t.count)
            let norm = g.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let err = zip(mine, g).map { abs(Double($0) - Double($1)) }.max() ?? 0
            worst = max(worst, err / max(norm, 1e-12))
            // Per tensor: max |Tailor − transformers| ≤ tolerance · |g| + 1e-7.
            #expect(norm > 0, "\(t.name) has a gradient")
            #expect(err <= Self.gradientTolerance(name) * norm + 1e-7, "\(name) \(t.name): max |Δ| \(err), |g| \(norm)")
        }
        print("\(name): \(full.tensors.count) tensors, \(full.count) parameters, worst max |Δ| / |g| = \(worst)")
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func adamWStepsMatchTransformers(_ name: String) throws {
        let model = try T5ModelTests.load(name)
        let ref = try Self.reference(name)
        let full = T5FullParameters(model.weights, config: model.config)
        let examples = Self.examples(ref)
        let tm = T5TrainingModel(full: full, size: T5PassSize(pairs: examples))
        // Trainer's grouping, as get_decay_parameter_names gave it: the matrices decayed, layer norms and position tables not.
        let decayed = full.tensors.filter { t in full.decayed.contains { $0.contains(t.offset) } }.map(\.name)
        #expect(Set(decayed) == Set(ref["decayed"] as! [String]), "\(name): decayed tensors")
        var adam = AdamWConfig()
        adam.weightDecay = Float(ref["weight_decay"] as! Double)
        adam.clipNorm = Float(ref["max_grad_norm"] as! Double)
        let lr = Float(ref["learning_rate"] as! Double)
        let losses = ref["step_losses"] as! [Double], norms = ref["step_grad_norms"] as! [Double]
        for (i, want) in losses.dropLast().enumerated() {
            full.zeroGrad()
            let loss = Self.forwardBackward(tm, examples)
            // Each step's loss within 1e-4 relative; its gradient norm before clipping within 1e-4 relative (tiny-t5:
            // 1e-2, its f32 gradients' spread above grown over the steps; measured up to 4.2e-3).
            #expect(abs(loss - want) <= 1e-4 * want, "\(name) step \(i + 1): loss \(loss), transformers \(want)")
            let norm = AdamW.step(full, lr: lr, t: i + 1, config: adam)
            #expect(abs(Double(norm) - norms[i]) <= (name == "tiny-t5" ? 1e-2 : 1e-4) * norms[i], "\(name) step \(i + 1): gradient norm \(norm), transformers \(norms[i])")
        }
        let tokens = examples.reduce(0) { $0 + $1.target.count }
        let last = tm.evaluate(examples).lossSum / Double(tokens)
        #expect(abs(last - losses.last!) <= 1e-4 * losses.last!, "\(name) after the steps: loss \(last), transformers \(losses.last!)")
        #expect(zip(losses, losses.dropFirst()).allSatisfy { $1 < $0 }, "the reference run learns at every step")
    }

    /// The backward into every kind of weight against central differences: the first, a middle and the last value
    /// of each tensor, the embedding rows the batch uses, and every entry of both position tables that it reaches.
    @Test(arguments: [("tiny-t5", T5Config.Activation.gelu), ("tiny-flan", .geluNew)])
    func gradientsMatchFiniteDifferences(_ name: String, activation: T5Config.Activation) throws {
        let loaded = try T5ModelTests.load(name)
        // tiny-t5 tamed and smooth (T5TrainingTests.tamed): its ReLU at initializer_factor 4 leaves no usable f32 step.
        let model = name == "tiny-t5" ? T5TrainingTests.tamed(loaded, activation: activation) : loaded
        let full = T5FullParameters(model.weights, config: model.config)
        let examples = T5TrainingTests.examples(model)
        let tm = T5TrainingModel(full: full, maxSource: 32, maxTarget: 16)
        full.zeroGrad()
        for e in examples { tm.forwardBackward(e, gradScale: 1) }
        let analytic = Array(UnsafeBufferPointer(start: full.grads, count: full.count))
        func loss(_ values: [Float]) -> Double {
            full.values.update(from: values, count: values.count)
            return examples.reduce(0) { $0 + tm.evaluate($1).lossSum }
        }
        var values = Array(UnsafeBufferPointer(start: full.values, count: full.count))
        var indices: [Int] = []
        let C = model.config.dim, id = examples[0].source[1]
        for t in full.tensors {
            switch t.kind {
            case .positionTable:
                indices += (0..<t.count).filter { analytic[t.offset + $0] != 0 }.map { t.offset + $0 }
            case .matrix where t.name == T5TensorNames.shared:
                indices += [t.offset + id * C, t.offset + id * C + C / 2, t.offset + model.config.decoderStartToken * C + 1]
            default:
                indices += [t.offset, t.offset + t.count / 3, t.offset + t.count - 1]
            }
        }
        let tables = full.tensors.filter { $0.kind == .positionTable }
        #expect(tables.count == 2 && tables.allSatisfy { t in indices.filter { (t.offset..<(t.offset + t.count)).contains($0) }.count >= 4 })
        GradientCheck.check("\(name) \(activation) full", values: &values, analytic: analytic, indices: indices,
                            eps: 1e-2, rtol: 3e-2, atol: 2e-3, loss: loss)
    }

    /// A paused full run resumes from its checkpoint to the same weights as an uninterrupted one; the checkpoint is a
    /// Hugging Face T5 directory that Tailor loads as a model with the trained weights' loss.
    @Test func checkpointsResumeExactlyAndLoadAsModels() throws {
        let model = try T5ModelTests.load("tiny-flan")
        var c = T5TrainerTests.config(epochs: 2)
        c.trainingType = .full; c.adam.weightDecay = 0.01; c.learningRate = 3e-3
        let rootA = scratch.directory("tailor-t5-full-"), rootB = scratch.directory("tailor-t5-full-")
        func run(_ root: String, stopAt: Int? = nil, resume: String? = nil) throws -> (TrainerTests.Recorder, T5TrainingResult, T5Trainer) {
            let examples = T5TrainerTests.examples(model)
            let trainer = T5Trainer(model: model, baseModelName: "tiny-flan", train: examples, validation: Array(examples.prefix(2)), config: c)
            trainer.modelFiles = Self.companions()
            let rec = TrainerTests.Recorder(root: root, stopAt: stopAt)
            trainer.observer = rec
            return (rec, try trainer.run(resumingFrom: resume), trainer)
        }
        let (whole, _, a) = try run(rootA)
        #expect(whole.steps.count == 6 && whole.steps.last!.trainLoss < whole.steps.first!.trainLoss)
        let (paused, pausedResult, _) = try run(rootB, stopAt: 2)
        #expect(pausedResult.outcome == .stopped(atStep: 2))
        let checkpoint = try #require(paused.checkpoints[2])
        let (resumed, _, b) = try run(rootB, resume: checkpoint)
        #expect(resumed.steps.map(\.step) == Array(3...6))
        #expect(resumed.steps.map(\.trainLoss) == Array(whole.steps.suffix(4).map(\.trainLoss)))
        let fa = try #require(a.full), fb = try #require(b.full)
        #expect(Array(UnsafeBufferPointer(start: fa.values, count: fa.count)) == Array(UnsafeBufferPointer(start: fb.values, count: fb.count)))
        #expect(Array(UnsafeBufferPointer(start: fa.m, count: fa.count)) == Array(UnsafeBufferPointer(start: fb.m, count: fb.count)))

        // The last checkpoint, loaded as a model, has the trained weights: the same loss as the trainer's.
        let last = try #require(whole.checkpoints[6])
        let reloaded = try T5Model(directory: last)
        let examples = T5TrainerTests.examples(model)
        let again = T5TrainingModel(full: T5FullParameters(reloaded.weights, config: reloaded.config), size: a.model.size)
        let trainedLoss = examples.reduce(0) { $0 + a.model.evaluate($1).lossSum }
        let reloadedLoss = examples.reduce(0) { $0 + again.evaluate($1).lossSum }
        #expect(reloadedLoss == trainedLoss, "reloaded \(reloadedLoss), trained \(trainedLoss)")
        #expect(FileManager.default.fileExists(atPath: last + "/optimizer/adamw.safetensors"))
        // Read straight into the buffers (as `tailor train` starts a full run), the checkpoint holds the trained values.
        let direct = try T5FullParameters(directory: last, config: model.config)
        #expect(Array(UnsafeBufferPointer(start: direct.values, count: direct.count)) == Array(UnsafeBufferPointer(start: fa.values, count: fa.count)))
        let names = Set(try SafeTensorsFile(path: last + "/model.safetensors").tensors.keys)
        #expect(names == Set(fa.tensors.map(\.name)) && names.contains("lm_head.weight") && names.contains(T5TensorNames.relativeBias("decoder")))
        #expect(!FileManager.default.fileExists(atPath: last + "/adapter_config.json"))
    }

    /// tiny-flan's config and the fixture tokenizer, as T5FullParameters.companions gathers a model directory's.
    static func companions() -> [String: Data] {
        var files: [String: Data] = [:]
        files["config.json"] = try? Data(contentsOf: Fixtures.url("t5/tiny-flan/config.json"))
        for f in ["spiece.model", "tokenizer_config.json"] { files[f] = try? Data(contentsOf: Fixtures.url("t5/unigram/\(f)")) }
        return files
    }
}
