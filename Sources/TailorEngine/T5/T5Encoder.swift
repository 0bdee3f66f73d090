// The T5 encoder: embeddings, then per block a pre-norm self-attention with the bidirectional position bias and
// a pre-norm feed-forward, each added back to the residual stream, and a final RMS norm. One source at a time,
// so a batch needs no padding mask; the sources of a batch run one after another (each product is threaded).

extension T5Model {
    /// Encoder states (T, C) of one source (token ids, EOS included as the tokenizer adds it).
    public func encode(_ ids: [Int]) -> [Float] {
        let c = config, T = ids.count, C = c.dim, I = c.inner, NH = c.heads
        precondition(T > 0, "empty source")
        precondition(ids.allSatisfy { (0..<c.vocabSize).contains($0) }, "a source id is outside the vocabulary")
        let s = T5Scratch(config: c)
        s.reserve(rows: T, keys: T)
        let x = s.x, h = s.h, y = s.y, q = s.q, k = s.k, v = s.v, att = s.att
        for (t, id) in ids.enumerated() { for i in 0..<C { x[t * C + i] = weights.embedding[id * C + i] } }
        t5PositionBias(s.bias, table: weights.encoderBias, Tq: T, Tk: T, start: 0, bidirectional: true, config: c)
        for layer in weights.encoder {
            rmsnormForward(h, nil, x, layer.attnNorm, N: T, C: C, eps: c.eps)
            t5Linear(q, h, layer.attn.wq, rows: T, inFeatures: C, outFeatures: I)
            t5Linear(k, h, layer.attn.wk, rows: T, inFeatures: C, outFeatures: I)
            t5Linear(v, h, layer.attn.wv, rows: T, inFeatures: C, outFeatures: I)
            t5AttentionForward(att, q, k, v, bias: s.bias, causalStart: nil, scores: s.scores, Tq: T, Tk: T, NH: NH, HD: c.headDim)
            t5Linear(y, att, layer.attn.wo, rows: T, inFeatures: I, outFeatures: C)
            parallelAdd(x, y, count: T * C)
            rmsnormForward(h, nil, x, layer.ffnNorm, N: T, C: C, eps: c.eps)
            t5FeedForwardForward(y, h, layer.ffn, hidden: s.hidden, linear: s.linear, T: T, config: c)
            parallelAdd(x, y, count: T * C)
        }
        rmsnormForward(h, nil, x, weights.encoderNorm, N: T, C: C, eps: c.eps)
        return Array(UnsafeBufferPointer(start: h, count: T * C))
    }

    /// Encoder states of each source of a batch.
    public func encode(batch: [[Int]]) -> [[Float]] { batch.map { encode($0) } }
}
