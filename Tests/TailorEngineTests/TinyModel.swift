// A tiny random-weights Llama for tests that must run in milliseconds: same code paths as the real model.
import TailorEngine

enum TinyModel {
    static func config(qkvBias: Bool = false, tied: Bool = true) -> LlamaConfig {
        LlamaConfig(architecture: "llama", vocabSize: 61, dim: 16, hiddenDim: 24, layers: 2, heads: 4, kvHeads: 2,
                    headDim: 4, contextLength: 64, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: tied, qkvBias: qkvBias)
    }

    /// Dimensions that are multiples of 32, so weights can be stored in ggml blocks.
    static func blockConfig() -> LlamaConfig {
        LlamaConfig(architecture: "llama", vocabSize: 96, dim: 64, hiddenDim: 96, layers: 2, heads: 4, kvHeads: 2,
                    headDim: 16, contextLength: 128, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: true, qkvBias: false)
    }

    /// A random model whose matrices are stored as `type` (Q8_0, Q4_0, Q4_1) like a quantised GGUF.
    static func quantized(_ type: GGMLType, seed: UInt64 = 1) -> Transformer {
        let c = blockConfig()
        var rng = SeededRandom(seed: seed)
        func m(_ rows: Int, _ cols: Int) -> WeightMatrix {
            WeightMatrix(rows: rows, cols: cols, quantizing: randomValues(rows * cols, &rng, scale: 0.2), to: type)
        }
        func norm() -> [Float] { (0..<c.dim).map { _ in 1 + rng.nextGaussian() * 0.1 } }
        let layers = (0..<c.layers).map { _ in
            LlamaLayerWeights(attnNorm: norm(), wq: m(c.qDim, c.dim), wk: m(c.kvDim, c.dim), wv: m(c.kvDim, c.dim),
                              wo: m(c.dim, c.qDim), bq: nil, bk: nil, bv: nil, ffnNorm: norm(),
                              wGate: m(c.hiddenDim, c.dim), wUp: m(c.hiddenDim, c.dim), wDown: m(c.dim, c.hiddenDim))
        }
        let embedding = WeightMatrix(rows: c.vocabSize, cols: c.dim, quantizing: randomValues(c.vocabSize * c.dim, &rng, scale: 1), to: .q8_0)
        return Transformer(config: c, weights: LlamaWeights(tokenEmbedding: embedding, layers: layers, outputNorm: norm(), output: embedding))
    }

    static func randomValues(_ n: Int, _ rng: inout SeededRandom, scale: Float) -> [Float] {
        (0..<n).map { _ in rng.nextGaussian() * scale }
    }

    /// `embeddingScale` bounds the logits (the final RMSNorm fixes the hidden state's norm): memorisation tests need
    /// room for confident predictions.
    static func make(seed: UInt64 = 1, qkvBias: Bool = false, tied: Bool = true, embeddingScale: Float = 0.3) -> Transformer {
        let c = config(qkvBias: qkvBias, tied: tied)
        var rng = SeededRandom(seed: seed)
        func m(_ rows: Int, _ cols: Int, scale: Float = 0.3) -> WeightMatrix {
            WeightMatrix(rows: rows, cols: cols, values: randomValues(rows * cols, &rng, scale: scale))
        }
        func norm() -> [Float] { (0..<c.dim).map { _ in 1 + rng.nextGaussian() * 0.1 } }
        let layers = (0..<c.layers).map { _ in
            LlamaLayerWeights(attnNorm: norm(), wq: m(c.qDim, c.dim), wk: m(c.kvDim, c.dim), wv: m(c.kvDim, c.dim),
                              wo: m(c.dim, c.qDim),
                              bq: qkvBias ? randomValues(c.qDim, &rng, scale: 0.1) : nil,
                              bk: qkvBias ? randomValues(c.kvDim, &rng, scale: 0.1) : nil,
                              bv: qkvBias ? randomValues(c.kvDim, &rng, scale: 0.1) : nil,
                              ffnNorm: norm(), wGate: m(c.hiddenDim, c.dim), wUp: m(c.hiddenDim, c.dim),
                              wDown: m(c.dim, c.hiddenDim))
        }
        let embedding = m(c.vocabSize, c.dim, scale: embeddingScale)
        let weights = LlamaWeights(tokenEmbedding: embedding, layers: layers, outputNorm: norm(),
                                   output: tied ? embedding : m(c.vocabSize, c.dim))
        return Transformer(config: c, weights: weights)
    }
}
