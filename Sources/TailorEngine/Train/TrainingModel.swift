// The training forward and backward passes of a Llama model with LoRA adapters on frozen f32 base weights
// (after llm.c's train_gpt2.c): activations laid out once for `maxTokens`, forward keeps what backward needs,
// backward adds into the LoRA gradients. With checkpointing only each layer's input is kept and the layer is
// recomputed during backward, bounding memory on long sequences.
import CKernels

public final class TrainingModel {
    public let base: FrozenBase
    public let lora: LoRAParameters
    public let maxTokens: Int
    public let checkpointing: Bool
    /// Called between layers, forward and backward (every few milliseconds): the job runner blocks here while
    /// chat requests need the cores, so a long step never delays them.
    public var yieldPoint: (() -> Void)?
    /// Asked between layers of a training step; true abandons the step (the run was cancelled).
    public var isAbandoned: (() -> Bool)?
    /// Loss rows per head matmul: bounds the (rows, V) logits buffer.
    static let headChunk = 128
    /// Off: the forward runs the frozen base alone (DPO's reference model, with no second copy of any weight).
    private var adapterEnabled = true

    private let c: LlamaConfig
    private let rope: RopeTable
    private let res: UnsafeMutablePointer<Float>        // (L+1, T, C): the residual stream between layers
    private let acts: [LayerActivations]                // L, or 1 shared when checkpointing
    private let g: Gradients
    private let cs: UnsafeMutablePointer<Float>         // (T, HD) rotary cos/sin
    private let xnF: UnsafeMutablePointer<Float>        // (T, C) final norm output
    private let rstdF: UnsafeMutablePointer<Float>      // (T)
    private let headIn: UnsafeMutablePointer<Float>     // (chunk, C)
    private let logits: UnsafeMutablePointer<Float>     // (chunk, V)
    private let chunkTargets: UnsafeMutablePointer<Int32>

    public init(base: FrozenBase, lora: LoRAParameters, maxTokens: Int, checkpointing: Bool) {
        self.base = base; self.lora = lora; self.maxTokens = maxTokens; self.checkpointing = checkpointing
        let c = base.config
        self.c = c
        rope = RopeTable(headDim: c.headDim, theta: c.ropeTheta, freqFactors: c.ropeFreqFactors)
        let T = maxTokens
        res = .allocate(capacity: (c.layers + 1) * T * c.dim)
        let rank = lora.config.rank
        acts = (0..<(checkpointing ? 1 : c.layers)).map { _ in LayerActivations(c, T: T, rank: rank) }
        g = Gradients(c, T: T, rank: lora.config.rank)
        cs = .allocate(capacity: T * c.headDim)
        xnF = .allocate(capacity: T * c.dim)
        rstdF = .allocate(capacity: T)
        headIn = .allocate(capacity: Self.headChunk * c.dim)
        logits = .allocate(capacity: Self.headChunk * c.vocabSize)
        chunkTargets = .allocate(capacity: Self.headChunk)
    }

    deinit {
        for p in [res, cs, xnF, rstdF, headIn, logits] { p.deallocate() }
        chunkTargets.deallocate()
    }

    /// Bytes of activation and gradient buffers (weights excluded).
    public var activationBytes: Int {
        4 * ((c.layers + 1) * maxTokens * c.dim + maxTokens * (c.headDim + c.dim + 1)
             + Self.headChunk * (c.dim + c.vocabSize)) + acts.reduce(0) { $0 + $1.bytes } + g.bytes
    }

    public struct StepResult: Sendable { public var lossSum: Double; public var correct: Int; public var tokens: Int }

    /// Forward and backward over one packed batch; LoRA gradients are added, scaled by `gradScale` (1 / loss tokens
    /// of the whole optimizer step, so that micro-batches accumulate to the mean).
    /// nil when `isAbandoned` said so between two layers (the gradients are then partial: drop the step).
    public func forwardBackward(_ batch: PackedBatch, gradScale: Float, dropoutSeed: UInt64) -> StepResult? {
        guard forward(batch, dropoutSeed: dropoutSeed, training: true) else { return nil }
        return head(batch, backward: true, dropoutSeed: dropoutSeed) { _ in gradScale }
    }

    /// Loss and accuracy without gradients (validation).
    public func evaluate(_ batch: PackedBatch) -> StepResult {
        _ = forward(batch, dropoutSeed: 0, training: false, abandonable: false)
        return head(batch, backward: false, dropoutSeed: 0) { _ in 0 }!
    }

    /// Each segment's log-likelihood of its loss tokens, Σ log p(target), without gradients: with the adapter (the
    /// policy) or without it (the reference model of DPO).
    public func sequenceLogProbs(_ batch: PackedBatch, adapter: Bool) -> [Double] {
        adapterEnabled = adapter
        defer { adapterEnabled = true }
        _ = forward(batch, dropoutSeed: 0, training: false, abandonable: false)
        var rowLoss = [Double](repeating: 0, count: batch.count)
        _ = head(batch, backward: false, dropoutSeed: 0, rowLoss: &rowLoss) { _ in 0 }
        return batch.segments.map { seg in -seg.reduce(0) { $0 + rowLoss[$1] } }
    }

    /// What one DPO micro-batch measured, summed over its pairs.
    public struct PreferenceResult: Sendable, Equatable {
        /// Σ −log σ(β·margin) over pairs.
        public var lossSum: Double
        /// Σ β·(π − ref) of the chosen and of the rejected answers (the "rewards" TRL reports).
        public var chosenRewardSum: Double
        public var rejectedRewardSum: Double
        /// Pairs whose chosen reward exceeds the rejected one.
        public var correct: Int
        public var pairs: Int
        public var tokens: Int
    }

    /// Direct Preference Optimization over pairs packed as segments (chosen, rejected, chosen, rejected, …), with
    /// `reference` the reference model's `sequenceLogProbs` of the same segments: per pair
    /// loss = −log σ(β·((πc − rc) − (πr − rr))), the π summed over each answer's loss tokens. Gradients are added,
    /// scaled by `gradScale` (1 / pairs of the whole optimizer step). ∂loss/∂πc = −β·σ(−z) = −∂loss/∂πr, and
    /// ∂π/∂logits is the cross-entropy gradient negated, so the backward is the supervised one with each row weighted
    /// by its pair's coefficient. The head runs twice (the margins must be known before any row's gradient); the
    /// layers once. nil when abandoned between two layers.
    public func preferenceForwardBackward(_ batch: PackedBatch, reference: [Double], beta: Double, gradScale: Float,
                                          dropoutSeed: UInt64) -> PreferenceResult? {
        let segments = batch.segments
        precondition(segments.count % 2 == 0 && reference.count == segments.count, "pairs of segments, one reference each")
        guard forward(batch, dropoutSeed: dropoutSeed, training: true) else { return nil }
        var rowLoss = [Double](repeating: 0, count: batch.count)
        _ = head(batch, backward: false, dropoutSeed: dropoutSeed, rowLoss: &rowLoss) { _ in 0 }
        let policy = segments.map { seg in -seg.reduce(0) { $0 + rowLoss[$1] } }
        var result = PreferenceResult(lossSum: 0, chosenRewardSum: 0, rejectedRewardSum: 0, correct: 0,
                                      pairs: segments.count / 2, tokens: batch.count)
        var rowWeight = [Float](repeating: 0, count: batch.count)
        for p in 0..<result.pairs {
            let t = PreferenceTerms(policyChosen: policy[2 * p], policyRejected: policy[2 * p + 1],
                                    referenceChosen: reference[2 * p], referenceRejected: reference[2 * p + 1], beta: beta)
            result.lossSum += t.loss
            result.chosenRewardSum += t.chosenReward
            result.rejectedRewardSum += t.rejectedReward
            if t.chosenReward > t.rejectedReward { result.correct += 1 }
            // The cross-entropy backward computes w·∂(−log p)/∂logits, so the weight is −∂loss/∂π.
            let w = Float(t.coefficient) * gradScale
            for r in segments[2 * p] { rowWeight[r] = w }
            for r in segments[2 * p + 1] { rowWeight[r] = -w }
        }
        guard head(batch, backward: true, dropoutSeed: dropoutSeed, weight: { rowWeight[$0] }) != nil else { return nil }
        return result
    }

    // MARK: forward

    /// False when the run was abandoned between two layers.
    private func forward(_ batch: PackedBatch, dropoutSeed: UInt64, training: Bool, abandonable: Bool = true) -> Bool {
        let T = batch.count, C = c.dim
        precondition(T > 0 && T <= maxTokens, "a packed batch of \(T) tokens exceeds the \(maxTokens) laid out")
        for t in 0..<T {
            let id = Int(batch.tokens[t])
            (res + t * C).update(from: base.embedding + id * C, count: C)
            rope.fill(cs + t * c.headDim, position: Int(batch.positions[t]))
        }
        for l in 0..<c.layers {
            yieldPoint?()
            if abandonable && isAbandoned?() == true { return false }
            layerForward(l, batch: batch, acts: acts[checkpointing ? 0 : l], dropoutSeed: dropoutSeed, training: training)
        }
        return true
    }

    private func loraView(_ l: Int, _ t: LoRATarget, seed: UInt64, training: Bool) -> LoRAView? {
        guard adapterEnabled, let s = lora.slot(layer: l, target: t) else { return nil }
        let p = lora.config.dropout
        return LoRAView(a: lora.values + s.aOffset, b: lora.values + s.bOffset, da: lora.grads + s.aOffset,
                        db: lora.grads + s.bOffset, rank: lora.config.rank, scale: lora.config.scale,
                        dropout: training ? p : 0,
                        dropoutSeed: seed &+ UInt64(l) &* 0x1000_0000 &+ UInt64(LoRATarget.allCases.firstIndex(of: t)!) &* 0x100_0000)
    }

    private func layerForward(_ l: Int, batch: PackedBatch, acts a: LayerActivations, dropoutSeed: UInt64, training: Bool) {
        let T = batch.count, C = c.dim, qD = c.qDim, kvD = c.kvDim, FF = c.hiddenDim
        let bw = base.layers[l]
        let xIn = res + l * maxTokens * C, xOut = res + (l + 1) * maxTokens * C
        func lin(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ t: LoRATarget, _ inF: Int, _ outF: Int) {
            loraLinearForward(y, a.u[t], x, bw.w[t]!, loraView(l, t, seed: dropoutSeed, training: training),
                              scratch: g.dropScratch, T: T, inF: inF, outF: outF)
        }
        rmsnormForward(a.xn1, a.rstd1, xIn, bw.attnNorm, N: T, C: C, eps: c.rmsEps)
        lin(a.q, a.xn1, .q, C, qD)
        lin(a.k, a.xn1, .k, C, kvD)
        lin(a.v, a.xn1, .v, C, kvD)
        addBias(a.q, bw.bq, T, qD); addBias(a.k, bw.bk, T, kvD); addBias(a.v, bw.bv, T, kvD)
        ropeForward(a.q, cs, N: T, heads: c.heads, HD: c.headDim, stride: qD)
        ropeForward(a.k, cs, N: T, heads: c.kvHeads, HD: c.headDim, stride: kvD)
        let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, qStride: qD, kvStride: kvD)
        a.reserveProbs(batch.segments.reduce(0) { $0 + c.heads * $1.count * $1.count })
        var off = 0
        for seg in batch.segments {
            let s = seg.lowerBound, n = seg.count
            attentionForward(a.att + s * qD, a.probs + off, a.q + s * qD, a.k + s * kvD, a.v + s * kvD,
                             Tq: n, start: 0, shape: shape)
            off += c.heads * n * n
        }
        lin(a.xMid, a.att, .o, qD, C)
        for i in 0..<(T * C) { a.xMid[i] += xIn[i] }
        rmsnormForward(a.xn2, a.rstd2, a.xMid, bw.ffnNorm, N: T, C: C, eps: c.rmsEps)
        lin(a.gate, a.xn2, .gate, C, FF)
        lin(a.up, a.xn2, .up, C, FF)
        swigluForward(a.h, a.gate, a.up, count: T * FF)
        lin(xOut, a.h, .down, FF, C)
        for i in 0..<(T * C) { xOut[i] += a.xMid[i] }
    }

    private func addBias(_ y: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>?, _ T: Int, _ n: Int) {
        guard let b else { return }
        for t in 0..<T { for i in 0..<n { y[t * n + i] += b[i] } }
    }

    // MARK: head and backward

    /// The loss head, then (when `backward`) the layers' backward; nil when abandoned between two layers.
    /// `weight(r)` scales the gradient of batch row r's loss; `rowLoss[r]`, when given, receives that loss.
    private func head(_ batch: PackedBatch, backward: Bool, dropoutSeed: UInt64, rowLoss: UnsafeMutablePointer<Double>? = nil,
                      weight: (Int) -> Float) -> StepResult? {
        let T = batch.count, C = c.dim, V = c.vocabSize
        let xL = res + c.layers * maxTokens * C
        rmsnormForward(xnF, rstdF, xL, base.outputNorm, N: T, C: C, eps: c.rmsEps)
        let lossRows = (0..<T).filter { batch.targets[$0] >= 0 }
        if backward { g.dres.update(repeating: 0, count: T * C); g.dtmp.update(repeating: 0, count: T * C) }
        var result = StepResult(lossSum: 0, correct: 0, tokens: lossRows.count)
        var i = 0
        while i < lossRows.count {
            let rows = lossRows[i..<min(lossRows.count, i + Self.headChunk)]
            for (j, r) in rows.enumerated() {
                (headIn + j * C).update(from: xnF + r * C, count: C)
                chunkTargets[j] = batch.targets[r]
            }
            let n = rows.count
            Blas.linear(logits, headIn, base.output, rows: n, inFeatures: C, outFeatures: V)
            var losses = [Double](repeating: 0, count: n)
            let (loss, correct) = crossEntropyForwardBackward(logits, targets: chunkTargets, N: n, V: V, rowLoss: &losses) {
                weight(rows[rows.startIndex + $0])
            }
            if let rowLoss { for (j, r) in rows.enumerated() { rowLoss[r] = losses[j] } }
            result.lossSum += loss; result.correct += correct
            if backward {
                // d(headIn) = dlogits · E, scattered back to the loss rows of dxnF (kept in dtmp).
                Blas.sgemm(transA: false, transB: false, m: n, n: C, k: V, a: logits, lda: V, b: base.output, ldb: C,
                           beta: 0, c: headIn, ldc: C)
                for (j, r) in rows.enumerated() { (g.dtmp + r * C).update(from: headIn + j * C, count: C) }
            }
            i += n
        }
        guard backward else { return result }
        rmsnormBackward(g.dres, nil, g.dtmp, xL, base.outputNorm, rstdF, N: T, C: C)
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            yieldPoint?()
            if isAbandoned?() == true { return nil }
            let a = acts[checkpointing ? 0 : l]
            if checkpointing { layerForward(l, batch: batch, acts: a, dropoutSeed: dropoutSeed, training: true) }
            layerBackward(l, batch: batch, acts: a, dropoutSeed: dropoutSeed)
        }
        return result
    }

    /// On entry g.dres holds ∂loss/∂(layer output); on exit ∂loss/∂(layer input).
    private func layerBackward(_ l: Int, batch: PackedBatch, acts a: LayerActivations, dropoutSeed: UInt64) {
        let T = batch.count, C = c.dim, qD = c.qDim, kvD = c.kvDim, FF = c.hiddenDim
        let bw = base.layers[l]
        let xIn = res + l * maxTokens * C
        func back(_ dx: UnsafeMutablePointer<Float>, _ acc: Bool, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                  _ t: LoRATarget, _ inF: Int, _ outF: Int) {
            loraLinearBackward(dx, accumulate: acc, dy, x, a.u[t], bw.w[t]!, loraView(l, t, seed: dropoutSeed, training: true),
                               du: g.du, scratch: g.dropScratch, T: T, inF: inF, outF: outF)
        }
        // MLP: out = xMid + down(silu(gate) ⊙ up)
        back(g.dh, false, g.dres, a.h, .down, FF, C)
        swigluBackward(g.dgate, g.dup, g.dh, a.gate, a.up, count: T * FF)
        back(g.dtmp, false, g.dgate, a.xn2, .gate, C, FF)
        back(g.dtmp, true, g.dup, a.xn2, .up, C, FF)
        rmsnormBackward(g.dres, nil, g.dtmp, a.xMid, bw.ffnNorm, a.rstd2, N: T, C: C)
        // Attention: xMid = xIn + o(attention(q, k, v))
        back(g.datt, false, g.dres, a.att, .o, qD, C)
        g.dq.update(repeating: 0, count: T * qD)
        g.dk.update(repeating: 0, count: T * kvD)
        g.dv.update(repeating: 0, count: T * kvD)
        let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, qStride: qD, kvStride: kvD)
        g.reserveDProbs(a.probsCapacity)
        var off = 0
        for seg in batch.segments {
            let s = seg.lowerBound, n = seg.count
            attentionBackward(g.dq + s * qD, g.dk + s * kvD, g.dv + s * kvD, g.dprobs + off, g.datt + s * qD,
                              a.probs + off, a.q + s * qD, a.k + s * kvD, a.v + s * kvD, T: n, shape: shape)
            off += c.heads * n * n
        }
        ropeBackward(g.dq, cs, N: T, heads: c.heads, HD: c.headDim, stride: qD)
        ropeBackward(g.dk, cs, N: T, heads: c.kvHeads, HD: c.headDim, stride: kvD)
        back(g.dtmp, false, g.dq, a.xn1, .q, C, qD)
        back(g.dtmp, true, g.dk, a.xn1, .k, C, kvD)
        back(g.dtmp, true, g.dv, a.xn1, .v, C, kvD)
        rmsnormBackward(g.dres, nil, g.dtmp, xIn, bw.attnNorm, a.rstd1, N: T, C: C)
    }
}

/// What one layer's forward keeps for its backward. Shapes for T tokens.
final class LayerActivations {
    let rstd1, xn1, q, k, v, att, xMid, rstd2, xn2, gate, up, h: UnsafeMutablePointer<Float>
    /// (T, r) per adapted projection: drop(x)·Aᵀ.
    let u: [LoRATarget: UnsafeMutablePointer<Float>]
    private(set) var probs: UnsafeMutablePointer<Float>
    private(set) var probsCapacity = 0
    let bytes: Int

    init(_ c: LlamaConfig, T: Int, rank: Int) {
        func a(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: n) }
        rstd1 = a(T); xn1 = a(T * c.dim); q = a(T * c.qDim); k = a(T * c.kvDim); v = a(T * c.kvDim)
        att = a(T * c.qDim); xMid = a(T * c.dim); rstd2 = a(T); xn2 = a(T * c.dim)
        gate = a(T * c.hiddenDim); up = a(T * c.hiddenDim); h = a(T * c.hiddenDim)
        var u: [LoRATarget: UnsafeMutablePointer<Float>] = [:]
        for t in LoRATarget.allCases { u[t] = a(T * rank) }
        self.u = u
        probs = a(1)
        bytes = 4 * (2 * T + 3 * T * c.dim + 2 * T * c.qDim + 2 * T * c.kvDim + 3 * T * c.hiddenDim + 7 * T * rank)
    }

    func reserveProbs(_ n: Int) {
        guard n > probsCapacity else { return }
        probs.deallocate()
        probsCapacity = max(n, probsCapacity * 2)
        probs = .allocate(capacity: probsCapacity)
    }

    deinit { for p in [rstd1, xn1, q, k, v, att, xMid, rstd2, xn2, gate, up, h, probs] + Array(u.values) { p.deallocate() } }
}

/// Gradient scratch for one layer at a time (the LoRA gradients themselves live in LoRAParameters).
final class Gradients {
    let dres, dtmp, dq, dk, dv, datt, dgate, dup, dh, du, dropScratch: UnsafeMutablePointer<Float>
    private(set) var dprobs: UnsafeMutablePointer<Float>
    private var dprobsCapacity = 0
    let bytes: Int

    init(_ c: LlamaConfig, T: Int, rank: Int) {
        func a(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: n) }
        dres = a(T * c.dim); dtmp = a(T * max(c.dim, c.qDim)); dq = a(T * c.qDim); dk = a(T * c.kvDim); dv = a(T * c.kvDim)
        datt = a(T * c.qDim); dgate = a(T * c.hiddenDim); dup = a(T * c.hiddenDim); dh = a(T * c.hiddenDim)
        du = a(T * rank); dropScratch = a(T * max(c.hiddenDim, c.dim, c.qDim))
        dprobs = a(1)
        bytes = 4 * (T * c.dim * 2 + 3 * T * c.qDim + 2 * T * c.kvDim + 3 * T * c.hiddenDim + T * rank
                     + T * max(c.hiddenDim, c.dim, c.qDim))
    }

    func reserveDProbs(_ n: Int) {
        guard n > dprobsCapacity else { return }
        dprobs.deallocate()
        dprobsCapacity = n
        dprobs = .allocate(capacity: n)
    }

    deinit { for p in [dres, dtmp, dq, dk, dv, datt, dgate, dup, dh, du, dropScratch, dprobs] { p.deallocate() } }
}
