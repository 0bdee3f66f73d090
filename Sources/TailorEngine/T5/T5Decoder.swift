// The T5 decoder over a cache: per block a pre-norm causal self-attention (keys and values kept in the cache, the
// causal position bias recomputed for the new rows), a pre-norm cross-attention over the encoder states (their
// keys and values projected once, when the cache is made: the encoder cache), and a pre-norm feed-forward; then
// the final norm and the head (the embedding scaled by C^-½ when tied, as transformers does).

/// One target sequence's decoder state: self-attention keys/values per layer, and the encoder's projected keys and
/// values per layer. Memory is laid out once, for `capacity` target tokens; a step allocates only its logits.
public final class T5DecoderCache {
    public let capacity: Int
    public let sourceLength: Int
    public private(set) var count = 0
    let selfK: [UnsafeMutablePointer<Float>]   // per layer (capacity, I)
    let selfV: [UnsafeMutablePointer<Float>]
    let crossK: [UnsafeMutablePointer<Float>]  // per layer (S, I)
    let crossV: [UnsafeMutablePointer<Float>]
    /// Working memory of decode calls: sized by the first (largest) call, reused by every step after.
    let scratch: T5Scratch

    /// Projects `encoderStates` (S, C) through every layer's cross-attention keys and values.
    public init(model: T5Model, encoderStates: [Float], capacity: Int) {
        let c = model.config, I = c.inner, S = encoderStates.count / c.dim
        precondition(S > 0 && S * c.dim == encoderStates.count, "encoder states are not (S, d_model)")
        self.capacity = capacity
        sourceLength = S
        scratch = T5Scratch(config: c)
        scratch.reserve(rows: 1, keys: max(capacity, S))
        selfK = (0..<c.decoderLayers).map { _ in .allocate(capacity: capacity * I) }
        selfV = (0..<c.decoderLayers).map { _ in .allocate(capacity: capacity * I) }
        crossK = model.weights.decoder.map { layer in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: S * I)
            t5Linear(p, encoderStates, layer.cross.wk, rows: S, inFeatures: c.dim, outFeatures: I)
            return p
        }
        crossV = model.weights.decoder.map { layer in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: S * I)
            t5Linear(p, encoderStates, layer.cross.wv, rows: S, inFeatures: c.dim, outFeatures: I)
            return p
        }
    }

    /// Bytes of the keys and values a cache holds for a source of `sourceLength` and `capacity` target tokens.
    public static func bytes(_ c: T5Config, sourceLength: Int, capacity: Int) -> Int {
        4 * c.decoderLayers * 2 * c.inner * (capacity + sourceLength)
    }

    deinit { for p in selfK + selfV + crossK + crossV { p.deallocate() } }

    /// Forgets the target tokens, keeping the encoder cache (a new target for the same source).
    public func reset() { count = 0 }

    func advance(_ n: Int) { count += n }
}

extension T5Model {
    /// Runs `tokens` (the next target tokens, the first of a sequence being decoder_start_token_id) through the
    /// decoder, appending to `cache`. Returns logits (rows, V) for every new token, or for the last one only.
    public func decode(_ tokens: [Int], cache: T5DecoderCache, allLogits: Bool = false) -> [Float] {
        let c = config, Tq = tokens.count, C = c.dim, I = c.inner, NH = c.heads, V = c.vocabSize
        let start = cache.count, Tk = start + Tq, S = cache.sourceLength
        precondition(Tq > 0 && Tk <= cache.capacity, "the decoder cache holds \(cache.capacity) tokens")
        precondition(tokens.allSatisfy { (0..<V).contains($0) }, "a target id is outside the vocabulary")
        let s = cache.scratch
        s.reserve(rows: Tq, keys: max(Tk, S))
        let x = s.x, h = s.h, y = s.y, q = s.q, att = s.att, bias = s.bias, scores = s.scores
        for (t, id) in tokens.enumerated() { for i in 0..<C { x[t * C + i] = weights.embedding[id * C + i] } }
        t5PositionBias(bias, table: weights.decoderBias, Tq: Tq, Tk: Tk, start: start, bidirectional: false, config: c)
        for (l, layer) in weights.decoder.enumerated() {
            rmsnormForward(h, nil, x, layer.attnNorm, N: Tq, C: C, eps: c.eps)
            t5Linear(q, h, layer.attn.wq, rows: Tq, inFeatures: C, outFeatures: I)
            t5Linear(cache.selfK[l] + start * I, h, layer.attn.wk, rows: Tq, inFeatures: C, outFeatures: I)
            t5Linear(cache.selfV[l] + start * I, h, layer.attn.wv, rows: Tq, inFeatures: C, outFeatures: I)
            t5AttentionForward(att, q, cache.selfK[l], cache.selfV[l], bias: bias, causalStart: start, scores: scores,
                               Tq: Tq, Tk: Tk, NH: NH, HD: c.headDim)
            t5Linear(y, att, layer.attn.wo, rows: Tq, inFeatures: I, outFeatures: C)
            for i in 0..<(Tq * C) { x[i] += y[i] }

            rmsnormForward(h, nil, x, layer.crossNorm, N: Tq, C: C, eps: c.eps)
            t5Linear(q, h, layer.cross.wq, rows: Tq, inFeatures: C, outFeatures: I)
            t5AttentionForward(att, q, cache.crossK[l], cache.crossV[l], bias: nil, causalStart: nil, scores: scores,
                               Tq: Tq, Tk: S, NH: NH, HD: c.headDim)
            t5Linear(y, att, layer.cross.wo, rows: Tq, inFeatures: I, outFeatures: C)
            for i in 0..<(Tq * C) { x[i] += y[i] }

            rmsnormForward(h, nil, x, layer.ffnNorm, N: Tq, C: C, eps: c.eps)
            t5FeedForwardForward(y, h, layer.ffn, hidden: s.hidden, linear: s.linear, T: Tq, config: c)
            for i in 0..<(Tq * C) { x[i] += y[i] }
        }
        cache.advance(Tq)

        let rows = allLogits ? Tq : 1, first = Tq - rows
        rmsnormForward(h, nil, x + first * C, weights.decoderNorm, N: rows, C: C, eps: c.eps)
        if weights.head == nil {
            let scale = 1 / Float(C).squareRoot()
            for i in 0..<(rows * C) { h[i] *= scale }
        }
        var logits = [Float](repeating: 0, count: rows * V)
        logits.withUnsafeMutableBufferPointer { out in
            t5Linear(out.baseAddress!, h, weights.head ?? weights.embedding, rows: rows, inFeatures: C, outFeatures: V)
        }
        return logits
    }
}
