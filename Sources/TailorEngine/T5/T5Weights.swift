// A T5 checkpoint's parameters, each with its shape (rows, cols in PyTorch's [out, in] order), as one generic layout:
// T5Weights holds f32 arrays (loaded from safetensors, F32, F16 or BF16, through T5TensorNames, shapes checked
// against the config); training reads the same layout as pointer views into flat buffers (T5FullParameters), made by
// `map`, which visits every tensor once, in one fixed order, with its Hugging Face name.

public struct T5Attention<Tensor> {
    public var wq: Tensor     // (NH*HD, C)
    public var wk: Tensor     // (NH*HD, C)
    public var wv: Tensor     // (NH*HD, C)
    public var wo: Tensor     // (C, NH*HD)
}

public struct T5FeedForward<Tensor> {
    public var wi: Tensor         // (FF, C): wi, or wi_0 (through the activation) when gated
    public var wiLinear: Tensor?  // (FF, C): wi_1, the gated models' linear branch
    public var wo: Tensor         // (C, FF)
}

public struct T5EncoderLayer<Tensor> {
    public var attnNorm: Tensor   // (C)
    public var attn: T5Attention<Tensor>
    public var ffnNorm: Tensor    // (C)
    public var ffn: T5FeedForward<Tensor>
}

public struct T5DecoderLayer<Tensor> {
    public var attnNorm: Tensor   // (C)
    public var attn: T5Attention<Tensor>
    public var crossNorm: Tensor  // (C)
    public var cross: T5Attention<Tensor>
    public var ffnNorm: Tensor    // (C)
    public var ffn: T5FeedForward<Tensor>
}

/// What a tensor is, for optimizer grouping: transformers' Trainer decays the matrices, not the layer norms nor the
/// position tables (get_decay_parameter_names drops names with "_norm" and "bias").
public enum T5TensorKind: Sendable { case matrix, norm, positionTable }

public struct T5Tensors<Tensor> {
    public var embedding: Tensor            // (V, C), shared by encoder, decoder and a tied head
    public var encoderBias: Tensor          // (buckets, NH)
    public var encoder: [T5EncoderLayer<Tensor>]
    public var encoderNorm: Tensor          // (C)
    public var decoderBias: Tensor          // (buckets, NH)
    public var decoder: [T5DecoderLayer<Tensor>]
    public var decoderNorm: Tensor          // (C)
    public var head: Tensor?                // (V, C); nil when tied to the embedding

    /// The same layout with each tensor replaced by `f(name, tensor, shape, kind)`, called once per tensor in
    /// checkpoint order: the embedding, each stack's position table, blocks and final norm, then an untied head.
    public func map<U>(_ c: T5Config, _ f: (String, Tensor, [Int], T5TensorKind) throws -> U) rethrows -> T5Tensors<U> {
        typealias N = T5TensorNames
        func attention(_ a: T5Attention<Tensor>, _ stack: String, _ l: Int, _ sub: Int, _ module: String) throws -> T5Attention<U> {
            func p(_ x: Tensor, _ n: String, _ shape: [Int]) throws -> U { try f(N.attention(stack, l, sub, module, n), x, shape, .matrix) }
            return T5Attention(wq: try p(a.wq, "q", [c.inner, c.dim]), wk: try p(a.wk, "k", [c.inner, c.dim]),
                               wv: try p(a.wv, "v", [c.inner, c.dim]), wo: try p(a.wo, "o", [c.dim, c.inner]))
        }
        func feedForward(_ w: T5FeedForward<Tensor>, _ stack: String, _ l: Int, _ sub: Int) throws -> T5FeedForward<U> {
            func p(_ x: Tensor, _ n: String, _ shape: [Int]) throws -> U { try f(N.feedForward(stack, l, sub, n), x, shape, .matrix) }
            let wi = try p(w.wi, c.gated ? "wi_0" : "wi", [c.hiddenDim, c.dim])
            let wiLinear = try w.wiLinear.map { try p($0, "wi_1", [c.hiddenDim, c.dim]) }
            return T5FeedForward(wi: wi, wiLinear: wiLinear, wo: try p(w.wo, "wo", [c.dim, c.hiddenDim]))
        }
        func norm(_ x: Tensor, _ name: String) throws -> U { try f(name, x, [c.dim], .norm) }
        let embedding = try f(N.shared, self.embedding, [c.vocabSize, c.dim], .matrix)
        let encoderBias = try f(N.relativeBias("encoder"), self.encoderBias, [c.buckets, c.heads], .positionTable)
        let encoder = try self.encoder.enumerated().map { l, b in
            let attnNorm = try norm(b.attnNorm, N.norm("encoder", l, 0))
            let attn = try attention(b.attn, "encoder", l, 0, "SelfAttention")
            let ffnNorm = try norm(b.ffnNorm, N.norm("encoder", l, 1))
            return T5EncoderLayer(attnNorm: attnNorm, attn: attn, ffnNorm: ffnNorm, ffn: try feedForward(b.ffn, "encoder", l, 1))
        }
        let encoderNorm = try norm(self.encoderNorm, N.finalNorm("encoder"))
        let decoderBias = try f(N.relativeBias("decoder"), self.decoderBias, [c.buckets, c.heads], .positionTable)
        let decoder = try self.decoder.enumerated().map { l, b in
            let attnNorm = try norm(b.attnNorm, N.norm("decoder", l, 0))
            let attn = try attention(b.attn, "decoder", l, 0, "SelfAttention")
            let crossNorm = try norm(b.crossNorm, N.norm("decoder", l, 1))
            let cross = try attention(b.cross, "decoder", l, 1, "EncDecAttention")
            let ffnNorm = try norm(b.ffnNorm, N.norm("decoder", l, 2))
            return T5DecoderLayer(attnNorm: attnNorm, attn: attn, crossNorm: crossNorm, cross: cross, ffnNorm: ffnNorm,
                                  ffn: try feedForward(b.ffn, "decoder", l, 2))
        }
        let decoderNorm = try norm(self.decoderNorm, N.finalNorm("decoder"))
        let head = try self.head.map { try f(N.head, $0, [c.vocabSize, c.dim], .matrix) }
        return T5Tensors<U>(embedding: embedding, encoderBias: encoderBias, encoder: encoder, encoderNorm: encoderNorm,
                            decoderBias: decoderBias, decoder: decoder, decoderNorm: decoderNorm, head: head)
    }
}

extension T5Tensors where Tensor == Void {
    /// The layout of a model of shape `c` with no values: what `map` walks to name and size every tensor.
    static func layout(_ c: T5Config) -> T5Tensors<Void> {
        let attention = T5Attention<Void>(wq: (), wk: (), wv: (), wo: ())
        let ffn = T5FeedForward<Void>(wi: (), wiLinear: c.gated ? () : nil, wo: ())
        return T5Tensors<Void>(
            embedding: (), encoderBias: (),
            encoder: Array(repeating: T5EncoderLayer(attnNorm: (), attn: attention, ffnNorm: (), ffn: ffn), count: c.encoderLayers),
            encoderNorm: (), decoderBias: (),
            decoder: Array(repeating: T5DecoderLayer(attnNorm: (), attn: attention, crossNorm: (), cross: attention, ffnNorm: (),
                                                     ffn: ffn), count: c.decoderLayers),
            decoderNorm: (), head: c.tiedEmbeddings ? nil : ())
    }
}

extension T5Attention: Sendable where Tensor: Sendable {}
extension T5FeedForward: Sendable where Tensor: Sendable {}
extension T5EncoderLayer: Sendable where Tensor: Sendable {}
extension T5DecoderLayer: Sendable where Tensor: Sendable {}
extension T5Tensors: Sendable where Tensor: Sendable {}

public typealias T5AttentionWeights = T5Attention<[Float]>
public typealias T5FeedForwardWeights = T5FeedForward<[Float]>
public typealias T5EncoderLayerWeights = T5EncoderLayer<[Float]>
public typealias T5DecoderLayerWeights = T5DecoderLayer<[Float]>
public typealias T5Weights = T5Tensors<[Float]>

extension T5Tensors where Tensor == [Float] {
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
