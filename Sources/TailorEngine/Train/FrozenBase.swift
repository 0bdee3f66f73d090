// The base model's weights dequantised once to f32 for training (sgemm needs f32 operands; the forward and
// backward passes read every weight several times per step). Read-only after init, shared by the training
// threads of every job on the same base model. A full fine-tuning job lays out its own copy the same way, inside
// FullParameters, and trains it.
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
        /// w[.q], which w[.k] and w[.v] follow in memory: q, k and v as one (qDim + 2·kvDim, C) matrix, so that
        /// their products with one input run as one (a product with 960 outputs runs ~1.4× faster here than one of
        /// 576 and two of 192).
        public let qkv: UnsafeMutablePointer<Float>
    }

    public let config: LlamaConfig
    public let embedding: UnsafeMutablePointer<Float>      // (V, C)
    public let output: UnsafeMutablePointer<Float>         // (V, C); equal to embedding when tied
    public let outputNorm: UnsafeMutablePointer<Float>     // (C)
    public let layers: [Layer]
    private var owned: [UnsafeMutablePointer<Float>] = []

    /// Every weight in one buffer, in init(_:place:)'s order (so each layer's q, k and v lie one after another).
    public convenience init(_ model: Transformer) {
        let all = UnsafeMutablePointer<Float>.allocate(capacity: Self.floats(model))
        var cursor = 0
        self.init(model) { count, _ in
            defer { cursor += count }
            return all + cursor
        }
        owned = [all]
    }

    /// The weights copied into buffers that `place(count, isMatrix)` hands out one after another, in a fixed order
    /// (embedding, head when untied, final norm, then each layer): full fine-tuning lays them out in one trainable
    /// buffer this way. The buffers stay the caller's.
    init(_ model: Transformer, place: (_ count: Int, _ isMatrix: Bool) -> UnsafeMutablePointer<Float>) {
        config = model.config
        func copy(_ m: WeightMatrix) -> UnsafeMutablePointer<Float> {
            let p = place(m.elementCount, true)
            parallelRanges(m.rows, pieces: KernelThreads.count * 4) { r in m.dequantize(rows: r, into: p + r.lowerBound * m.cols) }
            return p
        }
        func copy(_ v: [Float]) -> UnsafeMutablePointer<Float> {
            let p = place(v.count, false)
            p.update(from: v, count: v.count)
            return p
        }
        let w = model.weights
        embedding = copy(w.tokenEmbedding)
        output = w.output === w.tokenEmbedding ? embedding : copy(w.output)
        outputNorm = copy(w.outputNorm)
        layers = w.layers.map { lw in
            let attnNorm = copy(lw.attnNorm), ffnNorm = copy(lw.ffnNorm)
            let bq = lw.bq.map(copy), bk = lw.bk.map(copy), bv = lw.bv.map(copy)
            let qNorm = lw.qNorm.map(copy), kNorm = lw.kNorm.map(copy)
            let postAttnNorm = lw.postAttnNorm.map(copy), postFfnNorm = lw.postFfnNorm.map(copy)
            let q = copy(lw.wq), k = copy(lw.wk), v = copy(lw.wv)
            let matrices: [LoRATarget: UnsafeMutablePointer<Float>] = [
                .q: q, .k: k, .v: v, .o: copy(lw.wo), .gate: copy(lw.wGate), .up: copy(lw.wUp), .down: copy(lw.wDown)]
            precondition(k == q + lw.wq.elementCount && v == k + lw.wk.elementCount, "place lays weights out in order")
            return Layer(attnNorm: attnNorm, ffnNorm: ffnNorm, bq: bq, bk: bk, bv: bv, qNorm: qNorm, kNorm: kNorm,
                         postAttnNorm: postAttnNorm, postFfnNorm: postFfnNorm, w: matrices, qkv: q)
        }
    }

    /// Floats of every weight of `model` as the init above lays them out (the exact size of a full fine-tuning copy).
    static func floats(_ model: Transformer) -> Int {
        let w = model.weights
        var n = w.tokenEmbedding.elementCount + w.outputNorm.count + (w.output === w.tokenEmbedding ? 0 : w.output.elementCount)
        for lw in w.layers {
            n += lw.attnNorm.count + lw.ffnNorm.count
            for v in [lw.bq, lw.bk, lw.bv, lw.qNorm, lw.kNorm, lw.postAttnNorm, lw.postFfnNorm] { n += v?.count ?? 0 }
            for m in [lw.wq, lw.wk, lw.wv, lw.wo, lw.wGate, lw.wUp, lw.wDown] { n += m.elementCount }
        }
        return n
    }

    deinit { for p in owned { p.deallocate() } }

    public var bytes: Int { Self.bytes(config) }

    /// The f32 copy's size for a model of this shape, before loading it.
    public static func bytes(_ c: LlamaConfig) -> Int {
        let perLayer = 2 * c.dim + c.qDim * c.dim * 2 + c.kvDim * c.dim * 2 + 3 * c.hiddenDim * c.dim
        return 4 * (c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.layers * perLayer + c.dim)
    }
}
