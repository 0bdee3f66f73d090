// Full fine-tuning's trainable weights: every weight of a decoder (the seven projections, every norm, biases, the
// token embedding and an untied head) in fp32, laid out once in four flat buffers of the same layout (values, grads,
// and AdamW's m and v), as LoRAParameters lays out an adapter. `weights` is a FrozenBase whose pointers are views
// into `values`, so the training passes read the weights they train exactly as they read a frozen base, and the
// gradient of any weight sits at the same offset in `grads`. The job owns this copy; the shared FrozenBase of LoRA
// jobs is never written. A tied head is the embedding itself: both of its gradients land in one place and add up.
import Foundation

public final class FullParameters {
    public let config: LlamaConfig
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    /// The weights as the training passes read them: views into `values`.
    public private(set) var weights: FrozenBase!
    /// The matrices' ranges in the buffers (projections, embedding, untied head): AdamW decays these alone, as
    /// transformers' Trainer does by default (no decay on biases and norm weights).
    public private(set) var decayed: [Range<Int>] = []

    /// A trainable copy of `model`'s weights, dequantised to f32.
    public init(_ model: Transformer) {
        config = model.config
        let count = FrozenBase.floats(model)
        self.count = count
        func zeros() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            return p
        }
        values = zeros(); grads = zeros(); m = zeros(); v = zeros()
        var ranges: [Range<Int>] = []
        weights = lay(model) { range, matrix in if matrix { ranges.append(range) } }
        decayed = ranges
    }

    deinit { for p in [values, grads, m, v] { p.deallocate() } }

    /// Bytes of a full fine-tuning copy of a model of this shape: weights, gradients and two moments in fp32
    /// (q/k norms and biases included).
    public static func bytes(_ c: LlamaConfig) -> Int {
        let norms = 2 * c.dim + (c.qkNorm ? 2 * c.headDim : 0) + (c.postNorms ? 2 * c.dim : 0)
        let biases = c.qkvBias ? c.qDim + 2 * c.kvDim : 0
        let perLayer = norms + biases + c.qDim * c.dim * 2 + c.kvDim * c.dim * 2 + 3 * c.hiddenDim * c.dim
        return 4 * 4 * (c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.layers * perLayer + c.dim)
    }

    /// Copies `model`'s weights into `values` (a checkpoint being resumed); its shape must be this one's.
    public func load(_ model: Transformer) throws {
        guard model.config == config || Self.sameShape(model.config, config), FrozenBase.floats(model) == count else {
            throw LoRAError.mismatch("the checkpoint's model has another shape than the one being trained")
        }
        _ = lay(model) { _, _ in }
    }

    private static func sameShape(_ a: LlamaConfig, _ b: LlamaConfig) -> Bool {
        a.dim == b.dim && a.layers == b.layers && a.hiddenDim == b.hiddenDim && a.vocabSize == b.vocabSize
            && a.heads == b.heads && a.kvHeads == b.kvHeads && a.headDim == b.headDim && a.tiedEmbeddings == b.tiedEmbeddings
    }

    /// Lays `model`'s weights into `values` in FrozenBase's order, telling `each` every tensor's range.
    private func lay(_ model: Transformer, _ each: (Range<Int>, Bool) -> Void) -> FrozenBase {
        var cursor = 0
        let base = FrozenBase(model) { n, matrix in
            defer { cursor += n }
            precondition(cursor + n <= count, "the model's weights outgrow the layout")
            each(cursor..<(cursor + n), matrix)
            return values + cursor
        }
        precondition(cursor == count, "the model's weights do not fill the layout")
        return base
    }

    public func zeroGrad() { parallelZero(grads, count: count) }

    /// The gradient buffer of the weight at `p` (a pointer into `values`, as `weights` hands them out).
    @inline(__always)
    public func gradient(_ p: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> { grads + (p - UnsafePointer(values)) }
}
