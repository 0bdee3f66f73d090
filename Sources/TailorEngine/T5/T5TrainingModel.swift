// The training forward and backward passes of a T5 model (after llm.c's train_gpt2.c): the encoder over the sources,
// the decoder teacher-forced over decoder_start + target[:-1], cross-entropy on the targets, and backward either into
// LoRA adapters on every attention (self and cross) and feed-forward projection of the frozen f32 weights, or, in
// full fine-tuning (T5FullParameters), into every weight: projections, layer norms, the shared embedding (its two
// look-ups and a tied head), an untied head and both position tables. The cross-attention's key/value gradients flow
// back into the encoder. A pass runs a whole batch: its sources packed end to end into one encoder pass and its
// targets into one decoder pass, so every projection, norm and the head run over all of the batch's rows; attention
// runs pair by pair (a source attends within itself, a target causally within itself and to its own source only)
// with the position buckets of positions inside the pair. That is what a padded batch in transformers computes,
// without the padding; the loss is the sum over the batch's target tokens (the trainer scales the gradients by
// 1 / (target tokens of the batch), as transformers' mean over labels ≠ −100 does).
// Activations are laid out once for a T5PassSize; nothing is allocated inside a pass.
import Foundation

/// One supervised pair: the source ids (EOS included, as the tokenizer adds it) and the target ids (the labels,
/// EOS included).
public struct T5TrainingExample: Sendable, Equatable, Codable {
    public var source: [Int]
    public var target: [Int]
    public init(source: [Int], target: [Int]) { self.source = source; self.target = target }
}

public final class T5TrainingModel {
    public let config: T5Config
    /// LoRA: the model whose frozen weights the passes read in place (kept alive here); nil in full fine-tuning,
    /// which reads its own copy, so that the loaded model's arrays can go once the trainer is made.
    private let frozenModel: T5Model?
    public let lora: T5LoRAParameters?
    public let full: T5FullParameters?
    /// What one pass holds (the batches it is given must fit: T5PassSize.holds).
    public let size: T5PassSize
    /// Called between layers, forward and backward: the job runner parks training here while generation needs the
    /// cores, so a batch's long pass never holds a chat request back for more than a layer.
    public var yieldPoint: (() -> Void)?
    public var maxSource: Int { size.longestSource }
    public var maxTarget: Int { size.longestTarget }
    private let c: T5Config
    private let memory: UnsafeMutablePointer<Float>
    private let floats: Int
    private let a: T5Activations
    private let targets: UnsafeMutablePointer<Int32>
    /// LoRA: the tied or untied head is frozen, so the loss runs by vocabulary slices (no (rows, V) logits); full
    /// fine-tuning (nil here) keeps a.logits whole for the head's own gradient.
    private let slicedHead: SlicedLossHead?
    /// The weights the passes read, and (full fine-tuning) where their gradients go.
    private let w: T5FullParameters.Views
    private let g: T5FullParameters.Views?

    /// LoRA: adapters on `model`'s frozen weights, one pair per pass.
    public convenience init(model: T5Model, lora: T5LoRAParameters, maxSource: Int, maxTarget: Int) {
        self.init(model: model, lora: lora, size: T5PassSize(maxSource: maxSource, maxTarget: maxTarget))
    }

    /// LoRA: adapters on `model`'s frozen weights, passes of up to `size`.
    public convenience init(model: T5Model, lora: T5LoRAParameters, size: T5PassSize) {
        // The views point into the model's arrays: a T5Model never changes its weights, and this object keeps it.
        let frozen = model.weights.map(model.config) { _, array, _, _ in
            UnsafeMutablePointer(mutating: array.withUnsafeBufferPointer { $0.baseAddress! })
        }
        self.init(config: model.config, frozenModel: model, weights: frozen, lora: lora, full: nil, size: size)
    }

    /// Full fine-tuning: every weight of `full` trained, one pair per pass.
    public convenience init(full: T5FullParameters, maxSource: Int, maxTarget: Int) {
        self.init(full: full, size: T5PassSize(maxSource: maxSource, maxTarget: maxTarget))
    }

    /// Full fine-tuning: every weight of `full` trained, passes of up to `size`.
    public convenience init(full: T5FullParameters, size: T5PassSize) {
        self.init(config: full.config, frozenModel: nil, weights: full.weights, lora: nil, full: full, size: size)
    }

    private init(config: T5Config, frozenModel: T5Model?, weights: T5FullParameters.Views, lora: T5LoRAParameters?,
                 full: T5FullParameters?, size: T5PassSize) {
        precondition(size.longestSource > 0 && size.longestTarget > 0, "empty sources or targets")
        self.config = config; self.frozenModel = frozenModel; self.lora = lora; self.full = full; self.size = size
        w = weights; g = full?.gradients
        c = config
        let rank = lora?.config.rank ?? 0
        floats = T5Activations.floats(c, size, rank: rank, full: full != nil)
        memory = .allocate(capacity: floats)
        var carver = T5Activations.Carver(base: memory)
        a = T5Activations(c, size, rank: rank, full: full != nil, take: { carver.take($0) })
        precondition(carver.used == floats, "T5Activations.floats disagrees with the layout")
        targets = .allocate(capacity: size.targetRows)
        slicedHead = full != nil ? nil
            : SlicedLossHead(dim: c.dim, maxRows: size.targetRows, slice: Self.headSlice(c, size: size))
    }

    private static func headSlice(_ c: T5Config, size: T5PassSize) -> Int {
        SlicedLossHead.slice(vocabulary: c.vocabSize, rows: size.targetRows)
    }

    deinit { memory.deallocate(); targets.deallocate() }

    /// Bytes of activation and gradient buffers (weights excluded).
    public var activationBytes: Int { Self.activationBytes(c, size: size, rank: lora?.config.rank ?? 0, full: full != nil) }

    /// The same figure before a model is made: a run's passes of up to `size` (`full`: full fine-tuning, which also
    /// keeps the position bias's gradient and the whole (rows, V) logits).
    public static func activationBytes(_ c: T5Config, size: T5PassSize, rank: Int, full: Bool = false) -> Int {
        4 * T5Activations.floats(c, size, rank: rank, full: full)
            + (full ? 0 : SlicedLossHead.bytes(dim: c.dim, maxRows: size.targetRows, slice: headSlice(c, size: size)))
    }

    /// Loss and gradients of a batch of pairs in one pass: returns Σ −log p(target token) over every pair's target
    /// and how many argmaxes hit; the adapters' (or, in full fine-tuning, every weight's) gradients grow by
    /// `gradScale` × the gradient of that sum.
    @discardableResult
    public func forwardBackward(_ batch: [T5TrainingExample], gradScale: Float, dropoutSeed: UInt64 = 0) -> (lossSum: Double, correct: Int) {
        forward(batch, dropoutSeed: dropoutSeed)
        let r = head(backward: true, gradScale: gradScale)
        backward(batch, dropoutSeed: dropoutSeed)
        return r
    }

    /// One pair's pass.
    @discardableResult
    public func forwardBackward(_ e: T5TrainingExample, gradScale: Float, dropoutSeed: UInt64 = 0) -> (lossSum: Double, correct: Int) {
        forwardBackward([e], gradScale: gradScale, dropoutSeed: dropoutSeed)
    }

    /// Loss and accuracy of a batch under the adapters as they are, without gradients.
    public func evaluate(_ batch: [T5TrainingExample]) -> (lossSum: Double, correct: Int) {
        forward(batch, dropoutSeed: 0, dropout: false)
        return head(backward: false, gradScale: 0)
    }

    /// One pair's loss and accuracy.
    public func evaluate(_ e: T5TrainingExample) -> (lossSum: Double, correct: Int) { evaluate([e]) }

    // MARK: The batch's blocks

    /// One pair's attention block: query rows q0..<q0+Tq over key rows k0..<k0+Tk; its probabilities (and position
    /// bias) at NH·p0 of the sublayer's per-pair area.
    private struct Block { var q0, k0, Tq, Tk, p0: Int }

    /// The pass's blocks: the encoder's self-attention, the decoder's self- and cross-attention.
    private var encoderBlocks: [Block] = [], decoderBlocks: [Block] = [], crossBlocks: [Block] = []
    private var rows = (source: 0, target: 0)

    private func lay(_ batch: [T5TrainingExample]) {
        let V = c.vocabSize
        precondition(!batch.isEmpty, "an empty batch")
        precondition(batch.allSatisfy { !$0.source.isEmpty && !$0.target.isEmpty }, "empty sources or targets")
        let need = T5PassSize(pairs: batch)
        precondition(size.holds(need), "a batch of \(need); this model was laid out for \(size)")
        precondition(batch.allSatisfy { $0.source.allSatisfy { (0..<V).contains($0) } && $0.target.allSatisfy { (0..<V).contains($0) } },
                     "a token id is outside the vocabulary")
        encoderBlocks.removeAll(keepingCapacity: true)
        decoderBlocks.removeAll(keepingCapacity: true)
        crossBlocks.removeAll(keepingCapacity: true)
        var s0 = 0, t0 = 0, pe = 0, pd = 0, pc = 0
        for e in batch {
            let S = e.source.count, T = e.target.count
            encoderBlocks.append(Block(q0: s0, k0: s0, Tq: S, Tk: S, p0: pe))
            decoderBlocks.append(Block(q0: t0, k0: t0, Tq: T, Tk: T, p0: pd))
            crossBlocks.append(Block(q0: t0, k0: s0, Tq: T, Tk: S, p0: pc))
            s0 += S; t0 += T; pe += S * S; pd += T * T; pc += T * S
        }
        rows = (s0, t0)
    }

    // MARK: Forward

    private var dropoutOn = true

    private func view(_ module: String, _ seed: UInt64) -> LoRAView? {
        guard let v = lora?.view(module, dropoutSeed: seed) else { return nil }
        guard !dropoutOn, v.dropout > 0 else { return v }
        return LoRAView(a: v.a, b: v.b, da: v.da, db: v.db, rank: v.rank, scale: v.scale, dropout: 0, dropoutSeed: 0)
    }

    private func linear(_ y: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                        _ w: UnsafeMutablePointer<Float>, _ module: String, _ seed: UInt64, rows: Int, inF: Int, outF: Int) {
        loraLinearForward(y, u, x, w, view(module, seed), scratch: a.dropScratch, T: rows, inF: inF, outF: outF)
    }

    /// The position bias of every block of a stack, each over positions 0..<n of its own pair.
    private func positionBias(_ table: UnsafePointer<Float>, _ blocks: [Block], bidirectional: Bool) {
        for b in blocks {
            t5PositionBias(a.bias + c.heads * b.p0, table: table, Tq: b.Tq, Tk: b.Tk, start: 0, bidirectional: bidirectional, config: c)
        }
    }

    /// Runs encoder and decoder over the packed batch, leaving logits (T, V) and the targets in place.
    private func forward(_ batch: [T5TrainingExample], dropoutSeed seed: UInt64, dropout: Bool = true) {
        lay(batch)
        let S = rows.source, T = rows.target, C = c.dim, V = c.vocabSize
        let SR = size.sourceRows, TR = size.targetRows
        dropoutOn = dropout
        defer { dropoutOn = true }
        var s0 = 0, t0 = 0
        for e in batch {
            for (t, id) in e.source.enumerated() { for i in 0..<C { a.encRes[(s0 + t) * C + i] = w.embedding[id * C + i] } }
            // Teacher forcing: the decoder reads decoder_start, target[0], …, target[T−2] and predicts target[0…T−1].
            for t in 0..<e.target.count {
                let id = t == 0 ? c.decoderStartToken : e.target[t - 1]
                for i in 0..<C { a.decRes[(t0 + t) * C + i] = w.embedding[id * C + i] }
                targets[t0 + t] = Int32(e.target[t])
            }
            s0 += e.source.count; t0 += e.target.count
        }

        positionBias(w.encoderBias, encoderBlocks, bidirectional: true)
        for (l, layer) in w.encoder.enumerated() {
            yieldPoint?()
            let x = a.encRes + l * SR * C, out = x + SR * C, acts = a.encoder[l]
            attentionForward(acts.xa, x, layer.attnNorm, layer.attn, acts.attn, stack: "encoder", layer: l, sublayer: 0,
                             module: "SelfAttention", keys: nil, rows: S, keyRows: S, blocks: encoderBlocks, causal: false, seed)
            feedForwardForward(out, acts.xa, layer.ffnNorm, layer.ffn, acts.ffn, stack: "encoder", layer: l, sublayer: 1, rows: S, seed)
        }
        rmsnormForward(a.encOut, a.encRstd, a.encRes + c.encoderLayers * SR * C, w.encoderNorm, N: S, C: C, eps: c.eps)

        positionBias(w.decoderBias, decoderBlocks, bidirectional: false)
        for (l, layer) in w.decoder.enumerated() {
            yieldPoint?()
            let x = a.decRes + l * TR * C, out = x + TR * C, acts = a.decoder[l]
            attentionForward(acts.xa, x, layer.attnNorm, layer.attn, acts.attn, stack: "decoder", layer: l, sublayer: 0,
                             module: "SelfAttention", keys: nil, rows: T, keyRows: T, blocks: decoderBlocks, causal: true, seed)
            attentionForward(acts.xb, acts.xa, layer.crossNorm, layer.cross, acts.cross, stack: "decoder", layer: l,
                             sublayer: 1, module: "EncDecAttention", keys: a.encOut, rows: T, keyRows: S, blocks: crossBlocks,
                             causal: false, seed)
            feedForwardForward(out, acts.xb, layer.ffnNorm, layer.ffn, acts.ffn, stack: "decoder", layer: l, sublayer: 2, rows: T, seed)
        }
        rmsnormForward(a.decOut, a.decRstd, a.decRes + c.decoderLayers * TR * C, w.decoderNorm, N: T, C: C, eps: c.eps)
        if w.head == nil { for i in 0..<(T * C) { a.decOut[i] *= headScale } }
        if slicedHead == nil { Blas.linear(a.logits, a.decOut, w.head ?? w.embedding, rows: T, inFeatures: C, outFeatures: V) }
    }

    /// The loss over the target rows: Σ −log p(target) and the argmax hits. With `backward`, a.dh receives
    /// gradScale × ∂/∂(decoder output) (through the tied head's C^-½); in full fine-tuning a.logits then holds
    /// ∂loss/∂logits for the head's own gradient.
    private func head(backward: Bool, gradScale: Float) -> (lossSum: Double, correct: Int) {
        let T = rows.target, V = c.vocabSize
        guard let slicedHead else {
            if !backward { return crossEntropyForward(a.logits, targets: targets, N: T, V: V) }
            return crossEntropyForwardBackward(a.logits, targets: targets, N: T, V: V, gradScale: gradScale)
        }
        let C = c.dim, scale = gradScale * (w.head == nil ? headScale : 1), dh = a.dh, targets = targets
        return slicedHead.run(a.decOut, rows: T, weights: w.head ?? w.embedding, vocabulary: V, targets: { targets[$0] },
                              backward: backward, weight: { _ in scale }, yieldPoint: yieldPoint, dx: { dh + $0 * C })
    }

    /// T5's tied head sees the decoder output scaled by C^-½.
    private var headScale: Float { 1 / Float(c.dim).squareRoot() }

    /// out = x + o(attention(norm(x))): self-attention when `keys` is nil (with the position bias in a.bias), else
    /// cross-attention over `keys` (the encoder output, keyRows rows; no bias). The projections run over every row
    /// of the batch; the attention itself block by block.
    private func attentionForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                  _ norm: UnsafeMutablePointer<Float>, _ w: T5Attention<UnsafeMutablePointer<Float>>, _ s: T5Activations.Attention, stack: String, layer: Int,
                                  sublayer: Int, module: String, keys: UnsafePointer<Float>?, rows: Int, keyRows: Int,
                                  blocks: [Block], causal: Bool, _ seed: UInt64) {
        let C = c.dim, I = c.inner, NH = c.heads
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, module, p) }
        rmsnormForward(s.h, s.rstd, x, norm, N: rows, C: C, eps: c.eps)
        let kx = keys ?? UnsafePointer(s.h)
        linear(s.q, s.uq, s.h, w.wq, name("q"), seed, rows: rows, inF: C, outF: I)
        linear(s.k, s.uk, kx, w.wk, name("k"), seed, rows: keyRows, inF: C, outF: I)
        linear(s.v, s.uv, kx, w.wv, name("v"), seed, rows: keyRows, inF: C, outF: I)
        for b in blocks {
            t5AttentionForward(s.att + b.q0 * I, s.q + b.q0 * I, s.k + b.k0 * I, s.v + b.k0 * I,
                               bias: keys == nil ? a.bias + NH * b.p0 : nil, causalStart: causal ? 0 : nil,
                               scores: s.probs + NH * b.p0, keepProbabilities: true, Tq: b.Tq, Tk: b.Tk, NH: NH, HD: c.headDim)
        }
        linear(a.y, s.uo, s.att, w.wo, name("o"), seed, rows: rows, inF: I, outF: C)
        for i in 0..<(rows * C) { out[i] = x[i] + a.y[i] }
    }

    /// out = x + wo(act(wi·norm(x)) [⊙ wi_1·norm(x)]).
    private func feedForwardForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                    _ norm: UnsafeMutablePointer<Float>, _ w: T5FeedForward<UnsafeMutablePointer<Float>>, _ s: T5Activations.FeedForward, stack: String, layer: Int,
                                    sublayer: Int, rows: Int, _ seed: UInt64) {
        let C = c.dim, FF = c.hiddenDim, n = rows * FF
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, "DenseReluDense", p) }
        rmsnormForward(s.h, s.rstd, x, norm, N: rows, C: C, eps: c.eps)
        linear(s.pre, s.ui, s.h, w.wi, name(c.gated ? "wi_0" : "wi"), seed, rows: rows, inF: C, outF: FF)
        t5ActivationForward(s.act, s.pre, count: n, c.activation)
        if let wiLinear = w.wiLinear {
            linear(s.lin, s.uiLinear, s.h, wiLinear, name("wi_1"), seed, rows: rows, inF: C, outF: FF)
            for i in 0..<n { s.prod[i] = s.act[i] * s.lin[i] }
        }
        linear(a.y, s.uo, c.gated ? s.prod : s.act, w.wo, name("wo"), seed, rows: rows, inF: FF, outF: C)
        for i in 0..<(rows * C) { out[i] = x[i] + a.y[i] }
    }

    // MARK: Backward

    private func linearBackward(_ dx: UnsafeMutablePointer<Float>?, accumulate: Bool, _ dy: UnsafePointer<Float>,
                                _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ w: UnsafeMutablePointer<Float>,
                                _ dw: UnsafeMutablePointer<Float>?, _ module: String, _ seed: UInt64, rows: Int, inF: Int, outF: Int) {
        loraLinearBackward(dx, accumulate: accumulate, dy, x, u, w, view(module, seed), du: a.du, scratch: a.dropScratch,
                           T: rows, inF: inF, outF: outF, dw: dw)
    }

    /// The position table's gradient from a.dbias, block by block (full fine-tuning).
    private func positionBiasBackward(_ dtable: UnsafeMutablePointer<Float>, _ blocks: [Block], bidirectional: Bool) {
        for b in blocks {
            t5PositionBiasBackward(dtable, a.dbias + c.heads * b.p0, Tq: b.Tq, Tk: b.Tk, start: 0, bidirectional: bidirectional, config: c)
        }
    }

    /// Given ∂loss/∂logits in a.logits, adds the adapters' (or every weight's) gradients.
    private func backward(_ batch: [T5TrainingExample], dropoutSeed seed: UInt64) {
        let S = rows.source, T = rows.target, C = c.dim, V = c.vocabSize, NH = c.heads
        let SR = size.sourceRows, TR = size.targetRows
        let tied = w.head == nil
        // Head (its input's gradient already in a.dh with the sliced head): dh = dlogits · W (· C^-½ when tied);
        // dW += dlogitsᵀ · decOut, whose rows the forward already scaled.
        if slicedHead == nil {
            Blas.sgemm(transA: false, transB: false, m: T, n: C, k: V, alpha: tied ? headScale : 1,
                       a: a.logits, lda: V, b: w.head ?? w.embedding, ldb: C, beta: 0, c: a.dh, ldc: C)
        }
        if let g {
            Blas.sgemm(transA: true, transB: false, m: V, n: C, k: T, a: a.logits, lda: V, b: a.decOut, ldb: C,
                       beta: 1, c: g.head ?? g.embedding, ldc: C)
        }
        a.dres.update(repeating: 0, count: T * C)
        rmsnormBackward(a.dres, g?.decoderNorm, a.dh, a.decRes + c.decoderLayers * TR * C, w.decoderNorm, a.decRstd, N: T, C: C)
        a.dEnc.update(repeating: 0, count: S * C)
        if g != nil { a.dbias.update(repeating: 0, count: NH * (decoderBlocks.last.map { $0.p0 + $0.Tq * $0.Tk } ?? 0)) }
        for (l, layer) in w.decoder.enumerated().reversed() {
            yieldPoint?()
            let acts = a.decoder[l], gl = g?.decoder[l]
            feedForwardBackward(acts.xb, layer.ffnNorm, gl?.ffnNorm, layer.ffn, gl?.ffn, acts.ffn, stack: "decoder", layer: l,
                                sublayer: 2, rows: T, seed)
            attentionBackward(acts.xa, layer.crossNorm, gl?.crossNorm, layer.cross, gl?.cross, acts.cross, stack: "decoder",
                              layer: l, sublayer: 1, module: "EncDecAttention", keys: a.encOut, rows: T, keyRows: S,
                              blocks: crossBlocks, seed)
            attentionBackward(a.decRes + l * TR * C, layer.attnNorm, gl?.attnNorm, layer.attn, gl?.attn, acts.attn,
                              stack: "decoder", layer: l, sublayer: 0, module: "SelfAttention", keys: nil, rows: T, keyRows: T,
                              blocks: decoderBlocks, inputGradient: l > 0 || g != nil, seed)
        }
        if let g {
            // a.dres holds ∂loss/∂(decoder input embeddings): decoder_start, target[0…T−2] of each pair.
            positionBiasBackward(g.decoderBias, decoderBlocks, bidirectional: false)
            var t0 = 0
            for e in batch {
                for t in 0..<e.target.count {
                    embeddingBackward(g.embedding, t == 0 ? c.decoderStartToken : e.target[t - 1], a.dres + (t0 + t) * C)
                }
                t0 += e.target.count
            }
        }
        a.dres.update(repeating: 0, count: S * C)
        rmsnormBackward(a.dres, g?.encoderNorm, a.dEnc, a.encRes + c.encoderLayers * SR * C, w.encoderNorm, a.encRstd, N: S, C: C)
        if g != nil { a.dbias.update(repeating: 0, count: NH * (encoderBlocks.last.map { $0.p0 + $0.Tq * $0.Tk } ?? 0)) }
        for (l, layer) in w.encoder.enumerated().reversed() {
            yieldPoint?()
            let acts = a.encoder[l], gl = g?.encoder[l]
            feedForwardBackward(acts.xa, layer.ffnNorm, gl?.ffnNorm, layer.ffn, gl?.ffn, acts.ffn, stack: "encoder", layer: l,
                                sublayer: 1, rows: S, seed)
            attentionBackward(a.encRes + l * SR * C, layer.attnNorm, gl?.attnNorm, layer.attn, gl?.attn, acts.attn,
                              stack: "encoder", layer: l, sublayer: 0, module: "SelfAttention", keys: nil, rows: S, keyRows: S,
                              blocks: encoderBlocks, inputGradient: l > 0 || g != nil, seed)
        }
        if let g {
            positionBiasBackward(g.encoderBias, encoderBlocks, bidirectional: true)
            var s0 = 0
            for e in batch {
                for (t, id) in e.source.enumerated() { embeddingBackward(g.embedding, id, a.dres + (s0 + t) * C) }
                s0 += e.source.count
            }
        }
    }

    /// The embedding row of `id` gains `d` (C values): a look-up's backward.
    private func embeddingBackward(_ dEmbedding: UnsafeMutablePointer<Float>, _ id: Int, _ d: UnsafePointer<Float>) {
        let row = dEmbedding + id * c.dim
        for i in 0..<c.dim { row[i] += d[i] }
    }

    /// a.dres holds ∂loss/∂out of out = x + o(attention(norm(x))); adds the attention path so that it holds ∂loss/∂x.
    /// Cross-attention adds its keys' and values' gradient into a.dEnc; self-attention (full fine-tuning) adds the
    /// scores' gradient into a.dbias, the position bias's, shared by every layer of the stack. Without
    /// `inputGradient` (a stack's first self-attention over the frozen embedding: LoRA) a.dres is left as it is and
    /// only the weights' gradients are taken.
    private func attentionBackward(_ x: UnsafePointer<Float>, _ norm: UnsafeMutablePointer<Float>, _ dnorm: UnsafeMutablePointer<Float>?,
                                   _ w: T5Attention<UnsafeMutablePointer<Float>>, _ dw: T5Attention<UnsafeMutablePointer<Float>>?,
                                   _ s: T5Activations.Attention, stack: String, layer: Int, sublayer: Int, module: String,
                                   keys: UnsafePointer<Float>?, rows: Int, keyRows: Int, blocks: [Block],
                                   inputGradient: Bool = true, _ seed: UInt64) {
        precondition(inputGradient || keys == nil, "cross-attention's keys always pass their gradient to the encoder")
        let C = c.dim, I = c.inner, NH = c.heads
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, module, p) }
        linearBackward(a.datt, accumulate: false, a.dres, s.att, s.uo, w.wo, dw?.wo, name("o"), seed, rows: rows, inF: I, outF: C)
        a.dq.update(repeating: 0, count: rows * I)
        a.dk.update(repeating: 0, count: keyRows * I)
        a.dv.update(repeating: 0, count: keyRows * I)
        for b in blocks {
            t5AttentionBackward(a.dq + b.q0 * I, a.dk + b.k0 * I, a.dv + b.k0 * I, a.datt + b.q0 * I, s.q + b.q0 * I,
                                s.k + b.k0 * I, s.v + b.k0 * I, probabilities: s.probs + NH * b.p0, dprobs: a.dprobs,
                                dbias: keys == nil && g != nil ? a.dbias + NH * b.p0 : nil, Tq: b.Tq, Tk: b.Tk, NH: NH, HD: c.headDim)
        }
        let dh = inputGradient ? a.dh : nil
        linearBackward(dh, accumulate: false, a.dq, s.h, s.uq, w.wq, dw?.wq, name("q"), seed, rows: rows, inF: C, outF: I)
        // Self-attention's keys and values come from the same normed input as its queries; cross-attention's from
        // the encoder output, whose gradient gathers over the decoder's layers.
        let (dkx, kx) = keys.map { (a.dEnc, $0) } ?? (dh, UnsafePointer(s.h))
        linearBackward(dkx, accumulate: true, a.dk, kx, s.uk, w.wk, dw?.wk, name("k"), seed, rows: keyRows, inF: C, outF: I)
        linearBackward(dkx, accumulate: true, a.dv, kx, s.uv, w.wv, dw?.wv, name("v"), seed, rows: keyRows, inF: C, outF: I)
        guard inputGradient else { return }
        rmsnormBackward(a.dres, dnorm, a.dh, x, norm, s.rstd, N: rows, C: C)
    }

    /// a.dres holds ∂loss/∂out of out = x + ffn(norm(x)); adds the feed-forward path so that it holds ∂loss/∂x.
    private func feedForwardBackward(_ x: UnsafePointer<Float>, _ norm: UnsafeMutablePointer<Float>, _ dnorm: UnsafeMutablePointer<Float>?,
                                     _ w: T5FeedForward<UnsafeMutablePointer<Float>>, _ dw: T5FeedForward<UnsafeMutablePointer<Float>>?,
                                     _ s: T5Activations.FeedForward, stack: String, layer: Int, sublayer: Int, rows: Int,
                                     _ seed: UInt64) {
        let C = c.dim, FF = c.hiddenDim, n = rows * FF
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, "DenseReluDense", p) }
        linearBackward(a.dhidden, accumulate: false, a.dres, c.gated ? s.prod : s.act, s.uo, w.wo, dw?.wo, name("wo"), seed,
                       rows: rows, inF: FF, outF: C)
        if c.gated {
            for i in 0..<n { a.dlin[i] = a.dhidden[i] * s.act[i]; a.dhidden[i] *= s.lin[i] }
        }
        a.dpre.update(repeating: 0, count: n)
        t5ActivationBackward(a.dpre, a.dhidden, s.pre, count: n, c.activation)
        linearBackward(a.dh, accumulate: false, a.dpre, s.h, s.ui, w.wi, dw?.wi, name(c.gated ? "wi_0" : "wi"), seed,
                       rows: rows, inF: C, outF: FF)
        if let wiLinear = w.wiLinear {
            linearBackward(a.dh, accumulate: true, a.dlin, s.h, s.uiLinear, wiLinear, dw?.wiLinear, name("wi_1"), seed,
                           rows: rows, inF: C, outF: FF)
        }
        rmsnormBackward(a.dres, dnorm, a.dh, x, norm, s.rstd, N: rows, C: C)
    }
}
