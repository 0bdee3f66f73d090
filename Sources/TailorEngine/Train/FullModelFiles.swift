// A fully fine-tuned model as a Hugging Face directory: model.safetensors in transformers' names and conventions
// (row order, Gemma's norms stored as w for its 1 + w), config.json, and the base model's tokenizer files when it
// has them. Full checkpoints are such directories, so a checkpoint is also the exported model and what is served.
import Foundation

public enum FullModelFiles {
    /// One weight of a FullParameters under its transformers name: a view into its values (or, through `gradient`,
    /// its gradient). `normShift` is what transformers' convention subtracts from the stored multiplier (Gemma's 1).
    public struct Tensor {
        public let name: String
        public let values: UnsafeMutablePointer<Float>
        public let shape: [Int]
        public let normShift: Float
        public var count: Int { shape.reduce(1, *) }
    }

    /// Every weight of `p` in transformers' names, once (a tied head is the embedding).
    public static func tensors(_ p: FullParameters) -> [Tensor] {
        let c = p.config, b = p.weights!
        let shift: Float = c.architecture == "gemma3" ? 1 : 0
        var out: [Tensor] = []
        func add(_ name: String, _ ptr: UnsafeMutablePointer<Float>?, _ shape: [Int], norm: Bool = false) {
            if let ptr { out.append(Tensor(name: name, values: ptr, shape: shape, normShift: norm ? shift : 0)) }
        }
        add(TensorRole.tokenEmbedding.huggingFace, b.embedding, [c.vocabSize, c.dim])
        for (l, lw) in b.layers.enumerated() {
            for (role, t) in [(TensorRole.wq, LoRATarget.q), (.wk, .k), (.wv, .v), (.wo, .o), (.wGate, .gate), (.wUp, .up), (.wDown, .down)] {
                let (o, i) = t.shape(c)
                add(role.huggingFace(layer: l), lw.w[t]!, [o, i])
            }
            add(TensorRole.bq.huggingFace(layer: l), lw.bq, [c.qDim])
            add(TensorRole.bk.huggingFace(layer: l), lw.bk, [c.kvDim])
            add(TensorRole.bv.huggingFace(layer: l), lw.bv, [c.kvDim])
            for (role, ptr, n) in [(TensorRole.attnNorm, lw.attnNorm, c.dim), (.ffnNorm, lw.ffnNorm, c.dim),
                                   (.qNorm, lw.qNorm, c.headDim), (.kNorm, lw.kNorm, c.headDim),
                                   (.postAttnNorm, lw.postAttnNorm, c.dim), (.postFfnNorm, lw.postFfnNorm, c.dim)] {
                add(role.huggingFace(layer: l, architecture: c.architecture), ptr, [n], norm: true)
            }
        }
        add(TensorRole.outputNorm.huggingFace, b.outputNorm, [c.dim], norm: true)
        if b.output != b.embedding { add(TensorRole.output.huggingFace, b.output, [c.vocabSize, c.dim]) }
        return out
    }

    /// Writes the weights of `p` as f32 safetensors to `path`, streamed from `p`'s memory (no copy of the model).
    public static func writeSafetensors(_ p: FullParameters, to path: String) throws {
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        for t in tensors(p) {
            let values = UnsafeBufferPointer(start: t.values, count: t.count)
            if t.normShift == 0 {
                w.addBorrowing(t.name, shape: t.shape, values: values)
            } else {
                w.add(t.name, shape: t.shape, values: values.map { $0 - t.normShift })
            }
        }
        try w.write(to: path)
    }

    /// The weights of `p` as safetensors.
    public static func safetensors(_ p: FullParameters, dtype: SafeTensorsWriter.DType = .f32) throws -> Data {
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        for t in tensors(p) {
            let values = UnsafeBufferPointer(start: t.values, count: t.count)
            if t.normShift == 0 {
                w.add(t.name, shape: t.shape, values: values, as: dtype)
            } else {
                w.add(t.name, shape: t.shape, values: values.map { $0 - t.normShift }, as: dtype)
            }
        }
        return try w.serialized()
    }

    /// The files besides the weights: a Hugging Face base's config.json, generation config, tokenizer and chat
    /// template files, copied; for a GGUF base a config.json made from its metadata (a GGUF carries no
    /// tokenizer.json: serving uses the base model's tokenizer, and an export is loaded with the base's files).
    public static func companions(of base: LanguageModel) throws -> [String: Data] {
        var files: [String: Data] = [:]
        if base.format == .huggingFace {
            for f in ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                      "special_tokens_map.json", "tokenizer.model", "chat_template.jinja"] {
                if let d = FileManager.default.contents(atPath: (base.path as NSString).appendingPathComponent(f)) { files[f] = d }
            }
        }
        if files["config.json"] == nil {
            files["config.json"] = try AdapterExport.huggingFaceConfig(base.transformer.config, tokenizer: base.tokenizer)
        }
        return files
    }

    /// True when `directory` holds a whole model (a full fine-tuning checkpoint) rather than a LoRA adapter.
    public static func isFullModel(_ directory: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: (directory as NSString).appendingPathComponent("model.safetensors"))
            && !fm.fileExists(atPath: (directory as NSString).appendingPathComponent("adapter_config.json"))
    }
}
