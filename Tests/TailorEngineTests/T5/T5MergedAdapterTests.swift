// Serving a T5 adapter by merging it: the merged model's teacher-forced loss on the PEFT fixtures' batch is PEFT's
// loss for that adapter (so every adapted projection was folded in, at alpha / r), and the merged model is not the base.
import Foundation
import Testing
@testable import TailorEngine

struct T5MergedAdapterTests {
    /// Mean −log p(target) over the batch, decoding each target teacher-forced through `model.decode`.
    static func loss(_ model: T5Model, _ examples: [T5TrainingExample]) -> Double {
        var sum = 0.0, tokens = 0
        let V = model.config.vocabSize
        for e in examples {
            let cache = T5DecoderCache(model: model, encoderStates: model.encode(e.source), capacity: e.target.count)
            let inputs = [model.config.decoderStartToken] + e.target.dropLast()
            let logits = model.decode(inputs, cache: cache, allLogits: true)
            for (t, label) in e.target.enumerated() {
                let row = logits[(t * V)..<((t + 1) * V)]
                let m = row.max()!
                let lse = Double(m) + log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
                sum += lse - Double(row[row.startIndex + label])
            }
            tokens += e.target.count
        }
        return sum / Double(tokens)
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func mergedModelHasPEFTsLoss(_ name: String) throws {
        let model = try T5ModelTests.load(name)
        let ref = try T5TrainingTests.reference(name)
        let directory = Fixtures.url("t5/lora-\(name)").path
        let config = try T5Model.adapterConfig(directory: directory)
        #expect(config.rank == ref.rank && config.alpha == ref.alpha)
        #expect(Set(config.targets) == Set(LoRATarget.allCases), "\(name): every projection is adapted")
        let merged = try model.merging(adapterDirectory: directory)
        let got = Self.loss(merged, ref.examples), base = Self.loss(model, ref.examples)
        // |Tailor − PEFT| ≤ 1e-4 relative, as the training model's loss is checked; the base's is over ten times
        // further (the fixture adapters move the loss by ~0.15%), so the check sees a missing merge.
        #expect(abs(got - ref.loss) <= 1e-4 * ref.loss, "\(name): merged loss \(got), PEFT \(ref.loss)")
        #expect(abs(base - ref.loss) > 1e-3 * ref.loss, "\(name): the base's loss \(base) should differ from the adapter's")
        // The base model is untouched (its weights are a copy).
        #expect(abs(Self.loss(model, ref.examples) - base) == 0)
    }

    @Test func anAdapterNamingAnUnknownModuleIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}"#.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(throws: LoRAError.self) { try T5Model.adapterConfig(directory: dir.path) }
    }
}
