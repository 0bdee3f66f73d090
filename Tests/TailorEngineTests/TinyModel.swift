// A tiny random-weights Llama for tests that must run in milliseconds: same code paths as the real model.
import TailorEngine

enum TinyModel {
    static func config(qkvBias: Bool = false, tied: Bool = true) -> LlamaConfig {
        LlamaConfig(architecture: "llama", vocabSize: 61, dim: 16, hiddenDim: 24, layers: 2, heads: 4, kvHeads: 2,
                    headDim: 4, contextLength: 64, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: tied, qkvBias: qkvBias)
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
