// The training forward and backward passes of a T5 model (after llm.c's train_gpt2.c): the encoder over the source,
// the decoder teacher-forced over decoder_start + target[:-1], cross-entropy on the target, and backward either into
// LoRA adapters on every attention (self and cross) and feed-forward projection of the frozen f32 weights, or, in
// full fine-tuning (T5FullParameters), into every weight: projections, layer norms, the shared embedding (its two
// look-ups and a tied head), an untied head and both position tables. The cross-attention's key/value gradients flow
// back into the encoder. One (source, target) pair
// per pass: a padded batch in transformers computes the same per-token terms, so a batch is its pairs in turn with
// the gradients scaled by 1 / (target tokens of the batch), as transformers' mean over labels ≠ −100 does.
// Activations are laid out once for the longest source and target; nothing is allocated inside a pass.
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
    public let maxSource: Int
    public let maxTarget: Int
    private let c: T5Config
    private let memory: UnsafeMutablePointer<Float>
    private let floats: Int
    private let a: T5Activations
    private let targets: UnsafeMutablePointer<Int32>
    /// The weights the passes read, and (full fine-tuning) where their gradients go.
    private let w: T5FullParameters.Views
    private let g: T5FullParameters.Views?

    /// LoRA: adapters on `model`'s frozen weights.
    public convenience init(model: T5Model, lora: T5LoRAParameters, maxSource: Int, maxTarget: Int) {
        // The views point into the model's arrays: a T5Model never changes its weights, and this object keeps it.
        let frozen = model.weights.map(model.config) { _, array, _, _ in
            UnsafeMutablePointer(mutating: array.withUnsafeBufferPointer { $0.baseAddress! })
        }
        self.init(config: model.config, frozenModel: model, weights: frozen, lora: lora, full: nil,
                  maxSource: maxSource, maxTarget: maxTarget)
    }

    /// Full fine-tuning: every weight of `full` trained.
    public convenience init(full: T5FullParameters, maxSource: Int, maxTarget: Int) {
        self.init(config: full.config, frozenModel: nil, weights: full.weights, lora: nil, full: full,
                  maxSource: maxSource, maxTarget: maxTarget)
    }

    private init(config: T5Config, frozenModel: T5Model?, weights: T5FullParameters.Views, lora: T5LoRAParameters?,
                 full: T5FullParameters?, maxSource: Int, maxTarget: Int) {
        precondition(maxSource > 0 && maxTarget > 0, "empty sources or targets")
        self.config = config; self.frozenModel = frozenModel; self.lora = lora; self.full = full
        self.maxSource = maxSource; self.maxTarget = maxTarget
        w = weights; g = full?.gradients
        c = config
        let rank = lora?.config.rank ?? 0
        floats = T5Activations.floats(c, S: maxSource, T: maxTarget, rank: rank, positionGradients: full != nil)
        memory = .allocate(capacity: floats)
        var carver = T5Activations.Carver(base: memory)
        a = T5Activations(c, S: maxSource, T: maxTarget, rank: rank, positionGradients: full != nil, take: { carver.take($0) })
        precondition(carver.used == floats, "T5Activations.floats disagrees with the layout")
        targets = .allocate(capacity: maxTarget)
    }

    deinit { memory.deallocate(); targets.deallocate() }

    /// Bytes of activation and gradient buffers (weights excluded).
    public var activationBytes: Int { 4 * floats }

    /// The same figure before a model is made: a run's passes over sources and targets of up to these lengths
    /// (`full`: full fine-tuning, which also keeps the position bias's gradient).
    public static func activationBytes(_ c: T5Config, maxSource: Int, maxTarget: Int, rank: Int, full: Bool = false) -> Int {
        4 * T5Activations.floats(c, S: maxSource, T: maxTarget, rank: rank, positionGradients: full)
    }

    /// Loss and gradients of one pair: returns Σ −log p(target token) and how many argmaxes hit; the adapters' (or,
    /// in full fine-tuning, every weight's) gradients grow by `gradScale` × the gradient of that sum.
    @discardableResult
    public func forwardBackward(_ e: T5TrainingExample, gradScale: Float, dropoutSeed: UInt64 = 0) -> (lossSum: Double, correct: Int) {
        let (S, T) = forward(e, dropoutSeed: dropoutSeed)
        let r = crossEntropyForwardBackward(a.logits, targets: targets, N: T, V: c.vocabSize, gradScale: gradScale)
        backward(e, dropoutSeed: dropoutSeed)
        return r
    }

    /// Loss and accuracy of one pair under the adapters as they are, without gradients.
    public func evaluate(_ e: T5TrainingExample) -> (lossSum: Double, correct: Int) {
        let (_, T) = forward(e, dropoutSeed: 0, dropout: false)
        return crossEntropyForward(a.logits, targets: targets, N: T, V: c.vocabSize)
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

    /// Runs encoder and decoder, leaving logits (T, V) and the targets in place. Returns (S, T).
    private func forward(_ e: T5TrainingExample, dropoutSeed seed: UInt64, dropout: Bool = true) -> (Int, Int) {
        let S = e.source.count, T = e.target.count, C = c.dim, V = c.vocabSize
        precondition(S > 0 && S <= maxSource, "a source of \(S) tokens; this model was laid out for 1...\(maxSource)")
        precondition(T > 0 && T <= maxTarget, "a target of \(T) tokens; this model was laid out for 1...\(maxTarget)")
        precondition(e.source.allSatisfy { (0..<V).contains($0) } && e.target.allSatisfy { (0..<V).contains($0) },
                     "a token id is outside the vocabulary")
        dropoutOn = dropout
        defer { dropoutOn = true }
        for (t, id) in e.source.enumerated() { for i in 0..<C { a.encRes[t * C + i] = w.embedding[id * C + i] } }
        // Teacher forcing: the decoder reads decoder_start, target[0], …, target[T−2] and predicts target[0…T−1].
        for t in 0..<T {
            let id = t == 0 ? c.decoderStartToken : e.target[t - 1]
            for i in 0..<C { a.decRes[t * C + i] = w.embedding[id * C + i] }
            targets[t] = Int32(e.target[t])
        }

        t5PositionBias(a.bias, table: w.encoderBias, Tq: S, Tk: S, start: 0, bidirectional: true, config: c)
        for (l, layer) in w.encoder.enumerated() {
            let x = a.encRes + l * maxSource * C, out = x + maxSource * C, acts = a.encoder[l]
            attentionForward(acts.xa, x, layer.attnNorm, layer.attn, acts.attn, stack: "encoder", layer: l, sublayer: 0,
                             module: "SelfAttention", keys: nil, rows: S, keyRows: S, causal: false, seed)
            feedForwardForward(out, acts.xa, layer.ffnNorm, layer.ffn, acts.ffn, stack: "encoder", layer: l, sublayer: 1, rows: S, seed)
        }
        rmsnormForward(a.encOut, a.encRstd, a.encRes + c.encoderLayers * maxSource * C, w.encoderNorm, N: S, C: C, eps: c.eps)

        t5PositionBias(a.bias, table: w.decoderBias, Tq: T, Tk: T, start: 0, bidirectional: false, config: c)
        for (l, layer) in w.decoder.enumerated() {
            let x = a.decRes + l * maxTarget * C, out = x + maxTarget * C, acts = a.decoder[l]
            attentionForward(acts.xa, x, layer.attnNorm, layer.attn, acts.attn, stack: "decoder", layer: l, sublayer: 0,
                             module: "SelfAttention", keys: nil, rows: T, keyRows: T, causal: true, seed)
            attentionForward(acts.xb, acts.xa, layer.crossNorm, layer.cross, acts.cross, stack: "decoder", layer: l,
                             sublayer: 1, module: "EncDecAttention", keys: a.encOut, rows: T, keyRows: S, causal: false, seed)
            feedForwardForward(out, acts.xb, layer.ffnNorm, layer.ffn, acts.ffn, stack: "decoder", layer: l, sublayer: 2, rows: T, seed)
        }
        rmsnormForward(a.decOut, a.decRstd, a.decRes + c.decoderLayers * maxTarget * C, w.decoderNorm, N: T, C: C, eps: c.eps)
        if w.head == nil { for i in 0..<(T * C) { a.decOut[i] *= headScale } }
        Blas.linear(a.logits, a.decOut, w.head ?? w.embedding, rows: T, inFeatures: C, outFeatures: V)
        return (S, T)
    }

    /// T5's tied head sees the decoder output scaled by C^-½.
    private var headScale: Float { 1 / Float(c.dim).squareRoot() }

    /// out = x + o(attention(norm(x))): self-attention when `keys` is nil (with the position bias in a.bias), else
    /// cross-attention over `keys` (the encoder output, keyRows rows; no bias).
    private func attentionForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                  _ norm: UnsafeMutablePointer<Float>, _ w: T5Attention<UnsafeMutablePointer<Float>>, _ s: T5Activations.Attention, stack: String, layer: Int,
                                  sublayer: Int, module: String, keys: UnsafePointer<Float>?, rows: Int, keyRows: Int,
                                  causal: Bool, _ seed: UInt64) {
        let C = c.dim, I = c.inner
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, module, p) }
        rmsnormForward(s.h, s.rstd, x, norm, N: rows, C: C, eps: c.eps)
        let kx = keys ?? UnsafePointer(s.h)
        linear(s.q, s.uq, s.h, w.wq, name("q"), seed, rows: rows, inF: C, outF: I)
        linear(s.k, s.uk, kx, w.wk, name("k"), seed, rows: keyRows, inF: C, outF: I)
        linear(s.v, s.uv, kx, w.wv, name("v"), seed, rows: keyRows, inF: C, outF: I)
        t5AttentionForward(s.att, s.q, s.k, s.v, bias: keys == nil ? a.bias : nil, causalStart: causal ? 0 : nil,
                           scores: s.probs, keepProbabilities: true, Tq: rows, Tk: keyRows, NH: c.heads, HD: c.headDim)
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

    private func linearBackward(_ dx: UnsafeMutablePointer<Float>, accumulate: Bool, _ dy: UnsafePointer<Float>,
                                _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ w: UnsafeMutablePointer<Float>,
                                _ dw: UnsafeMutablePointer<Float>?, _ module: String, _ seed: UInt64, rows: Int, inF: Int, outF: Int) {
        loraLinearBackward(dx, accumulate: accumulate, dy, x, u, w, view(module, seed), du: a.du, scratch: a.dropScratch,
                           T: rows, inF: inF, outF: outF, dw: dw)
    }

    /// Given ∂loss/∂logits in a.logits, adds the adapters' (or every weight's) gradients.
    private func backward(_ e: T5TrainingExample, dropoutSeed seed: UInt64) {
        let S = e.source.count, T = e.target.count, C = c.dim, V = c.vocabSize
        let tied = w.head == nil
        // Head: dh = dlogits · W (· C^-½ when tied); dW += dlogitsᵀ · decOut, whose rows the forward already scaled.
        Blas.sgemm(transA: false, transB: false, m: T, n: C, k: V, alpha: tied ? headScale : 1,
                   a: a.logits, lda: V, b: w.head ?? w.embedding, ldb: C, beta: 0, c: a.dh, ldc: C)
        if let g {
            Blas.sgemm(transA: true, transB: false, m: V, n: C, k: T, a: a.logits, lda: V, b: a.decOut, ldb: C,
                       beta: 1, c: g.head ?? g.embedding, ldc: C)
        }
        a.dres.update(repeating: 0, count: T * C)
        rmsnormBackward(a.dres, g?.decoderNorm, a.dh, a.decRes + c.decoderLayers * maxTarget * C, w.decoderNorm, a.decRstd, N: T, C: C)
        a.dEnc.update(repeating: 0, count: S * C)
        if g != nil { a.dbias.update(repeating: 0, count: c.heads * T * T) }
        for (l, layer) in w.decoder.enumerated().reversed() {
            let acts = a.decoder[l], gl = g?.decoder[l]
            feedForwardBackward(acts.xb, layer.ffnNorm, gl?.ffnNorm, layer.ffn, gl?.ffn, acts.ffn, stack: "decoder", layer: l,
                                sublayer: 2, rows: T, seed)
            attentionBackward(acts.xa, layer.crossNorm, gl?.crossNorm, layer.cross, gl?.cross, acts.cross, stack: "decoder",
                              layer: l, sublayer: 1, module: "EncDecAttention", keys: a.encOut, rows: T, keyRows: S, seed)
            attentionBackward(a.decRes + l * maxTarget * C, layer.attnNorm, gl?.attnNorm, layer.attn, gl?.attn, acts.attn,
                              stack: "decoder", layer: l, sublayer: 0, module: "SelfAttention", keys: nil, rows: T, keyRows: T, seed)
        }
        if let g {
            // a.dres holds ∂loss/∂(decoder input embeddings): decoder_start, target[0…T−2].
            t5PositionBiasBackward(g.decoderBias, a.dbias, Tq: T, Tk: T, start: 0, bidirectional: false, config: c)
            for t in 0..<T { embeddingBackward(g.embedding, t == 0 ? c.decoderStartToken : e.target[t - 1], a.dres + t * C) }
        }
        a.dres.update(repeating: 0, count: S * C)
        rmsnormBackward(a.dres, g?.encoderNorm, a.dEnc, a.encRes + c.encoderLayers * maxSource * C, w.encoderNorm, a.encRstd, N: S, C: C)
        if g != nil { a.dbias.update(repeating: 0, count: c.heads * S * S) }
        for (l, layer) in w.encoder.enumerated().reversed() {
            let acts = a.encoder[l], gl = g?.encoder[l]
            feedForwardBackward(acts.xa, layer.ffnNorm, gl?.ffnNorm, layer.ffn, gl?.ffn, acts.ffn, stack: "encoder", layer: l,
                                sublayer: 1, rows: S, seed)
            attentionBackward(a.encRes + l * maxSource * C, layer.attnNorm, gl?.attnNorm, layer.attn, gl?.attn, acts.attn,
                              stack: "encoder", layer: l, sublayer: 0, module: "SelfAttention", keys: nil, rows: S, keyRows: S, seed)
        }
        if let g {
            t5PositionBiasBackward(g.encoderBias, a.dbias, Tq: S, Tk: S, start: 0, bidirectional: true, config: c)
            for (t, id) in e.source.enumerated() { embeddingBackward(g.embedding, id, a.dres + t * C) }
        }
    }

    /// The embedding row of `id` gains `d` (C values): a look-up's backward.
    private func embeddingBackward(_ dEmbedding: UnsafeMutablePointer<Float>, _ id: Int, _ d: UnsafePointer<Float>) {
        let row = dEmbedding + id * c.dim
        for i in 0..<c.dim { row[i] += d[i] }
    }

    /// a.dres holds ∂loss/∂out of out = x + o(attention(norm(x))); adds the attention path so that it holds ∂loss/∂x.
    /// Cross-attention adds its keys' and values' gradient into a.dEnc; self-attention (full fine-tuning) adds the
    /// scores' gradient into a.dbias, the position bias's, shared by every layer of the stack.
    private func attentionBackward(_ x: UnsafePointer<Float>, _ norm: UnsafeMutablePointer<Float>, _ dnorm: UnsafeMutablePointer<Float>?,
                                   _ w: T5Attention<UnsafeMutablePointer<Float>>, _ dw: T5Attention<UnsafeMutablePointer<Float>>?,
                                   _ s: T5Activations.Attention, stack: String, layer: Int, sublayer: Int, module: String,
                                   keys: UnsafePointer<Float>?, rows: Int, keyRows: Int, _ seed: UInt64) {
        let C = c.dim, I = c.inner
        func name(_ p: String) -> String { T5TensorNames.module(stack, layer, sublayer, module, p) }
        linearBackward(a.datt, accumulate: false, a.dres, s.att, s.uo, w.wo, dw?.wo, name("o"), seed, rows: rows, inF: I, outF: C)
        a.dq.update(repeating: 0, count: rows * I)
        a.dk.update(repeating: 0, count: keyRows * I)
        a.dv.update(repeating: 0, count: keyRows * I)
        t5AttentionBackward(a.dq, a.dk, a.dv, a.datt, s.q, s.k, s.v, probabilities: s.probs, dprobs: a.dprobs,
                            dbias: keys == nil && g != nil ? a.dbias : nil, Tq: rows, Tk: keyRows, NH: c.heads, HD: c.headDim)
        linearBackward(a.dh, accumulate: false, a.dq, s.h, s.uq, w.wq, dw?.wq, name("q"), seed, rows: rows, inF: C, outF: I)
        // Self-attention's keys and values come from the same normed input as its queries; cross-attention's from
        // the encoder output, whose gradient gathers over the decoder's layers.
        let (dkx, kx) = keys.map { (a.dEnc, $0) } ?? (a.dh, UnsafePointer(s.h))
        linearBackward(dkx, accumulate: true, a.dk, kx, s.uk, w.wk, dw?.wk, name("k"), seed, rows: keyRows, inF: C, outF: I)
        linearBackward(dkx, accumulate: true, a.dv, kx, s.uv, w.wv, dw?.wv, name("v"), seed, rows: keyRows, inF: C, outF: I)
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
