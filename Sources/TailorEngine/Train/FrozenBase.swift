// The base model's weights dequantised once to f32 for training (sgemm needs f32 operands; the forward and
// backward passes read every weight several times per step). Read-only after init, shared by the training
// threads of every job on the same base model.
import Foundation

public final class FrozenBase: @unchecked Sendable {
    // Sendable: every buffer is written once in init and only read afterwards.
    public struct Layer {
        public let attnNorm: UnsafeMutablePointer<Float>   // (C)
        public let ffnNorm: UnsafeMutablePointer<Float>    // (C)
        public let bq: UnsafeMutablePointer<Float>?, bk: UnsafeMutablePointer<Float>?, bv: UnsafeMutablePointer<Float>?
        /// (HD) each, when the model normalises q and k per head.
        public let qNorm: UnsafeMutablePointer<Float>?, kNorm: UnsafeMutablePointer<Float>?
        /// (C) each, when the model normalises the attention's and feed-forward's outputs (Gemma 3).
        public let postAttnNorm: UnsafeMutablePointer<Float>?, postFfnNorm: UnsafeMutablePointer<Float>?
        /// The seven projections, (out, in) each.
        public let w: [LoRATarget: UnsafeMutablePointer<Float>]
    }

    public let config: LlamaConfig
    public let embedding: UnsafeMutablePointer<Float>      // (V, C)
    public let output: UnsafeMutablePointer<Float>         // (V, C); equal to embedding when tied
    public let outputNorm: UnsafeMutablePointer<Float>     // (C)
    public let layers: [Layer]
    private var owned: [UnsafeMutablePointer<Float>] = []

    public init(_ model: Transformer) {
        config = model.config
        var owned: [UnsafeMutablePointer<Float>] = []
        func copy(_ m: WeightMatrix) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: m.elementCount)
            parallelRanges(m.rows, pieces: KernelThreads.count * 4) { r in m.dequantize(rows: r, into: p + r.lowerBound * m.cols) }
            owned.append(p)
            return p
        }
        func copy(_ v: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: v.count)
            p.initialize(from: v, count: v.count)
            owned.append(p)
            return p
        }
        let w = model.weights
        embedding = copy(w.tokenEmbedding)
        output = w.output === w.tokenEmbedding ? embedding : copy(w.output)
        outputNorm = copy(w.outputNorm)
        layers = w.layers.map { lw in
            Layer(attnNorm: copy(lw.attnNorm), ffnNorm: copy(lw.ffnNorm),
                  bq: lw.bq.map(copy), bk: lw.bk.map(copy), bv: lw.bv.map(copy),
                  qNorm: lw.qNorm.map(copy), kNorm: lw.kNorm.map(copy),
                  postAttnNorm: lw.postAttnNorm.map(copy), postFfnNorm: lw.postFfnNorm.map(copy),
                  w: [.q: copy(lw.wq), .k: copy(lw.wk), .v: copy(lw.wv), .o: copy(lw.wo),
                      .gate: copy(lw.wGate), .up: copy(lw.wUp), .down: copy(lw.wDown)])
        }
        self.owned = owned
    }

    deinit { for p in owned { p.deallocate() } }

    public var bytes: Int { Self.bytes(config) }

    /// The f32 copy's size for a model of this shape, before loading it.
    public static func bytes(_ c: LlamaConfig) -> Int {
        let perLayer = 2 * c.dim + c.qDim * c.dim * 2 + c.kvDim * c.dim * 2 + 3 * c.hiddenDim * c.dim
        return 4 * (c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.layers * perLayer + c.dim)
    }
}
