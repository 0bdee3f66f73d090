// Full fine-tuning's trainable weights of a T5 model: every tensor (the shared embedding, an untied head, every
// projection, layer norm and both position tables) in fp32, in four flat buffers of one layout (values, grads, and
// AdamW's m and v), as FullParameters lays out a decoder. `weights` and `gradients` are the T5 layout as pointer views
// into `values` and `grads`, so T5TrainingModel reads the weights it trains and adds each gradient in place.
// A tied head is the embedding: its gradient and the two embedding look-ups' land in one tensor and add up.
import Foundation

public final class T5FullParameters {
    public typealias Views = T5Tensors<UnsafeMutablePointer<Float>>

    /// One tensor of the layout under its transformers name.
    public struct Tensor: Sendable {
        public let name: String
        public let offset: Int
        public let shape: [Int]
        public let kind: T5TensorKind
        public var count: Int { shape.reduce(1, *) }
    }

    public let config: T5Config
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    public let tensors: [Tensor]
    /// The weights as the training passes read them, and their gradients: views into `values` and `grads`.
    public let weights: Views
    public let gradients: Views
    /// The matrices' ranges (embedding, head, projections): AdamW decays these alone, as transformers' Trainer does.
    public let decayed: [Range<Int>]

    /// A trainable copy of `w` (the model's weights).
    public convenience init(_ w: T5Weights, config c: T5Config) {
        var arrays: [[Float]] = []
        _ = w.map(c) { _, array, _, _ in arrays.append(array) }
        self.init(config: c) { i, t, dst in
            precondition(arrays[i].count == t.count, "\(t.name) has \(arrays[i].count) values, not \(t.shape)")
            dst.update(from: arrays[i], count: t.count)
        }
    }

    /// The weights of the Hugging Face T5 directory `directory` (F32, F16 or BF16 safetensors), read tensor by tensor
    /// into the buffers: the model is never held twice.
    public convenience init(directory: String, config c: T5Config) throws {
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        try self.init(config: c) { _, t, dst in try Self.read(t, from: checkpoint, into: dst) }
    }

    private init(config c: T5Config, fill: (Int, Tensor, UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        config = c
        let layout = T5Tensors<Void>.layout(c)
        var tensors: [Tensor] = [], offset = 0
        _ = layout.map(c) { name, _, shape, kind in
            tensors.append(Tensor(name: name, offset: offset, shape: shape, kind: kind))
            offset += shape.reduce(1, *)
        }
        self.tensors = tensors
        count = offset
        func zeros() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(offset, 1))
            p.initialize(repeating: 0, count: max(offset, 1))
            return p
        }
        let values = zeros(), grads = zeros()
        self.values = values; self.grads = grads; m = zeros(); v = zeros()
        var i = 0
        weights = layout.map(c) { _, _, _, _ in defer { i += 1 }; return values + tensors[i].offset }
        i = 0
        gradients = layout.map(c) { _, _, _, _ in defer { i += 1 }; return grads + tensors[i].offset }
        decayed = tensors.filter { $0.kind == .matrix }.map { $0.offset..<($0.offset + $0.count) }
        for (i, t) in tensors.enumerated() { try fill(i, t, values + t.offset) }
    }

    /// One tensor of a checkpoint into `dst`, its shape checked (older checkpoints keep the embedding under the
    /// encoder's name only).
    private static func read(_ t: Tensor, from checkpoint: SafeTensorsCheckpoint, into dst: UnsafeMutablePointer<Float>) throws {
        typealias N = T5TensorNames
        let name = t.name == N.shared ? ([N.shared] + N.sharedFallbacks).first(where: checkpoint.has) ?? N.shared : t.name
        let m = try checkpoint.matrix(name)
        guard m.rows * m.cols == t.count, t.shape.count == 1 || m.rows == t.shape[0] else {
            throw ModelFileError.shapeMismatch(path: checkpoint.path, tensor: name, expected: t.shape, found: [m.rows, m.cols])
        }
        dst.update(from: m.toFloats(), count: t.count)
    }

    deinit { for p in [values, grads, m, v] { p.deallocate() } }

    /// Bytes of a full fine-tuning copy of a model of this shape: weights, gradients and two AdamW moments in fp32.
    public static func bytes(_ c: T5Config) -> Int { 4 * 4 * parameterCount(c) }

    /// Trainable values of a model of this shape.
    public static func parameterCount(_ c: T5Config) -> Int {
        let C = c.dim, I = c.inner, FF = c.hiddenDim
        let attention = 4 * C * I, ffn = (c.gated ? 3 : 2) * C * FF, table = c.buckets * c.heads
        let encoder = c.encoderLayers * (2 * C + attention + ffn)
        let decoder = c.decoderLayers * (3 * C + 2 * attention + ffn)
        return c.vocabSize * C * (c.tiedEmbeddings ? 1 : 2) + 2 * (table + C) + encoder + decoder
    }

    public func zeroGrad() { parallelZero(grads, count: count) }

    /// Reads the weights of a checkpoint being resumed (a directory this layout was written to) into `values`.
    public func load(directory: String) throws {
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        for t in tensors { try Self.read(t, from: checkpoint, into: values + t.offset) }
    }

    /// The weights as f32 safetensors under transformers' names, streamed from `values` (no copy of the model):
    /// `T5ForConditionalGeneration.from_pretrained` ties encoder/decoder embed_tokens (and a tied head) to shared.weight.
    public func writeSafetensors(to path: String) throws {
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        for t in tensors { w.addBorrowing(t.name, shape: t.shape, values: UnsafeBufferPointer(start: values + t.offset, count: t.count)) }
        try w.write(to: path)
    }

    /// A Hugging Face T5 directory's files besides the weights (config and tokenizer), to write beside them so that
    /// a checkpoint is a model transformers and Tailor load.
    public static func companions(of directory: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for f in ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "spiece.model", "added_tokens.json"] {
            if let d = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(f)) { files[f] = d }
        }
        return files
    }
}

extension AdamW {
    /// Full fine-tuning of a T5 model: the weight decay applies to the matrices alone (T5FullParameters.decayed).
    @discardableResult
    static func step(_ p: T5FullParameters, lr: Float, t: Int, config c: AdamWConfig, clearingGradients: Bool = false) -> Float {
        step(values: p.values, grads: p.grads, m: p.m, v: p.v, count: p.count, decayed: p.decayed, lr: lr, t: t, config: c,
             clearingGradients: clearingGradients)
    }
}
