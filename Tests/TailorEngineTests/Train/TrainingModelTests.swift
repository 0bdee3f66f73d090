// The training forward/backward of the whole model on a tiny random Llama: gradients against finite differences,
// and the training forward against the inference forward (two code paths, one model).
import Foundation
import Testing
import TailorEngine

@Suite struct TrainingModelTests {
    static func batch() -> PackedBatch {
        var b = PackedBatch()
        b.append(tokens: [3, 17, 42, 5, 9, 11], lossMask: [false, false, false, true, true, true])
        b.append(tokens: [7, 8, 60, 2, 33], lossMask: [false, false, true, true, true])
        return b
    }

    /// LoRA parameters with random A and B (B = 0 would make every dA vanish).
    static func randomLoRA(_ model: Transformer, rank: Int = 2, dropout: Float = 0) -> LoRAParameters {
        let p = LoRAParameters(config: LoRAConfig(rank: rank, alpha: 4, dropout: dropout), model: model.config)
        var rng = SeededRandom(seed: 99)
        for i in 0..<p.count { p.values[i] = rng.nextGaussian() * 0.2 }
        return p
    }

    /// The mean loss over loss tokens computed through InferenceContext, one example at a time.
    static func inferenceLoss(_ model: Transformer, adapter: LoRAAdapter?, batch: PackedBatch) -> Double {
        let ctx = InferenceContext(model: model, maxRows: 16)
        ctx.quantizedRowsLimit = 0
        var total = 0.0
        for seg in batch.segments {
            let cache = KVCache(config: model.config, capacity: seg.count)
            let rows = seg.map { ForwardRow(token: Int(batch.tokens[$0]), position: $0 - seg.lowerBound, sequence: 0,
                                            adapter: adapter, wantsLogits: true) }
            let logits = Array(ctx.forward(rows, caches: [cache]))
            let V = model.config.vocabSize
            for (j, t) in seg.enumerated() where batch.targets[t] >= 0 {
                let row = logits[(j * V)..<((j + 1) * V)]
                let m = row.max()!
                let lse = Double(m) + log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
                total += lse - Double(row[row.startIndex + Int(batch.targets[t])])
            }
        }
        return total
    }

    @Test(arguments: [false, true])
    func trainingForwardMatchesInferenceForward(qkvBias: Bool) {
        let model = TinyModel.make(seed: 3, qkvBias: qkvBias)
        let lora = Self.randomLoRA(model)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, checkpointing: false)
        let batch = Self.batch()
        let train = tm.evaluate(batch)
        let infer = Self.inferenceLoss(model, adapter: lora.snapshot(), batch: batch)
        #expect(train.tokens == batch.lossTokens)
        #expect(abs(train.lossSum - infer) < 1e-4 * max(1, abs(infer)), "training \(train.lossSum) vs inference \(infer)")
    }

    @Test func freshAdapterEqualsTheBaseModel() {
        let model = TinyModel.make(seed: 4)
        let lora = LoRAParameters(config: LoRAConfig(rank: 4, alpha: 8), model: model.config)
        var rng = SeededRandom(seed: 1)
        lora.initialize(rng: &rng)
        let batch = Self.batch()
        let base = Self.inferenceLoss(model, adapter: nil, batch: batch)
        let adapted = Self.inferenceLoss(model, adapter: lora.snapshot(), batch: batch)
        #expect(base == adapted)
    }

    @Test(arguments: [(false, Float(0)), (true, Float(0)), (false, Float(0.3))])
    func loraGradientsMatchFiniteDifferences(checkpointing: Bool, dropout: Float) {
        let model = TinyModel.make(seed: 5, qkvBias: true)
        let lora = Self.randomLoRA(model, dropout: dropout)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, checkpointing: checkpointing)
        let batch = Self.batch()
        let seed: UInt64 = 1234
        lora.zeroGrad()
        _ = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: seed)
        let analytic = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
        // The loss as forwardBackward defines it (same dropout masks), without touching the gradients we compare.
        func loss(_ values: [Float]) -> Double {
            lora.values.update(from: values, count: values.count)
            let saved = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
            let r = tm.forwardBackward(batch, gradScale: 0, dropoutSeed: seed)!
            lora.grads.update(from: saved, count: saved.count)
            return r.lossSum
        }
        var values = Array(UnsafeBufferPointer(start: lora.values, count: lora.count))
        // Every slot's A and B of both layers, a few entries each.
        var indices: [Int] = []
        for s in lora.slots {
            indices += [s.aOffset, s.aOffset + 5, s.bOffset, s.bOffset + 3]
        }
        GradientCheck.check("lora (checkpointing \(checkpointing), dropout \(dropout))", values: &values,
                            analytic: analytic, indices: indices, eps: 1e-2, rtol: 3e-2, atol: 2e-3, loss: loss)
    }

    @Test func everyActivationBudgetGivesTheSameGradients() {
        // Keeping all layers, some, or none (recomputing the rest in backward) changes memory, never the numbers.
        let model = TinyModel.make(seed: 6, qkvBias: true)
        let lora = Self.randomLoRA(model, dropout: 0.2)
        let batch = Self.batch()
        let c = model.config, rank = lora.config.rank
        let least = TrainingModel.plan(c, rank: rank, tokens: 32, budget: 0).bytes
        let most = TrainingModel.plan(c, rank: rank, tokens: 32, budget: nil).bytes
        var reference: [Float]? = nil
        var storedSeen = Set<Int>()
        for budget in [nil] + stride(from: least, through: most + 4096, by: max(1, (most - least) / 16)).map(Optional.some) {
            let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, activationBudget: budget)
            storedSeen.insert(tm.storedLayers(tokens: batch.count))
            #expect(tm.activationBytes <= max(budget ?? .max, least))
            lora.zeroGrad()
            _ = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: 7)
            let grads = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
            if let reference { #expect(grads == reference, "budget \(budget.map(String.init) ?? "nil")") } else { reference = grads }
        }
        #expect(storedSeen == Set(0...c.layers), "stored layers seen: \(storedSeen.sorted())")
    }

    /// The loss head with frozen weights runs over every loss row at once by slices of the vocabulary (an online
    /// softmax): any slice width gives the loss and gradients of one slice over the whole vocabulary, with and without
    /// the backward pass, and the loss of the head by rows that full fine-tuning runs.
    @Test func everyHeadSliceGivesTheSameLossAndGradients() {
        let model = TinyModel.make(seed: 9, qkvBias: true)
        let lora = Self.randomLoRA(model)
        let batch = Self.batch()
        func pass(_ slice: Int?) -> (Double, Double, Int, [Float]) {
            let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, activationBudget: nil, headSlice: slice)
            lora.zeroGrad()
            let r = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: 5)!
            return (r.lossSum, tm.evaluate(batch).lossSum, r.correct, Array(UnsafeBufferPointer(start: lora.grads, count: lora.count)))
        }
        let V = model.config.vocabSize
        let (loss, evaluated, correct, grads) = pass(nil)
        #expect(batch.lossTokens == 6 && abs(loss - evaluated) < 1e-9 * abs(loss))
        // The slices' products sum each row's Σ p·E in other orders: differences of float rounding, ~1e-6 of the
        // largest gradient (a slice's sum left unrescaled, or the target's term counted twice, is off by ~1e-1).
        let scale = grads.map(abs).max()!
        for slice in [1, 7, 8, 50, V - 1] {
            let (l, e, k, g) = pass(slice)
            #expect(abs(l - loss) < 1e-6 * abs(loss) && abs(e - loss) < 1e-6 * abs(loss), "\(slice) columns a slice: \(l), \(e) vs \(loss)")
            #expect(k == correct)
            let worst = zip(g, grads).map { abs($0 - $1) }.max()! / scale
            #expect(worst < 1e-5, "\(slice) columns a slice: gradients differ by \(worst) of the largest")
        }
        // Full fine-tuning's head by rows, on the same weights (the adapter left out of both): the same loss.
        let full = FullParameters(model)
        let frozen = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 32, activationBudget: nil, headSlice: 7)
        let base = frozen.withoutAdapter(true) { frozen.evaluate(batch) }
        for rows in [nil, 1, 4] {
            let byRows = TrainingModel(full: full, maxTokens: 32, activationBudget: nil, headRows: rows).evaluate(batch)
            #expect(abs(byRows.lossSum - base.lossSum) < 1e-6 * abs(base.lossSum) && byRows.correct == base.correct,
                    "rows \(rows.map(String.init) ?? "all"): \(byRows.lossSum) vs \(base.lossSum)")
        }
    }

    /// Full fine-tuning's head by chunks of rows, split evenly: any split gives the same loss and gradients as one
    /// product over every row, to rounding — the head's gradient sums its rows in another order when they come in
    /// chunks (on OpenBLAS's Zen/Haswell kernels: 4.8e-6 at most where the largest gradient is 9.8, a few units in
    /// its last place; bit for bit on SkylakeX's).
    @Test func everyHeadSplitByRowsGivesTheSameLossAndGradients() {
        let model = TinyModel.make(seed: 9, qkvBias: true)
        let batch = Self.batch()
        func pass(_ rows: Int?) -> (Double, [Float]) {
            let full = FullParameters(model)
            let tm = TrainingModel(full: full, maxTokens: 32, activationBudget: nil, headRows: rows)
            let r = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: 5)!
            return (r.lossSum, Array(UnsafeBufferPointer(start: full.grads, count: full.count)))
        }
        let (loss, grads) = pass(nil)
        for rows in [1, 2, 4, 5] {
            let (l, g) = pass(rows)
            #expect(abs(l - loss) < 1e-6 * abs(loss), "\(rows) rows a product: \(l) vs \(loss)")
            let scale = grads.map(abs).max()!, worst = zip(g, grads).map { abs($0 - $1) }.max()!
            #expect(scale > 0 && worst <= 1e-5 * scale, "\(rows) rows a product: gradients differ by \(worst) (largest \(scale))")
        }
    }

    /// Examples that begin with one prompt, packed whole and with the prompt shared (computed once, its rows first):
    /// the same loss, the same LoRA gradients (the prompt's rows collect every example's gradient) with every layer
    /// kept or recomputed, and the same log-likelihood per example (DPO's).
    @Test(arguments: [false, true])
    func sharedPrefixGivesTheSameLossAndGradients(checkpointing: Bool) {
        let model = TinyModel.make(seed: 8, qkvBias: true)
        let lora = Self.randomLoRA(model)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 48, checkpointing: checkpointing)
        let prompt = [3, 17, 42, 5, 9]
        func masked(_ own: [Int], loss from: Int) -> ([Int], [Bool]) {
            (prompt + own, (0..<(prompt.count + own.count)).map { $0 >= prompt.count + from })
        }
        let examples = [masked([11, 60, 2], loss: 1), masked([7, 8, 33, 21, 2], loss: 2), masked([12, 2], loss: 1)]
        var whole = PackedBatch(), shared = PackedBatch(sharing: prompt[...])
        for (ids, mask) in examples {
            #expect(PackedBatch.sharablePrefix(ids, mask) >= prompt.count)
            whole.append(tokens: ids, lossMask: mask); shared.append(tokens: ids, lossMask: mask)
        }
        // Each example's last token predicts nothing and is left out of both (see rowsAfterTheLastLossRowAreLeftOut).
        let tokens = examples.reduce(0) { $0 + $1.0.count }
        #expect(shared.count == whole.count - 2 * prompt.count && whole.count == tokens - 3)
        #expect(shared.exampleTokens == tokens && whole.exampleTokens == tokens)
        #expect(shared.lossTokens == whole.lossTokens && shared.segments.count == 3)
        func pass(_ b: PackedBatch) -> (Double, [Float]) {
            lora.zeroGrad()
            let r = tm.forwardBackward(b, gradScale: 1, dropoutSeed: 3)!
            return (r.lossSum, Array(UnsafeBufferPointer(start: lora.grads, count: lora.count)))
        }
        let (lossWhole, gradWhole) = pass(whole), (lossShared, gradShared) = pass(shared)
        #expect(abs(lossWhole - lossShared) <= 1e-5 * abs(lossWhole), "loss \(lossWhole) whole vs \(lossShared) shared")
        let scale = gradWhole.map(abs).max()!
        let worst = zip(gradWhole, gradShared).map { abs($0 - $1) }.max()!
        #expect(scale > 0 && worst <= 1e-4 * scale, "gradients differ by \(worst) (largest \(scale))")
        let a = tm.sequenceLogProbs(whole, adapter: true), b = tm.sequenceLogProbs(shared, adapter: true)
        #expect(a.count == 3 && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * abs($0) }, "\(a) vs \(b)")
    }

    /// Rows after an example's last loss-carrying row (a chat's end-of-turn token and the newline after it) are left
    /// out of the packed batch: no row that carries loss sees them, so the loss, the LoRA and the full fine-tuning
    /// gradients and each example's log-likelihood are those of the examples packed whole. A row kept too few (the
    /// last loss token's own predictor) would lose its loss; the counts say which rows went.
    @Test(arguments: [false, true])
    func rowsAfterTheLastLossRowAreLeftOut(fullFineTuning: Bool) {
        let model = TinyModel.make(seed: 11, qkvBias: true)
        // Loss on 3 tokens then a 2-token tail; two turns (loss, none, loss) then a 1-token tail; loss to the end.
        let examples: [([Int], [Bool])] = [
            ([3, 17, 42, 5, 9, 11, 2, 60], [false, false, false, true, true, true, false, false]),
            ([7, 8, 60, 2, 33, 21, 12, 4, 9], [false, true, true, false, false, true, true, true, false]),
            ([5, 6, 7, 8], [false, false, true, true]),
        ]
        var whole = PackedBatch(), trimmed = PackedBatch()
        for (ids, mask) in examples {
            whole.append(tokens: ids, lossMask: mask, keepingTail: true)
            trimmed.append(tokens: ids, lossMask: mask)
        }
        // Each example ends at the row predicting its last loss token: 3, 2 and 1 rows go (the last token of an
        // example predicts nothing, so even one trained to its end loses a row).
        #expect(whole.count == 21 && trimmed.count == 15 && trimmed.droppedTail == 6 && trimmed.exampleTokens == 21)
        #expect(trimmed.lossTokens == whole.lossTokens && trimmed.lossTokens == 10)
        #expect(trimmed.segments.map(\.count) == [5, 7, 3])
        let lora = fullFineTuning ? nil : Self.randomLoRA(model)
        let full = fullFineTuning ? FullParameters(model) : nil
        let tm = full.map { TrainingModel(full: $0, maxTokens: 32, activationBudget: nil) }
            ?? TrainingModel(base: FrozenBase(model), lora: lora!, maxTokens: 32, checkpointing: false)
        func pass(_ b: PackedBatch) -> (Double, [Float]) {
            lora?.zeroGrad(); full?.zeroGrad()
            let r = tm.forwardBackward(b, gradScale: 1, dropoutSeed: 3)!
            #expect(r.tokens == 10)
            let g = lora.map { UnsafeBufferPointer(start: $0.grads, count: $0.count) }
                ?? UnsafeBufferPointer(start: full!.grads, count: full!.count)
            return (r.lossSum, Array(g))
        }
        let (lossWhole, gradWhole) = pass(whole), (lossTrimmed, gradTrimmed) = pass(trimmed)
        #expect(abs(lossWhole - lossTrimmed) <= 1e-5 * abs(lossWhole), "loss \(lossWhole) whole vs \(lossTrimmed)")
        let scale = gradWhole.map(abs).max()!
        let worst = zip(gradWhole, gradTrimmed).map { abs($0 - $1) }.max()!
        #expect(scale > 0 && worst <= 1e-4 * scale, "gradients differ by \(worst) (largest \(scale))")
        if lora != nil {
            let a = tm.sequenceLogProbs(whole, adapter: true), b = tm.sequenceLogProbs(trimmed, adapter: true)
            #expect(a.count == 3 && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * abs($0) }, "\(a) vs \(b)")
        }
    }
}
