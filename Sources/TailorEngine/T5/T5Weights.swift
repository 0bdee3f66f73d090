// A T5 checkpoint's parameters as f32 arrays, each with its shape (rows, cols in PyTorch's [out, in] order).
// Loaded from safetensors (F32, F16 or BF16) through T5TensorNames; shapes are checked against the config.

public struct T5AttentionWeights: Sendable {
    public var wq: [Float]     // (NH*HD, C)
    public var wk: [Float]     // (NH*HD, C)
    public var wv: [Float]     // (NH*HD, C)
    public var wo: [Float]     // (C, NH*HD)
}

public struct T5FeedForwardWeights: Sendable {
    public var wi: [Float]     // (FF, C): wi, or wi_0 (through the activation) when gated
    public var wiLinear: [Float]?  // (FF, C): wi_1, the gated models' linear branch
    public var wo: [Float]     // (C, FF)
}

public struct T5EncoderLayerWeights: Sendable {
    public var attnNorm: [Float]   // (C)
    public var attn: T5AttentionWeights
    public var ffnNorm: [Float]    // (C)
    public var ffn: T5FeedForwardWeights
}

public struct T5DecoderLayerWeights: Sendable {
    public var attnNorm: [Float]   // (C)
    public var attn: T5AttentionWeights
    public var crossNorm: [Float]  // (C)
    public var cross: T5AttentionWeights
    public var ffnNorm: [Float]    // (C)
    public var ffn: T5FeedForwardWeights
}

public struct T5Weights: Sendable {
    public var embedding: [Float]            // (V, C), shared by encoder, decoder and a tied head
    public var encoderBias: [Float]          // (buckets, NH)
    public var encoder: [T5EncoderLayerWeights]
    public var encoderNorm: [Float]          // (C)
    public var decoderBias: [Float]          // (buckets, NH)
    public var decoder: [T5DecoderLayerWeights]
    public var decoderNorm: [Float]          // (C)
    public var head: [Float]?                // (V, C); nil when tied to the embedding

    static func load(_ checkpoint: SafeTensorsCheckpoint, config c: T5Config) throws -> T5Weights {
        typealias N = T5TensorNames
        func tensor(_ name: String, _ rows: Int, _ cols: Int) throws -> [Float] {
            let m = try checkpoint.matrix(name)
            guard m.rows * m.cols == rows * cols, m.rows == rows || (rows == 1 && m.cols == cols) else {
                throw ModelFileError.shapeMismatch(path: checkpoint.path, tensor: name, expected: [rows, cols], found: [m.rows, m.cols])
            }
            return m.toFloats()
        }
        func attention(_ stack: String, _ layer: Int, _ sublayer: Int, _ module: String) throws -> T5AttentionWeights {
            T5AttentionWeights(wq: try tensor(N.attention(stack, layer, sublayer, module, "q"), c.inner, c.dim),
                               wk: try tensor(N.attention(stack, layer, sublayer, module, "k"), c.inner, c.dim),
                               wv: try tensor(N.attention(stack, layer, sublayer, module, "v"), c.inner, c.dim),
                               wo: try tensor(N.attention(stack, layer, sublayer, module, "o"), c.dim, c.inner))
        }
        func feedForward(_ stack: String, _ layer: Int, _ sublayer: Int) throws -> T5FeedForwardWeights {
            if c.gated {
                return T5FeedForwardWeights(wi: try tensor(N.feedForward(stack, layer, sublayer, "wi_0"), c.hiddenDim, c.dim),
                                            wiLinear: try tensor(N.feedForward(stack, layer, sublayer, "wi_1"), c.hiddenDim, c.dim),
                                            wo: try tensor(N.feedForward(stack, layer, sublayer, "wo"), c.dim, c.hiddenDim))
            }
            return T5FeedForwardWeights(wi: try tensor(N.feedForward(stack, layer, sublayer, "wi"), c.hiddenDim, c.dim),
                                        wiLinear: nil,
                                        wo: try tensor(N.feedForward(stack, layer, sublayer, "wo"), c.dim, c.hiddenDim))
        }
        func norm(_ name: String) throws -> [Float] { try tensor(name, 1, c.dim) }

        let embeddingName = ([N.shared] + N.sharedFallbacks).first(where: checkpoint.has) ?? N.shared
        let encoder = try (0..<c.encoderLayers).map { i in
            T5EncoderLayerWeights(attnNorm: try norm(N.norm("encoder", i, 0)), attn: try attention("encoder", i, 0, "SelfAttention"),
                                  ffnNorm: try norm(N.norm("encoder", i, 1)), ffn: try feedForward("encoder", i, 1))
        }
        let decoder = try (0..<c.decoderLayers).map { i in
            T5DecoderLayerWeights(attnNorm: try norm(N.norm("decoder", i, 0)), attn: try attention("decoder", i, 0, "SelfAttention"),
                                  crossNorm: try norm(N.norm("decoder", i, 1)), cross: try attention("decoder", i, 1, "EncDecAttention"),
                                  ffnNorm: try norm(N.norm("decoder", i, 2)), ffn: try feedForward("decoder", i, 2))
        }
        // An untied model must ship its head; a tied one may still carry a copy, which is the embedding.
        let head = c.tiedEmbeddings ? nil : try tensor(N.head, c.vocabSize, c.dim)
        return T5Weights(embedding: try tensor(embeddingName, c.vocabSize, c.dim),
                         encoderBias: try tensor(N.relativeBias("encoder"), c.buckets, c.heads),
                         encoder: encoder, encoderNorm: try norm(N.finalNorm("encoder")),
                         decoderBias: try tensor(N.relativeBias("decoder"), c.buckets, c.heads),
                         decoder: decoder, decoderNorm: try norm(N.finalNorm("decoder")), head: head)
    }
}
