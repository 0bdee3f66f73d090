// The training forward and backward passes of a decoder (Llama family, Qwen 3, Gemma 3) with LoRA adapters on frozen f32 base weights
// (after llm.c's train_gpt2.c): activations laid out once for `maxTokens`, forward keeps what backward needs,
// backward adds into the LoRA gradients — or, in full fine-tuning (`full`), into every weight's gradient. Every buffer is linear in the length: attention is blocked (no T × T matrix)
// and the loss head runs by slices of the vocabulary (by chunks of rows when its weights train). The activations of the first layers are kept in an arena of the memory
// budget's size, as many layers as a pass's length lets fit; the others keep their input alone and are recomputed
// during backward (activation checkpointing, as much as the budget asks for and no more).
import CKernels
import Foundation

public final class TrainingModel {
    public let base: FrozenBase
    public let lora: LoRAParameters
    /// Full fine-tuning: `base` is `full.weights` and every weight gets its gradient (the adapter is empty).
    public let full: FullParameters?
    public let maxTokens: Int
    /// Floats of the arena where the first layers keep their activations (see storedLayers(tokens:)).
    private let arenaFloats: Int
    /// Called between layers and between the attention and feed-forward halves of each, forward and backward, and
    /// per chunk of the loss head: the job runner blocks here while chat requests need the cores, so a long step
    /// delays a request's first token by at most one of those pieces.
    public var yieldPoint: (() -> Void)?
    /// Asked between layers of a training step; true abandons the step (the run was cancelled).
    public var isAbandoned: (() -> Bool)?
    /// The loss head runs in one of two ways. With frozen head weights (LoRA training, and every evaluation) it takes
    /// all of a step's loss rows at once against slices of the vocabulary (SlicedLossHead), so no (rows, V) logits
    /// buffer exists. Full fine-tuning needs each row's normalised probabilities whole for the head's own gradient, so
    /// there the head runs by chunks of rows over the whole vocabulary (`headByRows`).
    static func headSlice(_ c: LlamaConfig, tokens: Int) -> Int { SlicedLossHead.slice(vocabulary: c.vocabSize, rows: tokens) }
    /// Full fine-tuning: loss rows per head product, as many as a (rows, V) logits buffer of `headLogitsBytes` holds,
    /// at least 128 (OpenBLAS packs the head's weights again on every call: fewer, larger products are faster). A
    /// step's rows are split evenly among the chunks it needs.
    static func headChunk(_ c: LlamaConfig, tokens: Int) -> Int { max(1, min(tokens, max(128, headLogitsBytes / (4 * c.vocabSize)))) }
    static let headLogitsBytes = 96 << 20
    /// Off: the forward runs the frozen base alone (DPO's reference model, with no second copy of any weight).
    private var adapterEnabled = true

    private let c: LlamaConfig
    private let rope: RopeTable
    private let res: UnsafeMutablePointer<Float>        // (L+1, T, C): the residual stream between layers
    private let arena: UnsafeMutablePointer<Float>      // (arenaFloats): the stored layers' activations
    private let shared: UnsafeMutablePointer<Float>?    // one layer's activations for maxTokens: the recomputed layers'
    private var acts: [LayerActivations]                // (L): this pass's views into arena or shared
    private let g: Gradients
    private let cs: UnsafeMutablePointer<Float>         // (T, HD) rotary cos/sin
    private let csLocal: UnsafeMutablePointer<Float>?   // (T, HD) the sliding layers' (Gemma 3)
    private let ropeLocal: RopeTable?
    private let xnF: UnsafeMutablePointer<Float>        // (T, C) final norm output
    private let rstdF: UnsafeMutablePointer<Float>      // (T)
    private let headIn: UnsafeMutablePointer<Float>     // (headRows, C): the head's input rows
    private let headRows: Int                           // rows of headIn (T with the sliced head)
    private let slicedHead: SlicedLossHead?             // frozen head weights
    private let logits: UnsafeMutablePointer<Float>?    // (headRows, V): the head by rows (full fine-tuning)
    private let chunkTargets: UnsafeMutablePointer<Int32>?
    private let firstKey: UnsafeMutablePointer<Int32>   // (T): the first row of each row's packed example
    private let attnScratch: UnsafeMutablePointer<Float>
    private let shape: AttentionShape
    private let block: Int

    /// `checkpointing`: every layer is recomputed (the least memory) or none is (the least compute).
    public convenience init(base: FrozenBase, lora: LoRAParameters, maxTokens: Int, checkpointing: Bool) {
        self.init(base: base, lora: lora, maxTokens: maxTokens, activationBudget: checkpointing ? 0 : nil)
    }

    /// `activationBudget`: bytes for all the buffers below (weights excluded), nil for as much as keeps every layer of
    /// a maxTokens pass. A pass keeps as many layers' activations as the budget leaves room for at its length.
    /// `full`: train every weight of `full.weights` (which `base` must be) instead of the adapter.
    /// `headRows` (full fine-tuning) or `headSlice` (otherwise): loss rows per head product, or vocabulary columns per
    /// slice, fewer than the buffers allow (tests; the numbers are the same).
    public init(base: FrozenBase, lora: LoRAParameters, maxTokens: Int, activationBudget: Int?, full: FullParameters? = nil,
                headRows: Int? = nil, headSlice: Int? = nil) {
        let c = base.config
        precondition(full.map { $0.weights === base && lora.count == 0 } ?? true, "full fine-tuning trains full.weights alone")
        self.base = base; self.lora = lora; self.maxTokens = maxTokens; self.full = full
        self.c = c
        rope = RopeTable(headDim: c.headDim, theta: c.ropeTheta, freqFactors: c.ropeFreqFactors)
        ropeLocal = c.slidingLayers == nil ? nil : RopeTable(headDim: c.headDim, theta: c.ropeLocalTheta, freqFactors: nil)
        let T = maxTokens
        res = .allocate(capacity: (c.layers + 1) * T * c.dim)
        let rank = lora.config.rank
        arenaFloats = Self.arenaFloats(c, rank: rank, tokens: T, budget: activationBudget, full: full != nil)
        arena = .allocate(capacity: max(arenaFloats, 1))
        let layer = LayerActivations.floats(c, T: T, rank: rank)
        shared = arenaFloats >= c.layers * layer ? nil : .allocate(capacity: layer)
        acts = []
        g = Gradients(c, T: T, rank: lora.config.rank)
        shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, qStride: c.qDim, kvStride: c.kvDim,
                               scale: c.attentionScale)
        block = attentionBlockSize(headDim: c.headDim)
        firstKey = .allocate(capacity: T)
        attnScratch = .allocate(capacity: Self.attentionScratch(shape, T: T, block: block))
        cs = .allocate(capacity: T * c.headDim)
        csLocal = ropeLocal == nil ? nil : .allocate(capacity: T * c.headDim)
        xnF = .allocate(capacity: T * c.dim)
        rstdF = .allocate(capacity: T)
        let rows = full == nil ? T : min(headRows ?? .max, Self.headChunk(c, tokens: T))
        self.headRows = rows
        headIn = .allocate(capacity: rows * c.dim)
        if full == nil {
            slicedHead = SlicedLossHead(dim: c.dim, maxRows: T, slice: min(headSlice ?? .max, Self.headSlice(c, tokens: T)))
            logits = nil; chunkTargets = nil
        } else {
            slicedHead = nil
            logits = .allocate(capacity: rows * c.vocabSize); chunkTargets = .allocate(capacity: rows)
        }
    }

    /// Full fine-tuning of `full`'s weights (no adapter).
    public convenience init(full: FullParameters, maxTokens: Int, activationBudget: Int?, headRows: Int? = nil) {
        self.init(base: full.weights, lora: LoRAParameters.none(model: full.config), maxTokens: maxTokens,
                  activationBudget: activationBudget, full: full, headRows: headRows)
    }

    deinit {
        for p in [res, cs, xnF, rstdF, headIn, attnScratch, arena] { p.deallocate() }
        shared?.deallocate(); logits?.deallocate(); chunkTargets?.deallocate(); firstKey.deallocate(); csLocal?.deallocate()
    }

    private static func attentionScratch(_ s: AttentionShape, T: Int, block: Int) -> Int {
        max(blockedAttentionForwardScratch(s, block: block), blockedAttentionBackwardScratch(s, T: T, block: block))
    }

    /// Bytes of activation and gradient buffers (weights excluded).
    public var activationBytes: Int {
        4 * (Self.fixedFloats(c, rank: lora.config.rank, tokens: maxTokens, full: full != nil) + arenaFloats
             + (shared == nil ? 0 : LayerActivations.floats(c, T: maxTokens, rank: lora.config.rank)))
    }

    /// Layers whose activations a pass of `tokens` tokens keeps (layers 0..<n); the others are recomputed in backward.
    public func storedLayers(tokens: Int) -> Int {
        min(c.layers, arenaFloats / max(1, LayerActivations.floats(c, T: tokens, rank: lora.config.rank)))
    }

    /// Every buffer but the activations' arena and the shared layer, for `tokens` rows.
    private static func fixedFloats(_ c: LlamaConfig, rank: Int, tokens T: Int, full: Bool) -> Int {
        let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, qStride: c.qDim, kvStride: c.kvDim)
        let head = full ? headChunk(c, tokens: T) * (c.dim + c.vocabSize + 1)
            : T * c.dim + SlicedLossHead.bytes(dim: c.dim, maxRows: T, slice: headSlice(c, tokens: T)) / 4
        return (c.layers + 1) * T * c.dim + T * (c.headDim * (c.slidingLayers == nil ? 1 : 2) + c.dim + 2) + head
            + attentionScratch(shape, T: T, block: attentionBlockSize(headDim: c.headDim)) + Gradients.floats(c, T: T, rank: rank)
    }

    /// The arena: what the budget leaves after the fixed buffers and one shared layer, at most every layer's.
    private static func arenaFloats(_ c: LlamaConfig, rank: Int, tokens T: Int, budget: Int?, full: Bool) -> Int {
        let layer = LayerActivations.floats(c, T: T, rank: rank), all = c.layers * layer
        guard let budget else { return all }
        let left = budget / 4 - fixedFloats(c, rank: rank, tokens: T, full: full)
        return left >= all ? all : max(0, min(all, left - layer))
    }

    /// What a model for passes of `tokens` tokens under `budget` allocates besides the weights (bytes), and how many
    /// layers such a pass keeps (the rest are recomputed): the pre-flight's figures, without building the model.
    /// `full`: full fine-tuning (rank 0), whose loss head runs by rows.
    public static func plan(_ c: LlamaConfig, rank: Int, tokens: Int, budget: Int?, full: Bool = false) -> (bytes: Int, storedLayers: Int) {
        let layer = LayerActivations.floats(c, T: tokens, rank: rank)
        let arena = arenaFloats(c, rank: rank, tokens: tokens, budget: budget, full: full)
        return (4 * (fixedFloats(c, rank: rank, tokens: tokens, full: full) + arena + (arena >= c.layers * layer ? 0 : layer)),
                min(c.layers, arena / layer))
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

    /// `body` with the adapter left out of every forward when `off` (the frozen base alone), else as it is.
    public func withoutAdapter<R>(_ off: Bool, _ body: () throws -> R) rethrows -> R {
        guard off else { return try body() }
        adapterEnabled = false
        defer { adapterEnabled = true }
        return try body()
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
        layOutActivations(T: T)
        for t in 0..<T {
            let id = Int(batch.tokens[t])
            (res + t * C).update(from: base.embedding + id * C, count: C)
            if c.embeddingScale != 1 { for i in 0..<C { res[t * C + i] *= c.embeddingScale } }
            rope.fill(cs + t * c.headDim, position: Int(batch.positions[t]))
            if let csLocal { ropeLocal!.fill(csLocal + t * c.headDim, position: Int(batch.positions[t])) }
        }
        batch.writeFirstKeys(into: firstKey)
        for l in 0..<c.layers {
            yieldPoint?()
            if abandonable && isAbandoned?() == true { return false }
            layerForward(l, batch: batch, acts: acts[l], dropoutSeed: dropoutSeed, training: training)
        }
        return true
    }

    /// This pass's views: layers 0..<storedLayers(tokens: T) side by side in the arena, T rows each; the others
    /// in the shared buffer, recomputed in backward.
    private func layOutActivations(T: Int) {
        let stored = storedLayers(tokens: T), n = LayerActivations.floats(c, T: T, rank: lora.config.rank)
        acts.removeAll(keepingCapacity: true)
        for l in 0..<c.layers {
            acts.append(LayerActivations(l < stored ? arena + l * n : shared!, c, T: T, rank: lora.config.rank, stored: l < stored))
        }
    }

    /// The gradient of a weight of `base` in full fine-tuning; nil otherwise (frozen).
    private func grad(_ p: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float>? {
        guard let full, let p else { return nil }
        return full.gradient(p)
    }

    /// db[n] += Σ_t dy[t, n] (a bias's gradient, full fine-tuning).
    private func addBiasGradient(_ b: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>, _ T: Int, _ n: Int) {
        guard let db = grad(b) else { return }
        for t in 0..<T { for i in 0..<n { db[i] += dy[t * n + i] } }
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
            loraLinearForward(y, a.u(t), x, bw.w[t]!, loraView(l, t, seed: dropoutSeed, training: training),
                              scratch: g.dropScratch, T: T, inF: inF, outF: outF)
        }
        rmsnormForward(g.xn, a.rstd1, xIn, bw.attnNorm, N: T, C: C, eps: c.rmsEps)
        // With q/k norms the projections land in qRaw/kRaw and their per-head norms in q/k.
        let qOut = a.qRaw ?? a.q, kOut = a.kRaw ?? a.k
        // q, k and v in one product, split into their buffers. The adapters' terms are written into their columns
        // first (zeros for a projection without one) and the product adds onto them, as loraLinearForward does.
        let W = qD + 2 * kvD
        let parts = [(LoRATarget.q, 0, qD), (.k, qD, kvD), (.v, qD + kvD, kvD)]
        let views = parts.map { loraView(l, $0.0, seed: dropoutSeed, training: training) }
        let adapted = views.contains { $0 != nil }
        if adapted {
            for ((t, column, n), view) in zip(parts, views) {
                if let view {
                    loraAdapterForward(g.qkv + column, ldy: W, a.u(t), g.xn, view, scratch: g.dropScratch, T: T, inF: C,
                                       outF: n, accumulate: false)
                } else {
                    for row in 0..<T { (g.qkv + row * W + column).update(repeating: 0, count: n) }
                }
            }
        }
        Blas.linear(g.qkv, g.xn, bw.qkv, rows: T, inFeatures: C, outFeatures: W, accumulate: adapted)
        splitQKV(q: qOut, k: kOut, v: a.v, T: T)
        addBias(qOut, bw.bq, T, qD); addBias(kOut, bw.bk, T, kvD); addBias(a.v, bw.bv, T, kvD)
        if let qRaw = a.qRaw, let kRaw = a.kRaw {
            rmsnormForward(a.q, a.rstdQ, qRaw, bw.qNorm!, N: T * c.heads, C: c.headDim, eps: c.rmsEps)
            rmsnormForward(a.k, a.rstdK, kRaw, bw.kNorm!, N: T * c.kvHeads, C: c.headDim, eps: c.rmsEps)
        }
        let rcs = rotation(l)
        ropeForward(a.q, rcs, N: T, heads: c.heads, HD: c.headDim, stride: qD)
        ropeForward(a.k, rcs, N: T, heads: c.kvHeads, HD: c.headDim, stride: kvD)
        blockedAttentionForward(a.att, a.lse, a.q, a.k, a.v, Tq: T, start: 0, firstKey: firstKey,
                                prefix: batch.sharedPrefix, shape: layerShape(l),
                                block: block, scratch: attnScratch)
        if let attnOut = a.attnOut {
            lin(attnOut, a.att, .o, qD, C)
            rmsnormForward(a.xMid, a.rstdPA, attnOut, bw.postAttnNorm!, N: T, C: C, eps: c.rmsEps)
        } else {
            lin(a.xMid, a.att, .o, qD, C)
        }
        parallelAdd(a.xMid, xIn, count: T * C)
        yieldPoint?()
        rmsnormForward(g.xn, a.rstd2, a.xMid, bw.ffnNorm, N: T, C: C, eps: c.rmsEps)
        lin(a.gate, g.xn, .gate, C, FF)
        lin(a.up, g.xn, .up, C, FF)
        gatedForward(c.activation, g.h, a.gate, a.up, count: T * FF)
        if let ffnOut = a.ffnOut {
            lin(ffnOut, g.h, .down, FF, C)
            rmsnormForward(xOut, a.rstdPF, ffnOut, bw.postFfnNorm!, N: T, C: C, eps: c.rmsEps)
        } else {
            lin(xOut, g.h, .down, FF, C)
        }
        parallelAdd(xOut, a.xMid, count: T * C)
    }

    /// The rows of g.qkv (T, qD + 2·kvD) into q (T, qD), k and v (T, kvD): the forward's split.
    private func splitQKV(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, T: Int) {
        copyQKV(q, k, v, T: T, intoJoined: false)
    }

    /// q, k and v's gradients (T, qD), (T, kvD), (T, kvD) side by side into the rows of g.qkv: the backward's join.
    private func joinQKV(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, T: Int) {
        copyQKV(UnsafeMutablePointer(mutating: q), UnsafeMutablePointer(mutating: k), UnsafeMutablePointer(mutating: v),
                T: T, intoJoined: true)
    }

    /// Copies each row's three parts between g.qkv and the separate buffers, one way or the other (the separate
    /// buffers are only read when `intoJoined`).
    private func copyQKV(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                         T: Int, intoJoined: Bool) {
        let qD = c.qDim, kvD = c.kvDim, W = qD + 2 * kvD, joined = g.qkv
        parallelRanges(T, pieces: KernelThreads.count * 2) { rows in
            func move(_ part: UnsafeMutablePointer<Float>, _ row: UnsafeMutablePointer<Float>, _ n: Int) {
                if intoJoined { row.update(from: part, count: n) } else { part.update(from: row, count: n) }
            }
            for t in rows {
                let row = joined + t * W
                move(q + t * qD, row, qD); move(k + t * kvD, row + qD, kvD); move(v + t * kvD, row + qD + kvD, kvD)
            }
        }
    }

    /// Layer l's rotary table: the local one on Gemma 3's sliding layers.
    private func rotation(_ l: Int) -> UnsafeMutablePointer<Float> { c.window(layer: l) == nil ? cs : csLocal! }

    private func layerShape(_ l: Int) -> AttentionShape {
        var s = shape
        s.window = c.window(layer: l)
        return s
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
        let T = batch.count, C = c.dim
        let xL = res + c.layers * maxTokens * C
        rmsnormForward(xnF, rstdF, xL, base.outputNorm, N: T, C: C, eps: c.rmsEps)
        let lossRows = (0..<T).filter { batch.targets[$0] >= 0 }
        if backward { g.dres.update(repeating: 0, count: T * C); g.dtmp.update(repeating: 0, count: T * C) }
        var result = StepResult(lossSum: 0, correct: 0, tokens: lossRows.count)
        (result.lossSum, result.correct) = full == nil
            ? headBySlices(batch, lossRows: lossRows, backward: backward, rowLoss: rowLoss, weight: weight)
            : headByRows(batch, lossRows: lossRows, backward: backward, rowLoss: rowLoss, weight: weight)
        guard backward else { return result }
        rmsnormBackward(g.dres, grad(base.outputNorm), g.dtmp, xL, base.outputNorm, rstdF, N: T, C: C)
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            yieldPoint?()
            if isAbandoned?() == true { return nil }
            let a = acts[l]
            if !a.stored {
                layerForward(l, batch: batch, acts: a, dropoutSeed: dropoutSeed, training: true)
                yieldPoint?()
            }
            layerBackward(l, batch: batch, acts: a, dropoutSeed: dropoutSeed)
        }
        // Full fine-tuning: the embedding rows looked up get ∂loss/∂(layer 0's input), times Gemma's scale.
        if let dE = grad(base.embedding) {
            for t in 0..<T {
                let row = dE + Int(batch.tokens[t]) * C, d = g.dres + t * C
                for i in 0..<C { row[i] += c.embeddingScale * d[i] }
            }
        }
        return result
    }

    /// The loss head with frozen weights (SlicedLossHead) over the loss rows; ∂x lands in g.dtmp's loss rows.
    private func headBySlices(_ batch: PackedBatch, lossRows: [Int], backward: Bool, rowLoss: UnsafeMutablePointer<Double>?,
                              weight: (Int) -> Float) -> (lossSum: Double, correct: Int) {
        let C = c.dim, head = slicedHead!
        guard !lossRows.isEmpty else { return (0, 0) }
        parallelPieces(lossRows.count, cost: C) { js in for j in js { (headIn + j * C).update(from: xnF + lossRows[j] * C, count: C) } }
        let result = head.run(headIn, rows: lossRows.count, weights: base.output, vocabulary: c.vocabSize,
                              targets: { batch.targets[lossRows[$0]] }, backward: backward, weight: { weight(lossRows[$0]) },
                              yieldPoint: yieldPoint, dx: { g.dtmp + lossRows[$0] * C })
        if let rowLoss { for (j, r) in lossRows.enumerated() { rowLoss[r] = head.loss(j) } }
        return result
    }

    /// The loss head when its weights train too (full fine-tuning): chunks of loss rows against the whole vocabulary,
    /// each row's probabilities whole for the head's gradient dlogitsᵀ·X. ∂x lands in g.dtmp's loss rows.
    private func headByRows(_ batch: PackedBatch, lossRows: [Int], backward: Bool, rowLoss: UnsafeMutablePointer<Double>?,
                            weight: (Int) -> Float) -> (lossSum: Double, correct: Int) {
        let C = c.dim, V = c.vocabSize
        let chunks = (lossRows.count + headRows - 1) / headRows
        let perChunk = chunks == 0 ? 1 : (lossRows.count + chunks - 1) / chunks
        var i = 0, lossSum: Double = 0, correct = 0
        while i < lossRows.count {
            // The head over a step's loss rows is as long as several layers: generation may take the cores before
            // each of its products.
            yieldPoint?()
            let rows = lossRows[i..<min(lossRows.count, i + perChunk)]
            let logits = logits!, chunkTargets = chunkTargets!
            for (j, r) in rows.enumerated() {
                (headIn + j * C).update(from: xnF + r * C, count: C)
                chunkTargets[j] = batch.targets[r]
            }
            let n = rows.count
            Blas.linear(logits, headIn, base.output, rows: n, inFeatures: C, outFeatures: V)
            var losses = [Double](repeating: 0, count: n)
            let (loss, hits) = crossEntropyForwardBackward(logits, targets: chunkTargets, N: n, V: V, rowLoss: &losses) {
                weight(rows[rows.startIndex + $0])
            }
            if let rowLoss { for (j, r) in rows.enumerated() { rowLoss[r] = losses[j] } }
            lossSum += loss; correct += hits
            if backward {
                yieldPoint?()
                // Full fine-tuning: dHead += dlogitsᵀ · headIn (into the embedding's gradient when tied).
                if let dOut = grad(base.output) {
                    Blas.sgemm(transA: true, transB: false, m: V, n: C, k: n, a: logits, lda: V, b: headIn, ldb: C,
                               beta: 1, c: dOut, ldc: C)
                }
                // d(headIn) = dlogits · E, scattered back to the loss rows of dxnF (kept in dtmp).
                Blas.sgemm(transA: false, transB: false, m: n, n: C, k: V, a: logits, lda: V, b: base.output, ldb: C,
                           beta: 0, c: headIn, ldc: C)
                for (j, r) in rows.enumerated() { (g.dtmp + r * C).update(from: headIn + j * C, count: C) }
            }
            i += n
        }
        return (lossSum, correct)
    }

    /// On entry g.dres holds ∂loss/∂(layer output); on exit ∂loss/∂(layer input) (layer 0 of LoRA training: not
    /// computed, nothing reads it).
    private func layerBackward(_ l: Int, batch: PackedBatch, acts a: LayerActivations, dropoutSeed: UInt64) {
        let T = batch.count, C = c.dim, qD = c.qDim, kvD = c.kvDim, FF = c.hiddenDim
        let bw = base.layers[l]
        let xIn = res + l * maxTokens * C
        func back(_ dx: UnsafeMutablePointer<Float>, _ acc: Bool, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                  _ t: LoRATarget, _ inF: Int, _ outF: Int) {
            loraLinearBackward(dx, accumulate: acc, dy, x, a.u(t), bw.w[t]!, loraView(l, t, seed: dropoutSeed, training: true),
                               du: g.du, scratch: g.dropScratch, T: T, inF: inF, outF: outF, dw: grad(bw.w[t]!))
        }
        // MLP: out = xMid + down(silu(gate) ⊙ up), GeGLU's gelu for Gemma, and its post-norm around down(…)
        // The normalised inputs and the MLP's product are not kept (a third of a layer's activations): they are
        // rebuilt here from what is, by the same calls as in forward, so the numbers are the same.
        gatedForward(c.activation, g.h, a.gate, a.up, count: T * FF)
        rmsnormForward(g.xn, a.rstd2, a.xMid, bw.ffnNorm, N: T, C: C, eps: c.rmsEps)
        var dOut = UnsafePointer(g.dres)
        if let ffnOut = a.ffnOut {   // out = xMid + postNorm(down(…))
            g.dnorm.update(repeating: 0, count: T * C)
            rmsnormBackward(g.dnorm, grad(bw.postFfnNorm), g.dres, ffnOut, bw.postFfnNorm!, a.rstdPF!, N: T, C: C)
            dOut = UnsafePointer(g.dnorm)
        }
        back(g.dh, false, dOut, g.h, .down, FF, C)
        gatedBackward(c.activation, g.dgate, g.dup, g.dh, a.gate, a.up, count: T * FF)
        back(g.dtmp, false, g.dgate, g.xn, .gate, C, FF)
        back(g.dtmp, true, g.dup, g.xn, .up, C, FF)
        rmsnormBackward(g.dres, grad(bw.ffnNorm), g.dtmp, a.xMid, bw.ffnNorm, a.rstd2, N: T, C: C)
        // A layer's backward is twice its forward: generation may take the cores between its two halves too.
        yieldPoint?()
        // Attention: xMid = xIn + o(attention(q, k, v)) (Gemma: a post-norm around o(…); Qwen 3, Gemma: q, k normed)
        dOut = UnsafePointer(g.dres)
        if let attnOut = a.attnOut {
            g.dnorm.update(repeating: 0, count: T * C)
            rmsnormBackward(g.dnorm, grad(bw.postAttnNorm), g.dres, attnOut, bw.postAttnNorm!, a.rstdPA!, N: T, C: C)
            dOut = UnsafePointer(g.dnorm)
        }
        back(g.datt, false, dOut, a.att, .o, qD, C)
        g.dq.update(repeating: 0, count: T * qD)
        g.dk.update(repeating: 0, count: T * kvD)
        g.dv.update(repeating: 0, count: T * kvD)
        blockedAttentionBackward(g.dq, g.dk, g.dv, g.datt, a.att, a.lse, a.q, a.k, a.v, T: T, firstKey: firstKey,
                                 prefix: batch.sharedPrefix, shape: layerShape(l), block: block, scratch: attnScratch)
        let rcs = rotation(l)
        ropeBackward(g.dq, rcs, N: T, heads: c.heads, HD: c.headDim, stride: qD)
        ropeBackward(g.dk, rcs, N: T, heads: c.kvHeads, HD: c.headDim, stride: kvD)
        var dq = UnsafePointer(g.dq), dk = UnsafePointer(g.dk)
        if let qRaw = a.qRaw, let kRaw = a.kRaw {
            // Through the per-head norms: datt is free again and takes dqRaw, dnorm dkRaw.
            g.datt.update(repeating: 0, count: T * qD)
            g.dnorm.update(repeating: 0, count: T * kvD)
            rmsnormBackward(g.datt, grad(bw.qNorm), g.dq, qRaw, bw.qNorm!, a.rstdQ!, N: T * c.heads, C: c.headDim)
            rmsnormBackward(g.dnorm, grad(bw.kNorm), g.dk, kRaw, bw.kNorm!, a.rstdK!, N: T * c.kvHeads, C: c.headDim)
            dq = UnsafePointer(g.datt); dk = UnsafePointer(g.dnorm)
        }
        addBiasGradient(bw.bq, dq, T, qD); addBiasGradient(bw.bk, dk, T, kvD); addBiasGradient(bw.bv, g.dv, T, kvD)
        rmsnormForward(g.xn, a.rstd1, xIn, bw.attnNorm, N: T, C: C, eps: c.rmsEps)
        // dx = [dq dk dv]·Wqkv in one product, and each weight's (full fine-tuning) or adapter's gradient. Without
        // dropout the adapters' parts of dx come first and the product adds onto them, as in loraLinearBackward.
        // Layer 0's input is the frozen embedding's rows when only adapters train: nothing needs its gradient, so
        // the product making it (and the norm's backward) is left out; the adapters' gradients are still taken.
        let inputGradient = l > 0 || full != nil
        let parts = [(LoRATarget.q, dq, qD), (.k, dk, kvD), (.v, UnsafePointer(g.dv), kvD)]
        let views = parts.map { loraView(l, $0.0, seed: dropoutSeed, training: true) }
        let adapterFirst = views.allSatisfy { ($0?.dropout ?? 0) == 0 } || !inputGradient
        var written = false
        for ((t, dy, n), view) in zip(parts, views) {
            if let dw = grad(bw.w[t]!) { weightGradient(dw, dy, g.xn, T: T, inF: C, outF: n) }
            guard adapterFirst, let view else { continue }
            loraAdapterBackward(inputGradient ? g.dtmp : nil, dy, g.xn, a.u(t), view, du: g.du, scratch: g.dropScratch,
                                T: T, inF: C, outF: n, accumulate: written)
            written = true
        }
        guard inputGradient else { return }
        joinQKV(q: dq, k: dk, v: g.dv, T: T)
        Blas.sgemm(transA: false, transB: false, m: T, n: C, k: qD + 2 * kvD, a: g.qkv, lda: qD + 2 * kvD, b: bw.qkv,
                   ldb: C, beta: written ? 1 : 0, c: g.dtmp, ldc: C)
        for ((t, dy, n), view) in zip(parts, views) where !adapterFirst {
            guard let view else { continue }
            loraAdapterBackward(g.dtmp, dy, g.xn, a.u(t), view, du: g.du, scratch: g.dropScratch, T: T, inF: C, outF: n,
                                accumulate: true)
        }
        rmsnormBackward(g.dres, grad(bw.attnNorm), g.dtmp, xIn, bw.attnNorm, a.rstd1, N: T, C: C)
    }
}

/// What one layer's forward keeps for its backward: views of T rows each into a buffer the model owns.
struct LayerActivations {
    let rstd1, q, k, v, att, xMid, rstd2, gate, up: UnsafeMutablePointer<Float>
    let lse: UnsafeMutablePointer<Float>                // (NH, T): attention's log-sum-exp per head and row
    /// q/k norms: the projections before them (T, NH*HD), (T, NKV*HD), and 1/rms per head and row.
    let qRaw, kRaw, rstdQ, rstdK: UnsafeMutablePointer<Float>?
    /// Post-norms: the attention's and feed-forward's outputs before them (T, C), and 1/rms per row.
    let attnOut, rstdPA, ffnOut, rstdPF: UnsafeMutablePointer<Float>?
    private let u0: UnsafeMutablePointer<Float>         // (7, T, r): drop(x)·Aᵀ per adapted projection
    private let uStride: Int
    /// False: the layer is recomputed during backward (the view is the shared buffer).
    let stored: Bool

    init(_ base: UnsafeMutablePointer<Float>, _ c: LlamaConfig, T: Int, rank: Int, stored: Bool) {
        var p = base
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { p += n }; return p }
        rstd1 = take(T); q = take(T * c.qDim); k = take(T * c.kvDim); v = take(T * c.kvDim)
        att = take(T * c.qDim); xMid = take(T * c.dim); rstd2 = take(T)
        gate = take(T * c.hiddenDim); up = take(T * c.hiddenDim); lse = take(T * c.heads)
        func takeIf(_ on: Bool, _ n: Int) -> UnsafeMutablePointer<Float>? { on ? take(n) : nil }
        qRaw = takeIf(c.qkNorm, T * c.qDim); kRaw = takeIf(c.qkNorm, T * c.kvDim)
        rstdQ = takeIf(c.qkNorm, T * c.heads); rstdK = takeIf(c.qkNorm, T * c.kvHeads)
        attnOut = takeIf(c.postNorms, T * c.dim); rstdPA = takeIf(c.postNorms, T)
        ffnOut = takeIf(c.postNorms, T * c.dim); rstdPF = takeIf(c.postNorms, T)
        uStride = T * rank
        u0 = take(LoRATarget.allCases.count * uStride)
        self.stored = stored
    }

    func u(_ t: LoRATarget) -> UnsafeMutablePointer<Float> { u0 + LoRATarget.allCases.firstIndex(of: t)! * uStride }

    static func floats(_ c: LlamaConfig, T: Int, rank: Int) -> Int {
        2 * T + T * c.dim + 2 * T * c.qDim + 2 * T * c.kvDim + 2 * T * c.hiddenDim + T * c.heads
            + LoRATarget.allCases.count * T * rank
            + (c.qkNorm ? T * (c.qDim + c.kvDim + c.heads + c.kvHeads) : 0) + (c.postNorms ? 2 * T * (c.dim + 1) : 0)
    }
}

/// Scratch for one layer at a time: its gradients (the LoRA gradients themselves live in LoRAParameters), and the
/// values its forward uses but does not keep — xn (T, C), a normalised input, and h (T, FF), the MLP's product.
final class Gradients {
    let dres, dtmp, dq, dk, dv, datt, dgate, dup, dh, du, dropScratch, xn, h: UnsafeMutablePointer<Float>
    /// (T, qD + 2·kvD): q, k and v side by side — their one product's output, and their gradients for dx's.
    let qkv: UnsafeMutablePointer<Float>
    /// Gradients through the post-norms and the k norm (T, max(C, NKV*HD)); unused by Llama-style blocks.
    let dnorm: UnsafeMutablePointer<Float>

    init(_ c: LlamaConfig, T: Int, rank: Int) {
        func a(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: n) }
        dres = a(T * c.dim); dtmp = a(T * max(c.dim, c.qDim)); dq = a(T * c.qDim); dk = a(T * c.kvDim); dv = a(T * c.kvDim)
        datt = a(T * c.qDim); dgate = a(T * c.hiddenDim); dup = a(T * c.hiddenDim); dh = a(T * c.hiddenDim)
        du = a(T * rank); dropScratch = a(T * max(c.hiddenDim, c.dim, c.qDim))
        xn = a(T * c.dim); h = a(T * c.hiddenDim)
        dnorm = a(Self.dnormFloats(c, T: T))
        qkv = a(T * (c.qDim + 2 * c.kvDim))
    }

    private static func dnormFloats(_ c: LlamaConfig, T: Int) -> Int {
        c.postNorms || c.qkNorm ? T * max(c.dim, c.kvDim) : 1
    }

    static func floats(_ c: LlamaConfig, T: Int, rank: Int) -> Int {
        T * c.dim + T * max(c.dim, c.qDim) + 2 * T * c.qDim + 2 * T * c.kvDim + 3 * T * c.hiddenDim + T * rank
            + T * max(c.hiddenDim, c.dim, c.qDim) + T * c.dim + T * c.hiddenDim + dnormFloats(c, T: T)
            + T * (c.qDim + 2 * c.kvDim)
    }

    deinit { for p in [dres, dtmp, dq, dk, dv, datt, dgate, dup, dh, du, dropScratch, xn, h, dnorm, qkv] { p.deallocate() } }
}
