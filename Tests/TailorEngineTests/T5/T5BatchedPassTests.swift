// A batch packed into one T5 pass (sources end to end through one encoder pass, targets through one decoder pass)
// against the same pairs run one pass each and their gradients accumulated: the same loss, accuracy and gradients
// (LoRA and full fine-tuning, pairs of different lengths, a layout larger than the batch). The padded batch's loss
// and gradients against transformers are T5TrainingTests' and T5FullFineTuningTests' fixtures.
import Foundation
import Testing
@testable import TailorEngine

struct T5BatchedPassTests {
    /// Three pairs of different source and target lengths (one source shorter than its target).
    static func pairs(_ model: T5Model) -> [T5TrainingExample] {
        [("summarize: the house is wonderful and large, with a garden", "a large house"), ("Hello world", "Bonjour le monde, et bonjour"),
         ("translate: yes", "oui")].map {
            T5TrainingExample(source: model.tokenizer.encode($0.0, addSpecial: true), target: model.tokenizer.encode($0.1, addSpecial: true))
        }
    }

    /// Max |a − b| over max |b|, and where the worst one is.
    static func relativeDifference(_ a: UnsafePointer<Float>, _ b: [Float]) -> (Double, Int) {
        var worst = 0.0, at = 0
        for i in b.indices where abs(Double(a[i]) - Double(b[i])) > worst { worst = abs(Double(a[i]) - Double(b[i])); at = i }
        return (worst / max(Double(b.map(abs).max() ?? 0), 1e-12), at)
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"], [false, true])
    func packedBatchEqualsPairsOneByOne(_ name: String, full isFull: Bool) throws {
        // tiny-t5 with GELU in place of ReLU (T5TrainingTests.tamed): its ReLU units sit at their kink, where two
        // summation orders can round a pre-activation to opposite sides of 0 and flip whole gradient entries (max
        // |Δgrad| 2.3e-4 and 6.9e-4 of the largest on an AMD Zen 4, under 1e-4 on a Xeon) — that says nothing about
        // the packing, and ReLU's backward is checked on its own and against PEFT in T5TrainingTests.
        let loaded = try T5ModelTests.load(name)
        let model = name == "tiny-t5" ? T5TrainingTests.tamed(loaded, activation: .gelu) : loaded
        let pairs = Self.pairs(model)
        #expect(Set(pairs.map(\.source.count)).count > 1 && Set(pairs.map(\.target.count)).count > 1, "\(pairs.map(\.source.count)) \(pairs.map(\.target.count))")
        let tokens = pairs.reduce(0) { $0 + $1.target.count }
        let lora = isFull ? nil : T5LoRAParameters(config: LoRAConfig(rank: 4, alpha: 8), model: model.config)
        if let lora {
            // B away from zero, so that every adapter's gradient is not zero by construction.
            var rng = SeededRandom(seed: 5)
            for i in 0..<lora.count { lora.values[i] = (rng.nextUnitFloat() * 2 - 1) * 0.3 }
        }
        let full = isFull ? T5FullParameters(model.weights, config: model.config) : nil
        func trainingModel(_ size: T5PassSize) -> T5TrainingModel {
            full.map { T5TrainingModel(full: $0, size: size) } ?? T5TrainingModel(model: model, lora: lora!, size: size)
        }
        let grads = full?.grads ?? lora!.grads, count = full?.count ?? lora!.count
        func zero() { full?.zeroGrad(); lora?.zeroGrad() }

        let one = trainingModel(T5PassSize(maxSource: pairs.map(\.source.count).max()!, maxTarget: pairs.map(\.target.count).max()!))
        zero()
        var lossSum = 0.0, correct = 0
        for e in pairs {
            let r = one.forwardBackward(e, gradScale: 1 / Float(tokens))
            lossSum += r.lossSum; correct += r.correct
        }
        let want = Array(UnsafeBufferPointer(start: grads, count: count))
        #expect(want.contains { $0 != 0 })

        // Laid out exactly for the batch, and for any 2 of 5 pairs (more rows than this batch of 2 uses).
        let more = pairs + [T5TrainingExample(source: Array(pairs[0].source.reversed()) + pairs[1].source, target: pairs[1].target + pairs[2].target)]
        for (label, size, batch) in [("exact", T5PassSize(pairs: pairs), pairs), ("fitting", T5PassSize.fitting(more, batchSize: 2), Array(pairs[1...]))] {
            let packed = trainingModel(size)
            let batchTokens = batch.reduce(0) { $0 + $1.target.count }
            var oneByOne = (lossSum, correct, want)
            if batch != pairs {
                zero()
                oneByOne = (0, 0, [])
                for e in batch {
                    let r = one.forwardBackward(e, gradScale: 1 / Float(batchTokens))
                    oneByOne.0 += r.lossSum; oneByOne.1 += r.correct
                }
                oneByOne.2 = Array(UnsafeBufferPointer(start: grads, count: count))
            }
            zero()
            let r = packed.forwardBackward(batch, gradScale: 1 / Float(batchTokens))
            // Loss: the same sum to f32 rounding; gradients within 1e-5 of their largest entry, the whole vector, as
            // OpenBLAS sums in another order over the packed rows.
            #expect(abs(r.lossSum - oneByOne.0) <= 1e-5 * oneByOne.0, "\(name) \(label): packed loss \(r.lossSum), one by one \(oneByOne.0)")
            #expect(r.correct == oneByOne.1)
            let (diff, at) = Self.relativeDifference(grads, oneByOne.2)
            #expect(diff <= 1e-5, "\(name) \(isFull ? "full" : "lora") \(label): max |Δgrad| / max |grad| = \(diff) at \(at): \(grads[at]) vs \(oneByOne.2[at])")
            let e = packed.evaluate(batch)
            #expect(abs(e.lossSum - oneByOne.0) <= 1e-5 * oneByOne.0 && e.correct == oneByOne.1)
        }
    }

    @Test func passSizeFitsEveryBatchOfTheData() {
        func pair(_ s: Int, _ t: Int) -> T5TrainingExample { T5TrainingExample(source: Array(repeating: 1, count: s), target: Array(repeating: 1, count: t)) }
        let data = [pair(10, 2), pair(3, 9), pair(7, 7), pair(1, 1)]
        let size = T5PassSize.fitting(data, batchSize: 2)
        #expect(size.sourceRows == 17 && size.targetRows == 16 && size.longestSource == 10 && size.longestTarget == 9)
        #expect(size.encoderScores == 149 && size.decoderScores == 130 && size.crossScores == 76)
        for i in data.indices { for j in data.indices where j != i { #expect(size.holds(T5PassSize(pairs: [data[i], data[j]]))) } }
        #expect(!size.holds(T5PassSize(pairs: Array(data.prefix(3)))))
    }
}
