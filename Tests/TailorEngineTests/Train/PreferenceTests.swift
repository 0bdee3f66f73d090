// DPO on the tiny random Llama: the pair math against its closed form, sequence log-likelihoods against the
// inference forward (with and without the adapter), and the preference gradients against finite differences.
import Foundation
import Testing
import TailorEngine

@Suite struct PreferenceTests {
    /// Two pairs (chosen, rejected): the answers of a pair share their prompt, as DPO data does.
    static let answers: [(tokens: [Int], lossMask: [Bool])] = [
        ([3, 17, 42, 5, 9, 11], [false, false, false, true, true, true]),
        ([3, 17, 42, 8, 2], [false, false, false, true, true]),
        ([7, 8, 60, 2, 33], [false, false, true, true, true]),
        ([7, 8, 12, 40, 33, 19, 4], [false, false, true, true, true, true, true]),
    ]

    static func pairs() -> PackedBatch {
        var b = PackedBatch()
        for a in answers { b.append(tokens: a.tokens, lossMask: a.lossMask) }
        return b
    }

    @Test func pairTermsFollowTheClosedForm() {
        let t = PreferenceTerms(policyChosen: -10, policyRejected: -12, referenceChosen: -11, referenceRejected: -11, beta: 0.1)
        #expect(abs(t.chosenReward - 0.1) < 1e-12 && abs(t.rejectedReward + 0.1) < 1e-12)
        let z = 0.2
        #expect(abs(t.loss - log(1 + exp(-z))) < 1e-12)
        #expect(abs(t.coefficient - 0.1 / (1 + exp(z))) < 1e-12)
        // Far out in either direction: finite, and the loss keeps its small tail instead of rounding to zero.
        let sure = PreferenceTerms(policyChosen: 0, policyRejected: -2000, referenceChosen: 0, referenceRejected: 0, beta: 1)
        #expect(sure.loss > 0 && sure.loss < 1e-300 || sure.loss == 0)
        let wrong = PreferenceTerms(policyChosen: -2000, policyRejected: 0, referenceChosen: 0, referenceRejected: 0, beta: 1)
        #expect(abs(wrong.loss - 2000) < 1e-9 && abs(wrong.coefficient - 1) < 1e-12)
    }

    @Test func sequenceLogProbsMatchTheInferenceForward() {
        let model = TinyModel.make(seed: 6)
        let lora = TrainingModelTests.randomLoRA(model)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, checkpointing: false)
        let batch = Self.pairs()
        for adapter in [true, false] {
            let got = tm.sequenceLogProbs(batch, adapter: adapter)
            #expect(got.count == batch.segments.count)
            for (i, a) in Self.answers.enumerated() {
                var one = PackedBatch()
                one.append(tokens: a.tokens, lossMask: a.lossMask)
                let want = -TrainingModelTests.inferenceLoss(model, adapter: adapter ? lora.snapshot() : nil, batch: one)
                #expect(abs(got[i] - want) < 1e-4 * max(1, abs(want)), "segment \(i), adapter \(adapter): \(got[i]) vs \(want)")
            }
        }
        // The adapter is switched back on afterwards.
        #expect(tm.sequenceLogProbs(batch, adapter: true) != tm.sequenceLogProbs(batch, adapter: false))
    }

    @Test(arguments: [(false, Float(0)), (true, Float(0.3))])
    func preferenceGradientsMatchFiniteDifferences(checkpointing: Bool, dropout: Float) {
        let model = TinyModel.make(seed: 7, qkvBias: true)
        let lora = TrainingModelTests.randomLoRA(model, dropout: dropout)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, checkpointing: checkpointing)
        let batch = Self.pairs()
        // A reference that differs from the policy, so that no margin is zero by construction.
        let reference = tm.sequenceLogProbs(batch, adapter: false).map { $0 + 0.3 }
        let seed: UInt64 = 77, beta = 0.5
        lora.zeroGrad()
        let r = tm.preferenceForwardBackward(batch, reference: reference, beta: beta, gradScale: 1, dropoutSeed: seed)!
        #expect(r.pairs == 2 && r.lossSum > 0)
        let analytic = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
        func loss(_ values: [Float]) -> Double {
            lora.values.update(from: values, count: values.count)
            let saved = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
            let r = tm.preferenceForwardBackward(batch, reference: reference, beta: beta, gradScale: 0, dropoutSeed: seed)!
            lora.grads.update(from: saved, count: saved.count)
            return r.lossSum
        }
        var values = Array(UnsafeBufferPointer(start: lora.values, count: lora.count))
        var indices: [Int] = []
        for s in lora.slots { indices += [s.aOffset, s.aOffset + 5, s.bOffset, s.bOffset + 3] }
        #expect(indices.contains { abs(analytic[$0]) > 1e-4 }, "the check needs gradients that are not all zero")
        GradientCheck.check("dpo (checkpointing \(checkpointing), dropout \(dropout))", values: &values,
                            analytic: analytic, indices: indices, eps: 1e-2, rtol: 3e-2, atol: 2e-4, loss: loss)
    }
}
