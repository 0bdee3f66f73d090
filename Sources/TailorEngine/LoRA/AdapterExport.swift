// Exports of a trained adapter for other tools: a GGUF LoRA adapter for llama.cpp (`--lora`), a merged model
// (W + s·B·A) as GGUF or safetensors, and an Ollama Modelfile that carries the model's own template and stop tokens.
// The PEFT form is the native one (PEFTAdapter).
import Foundation

public enum AdapterExport {
    /// llama.cpp's LoRA GGUF (convert_lora_to_gguf.py): lora_a (r, in) and lora_b (out, r) per projection, B's q/k
    /// rows in llama.cpp's interleaved rotary order for architectures whose converter permutes them.
    public static func ggufAdapter(_ adapter: LoRAAdapter, config: LlamaConfig, baseName: String) -> Data {
        var w = GGUFWriter()
        w.set("general.architecture", .string(config.architecture))
        w.set("general.type", .string("adapter"))
        w.set("general.name", .string("\(baseName) LoRA (Tailor)"))
        w.set("adapter.type", .string("lora"))
        w.set("adapter.lora.alpha", .float(Double(adapter.alpha)))
        let permute = LlamaConfig.ggufPermutesQK.contains(config.architecture)
        for (l, layer) in adapter.layers.enumerated() {
            for t in LoRATarget.allCases {
                guard let pair = layer[t] else { continue }
                let (o, i) = t.shape(config)
                var b = pair.b
                if permute && (t == .q || t == .k) {
                    b = permuteRows(b, rows: o, cols: adapter.rank, heads: t == .q ? config.heads : config.kvHeads,
                                    headDim: config.headDim)
                }
                let name = ggufName(t, layer: l)
                w.addTensor("\(name).lora_a", shape: [adapter.rank, i], values: pair.a)
                w.addTensor("\(name).lora_b", shape: [o, adapter.rank], values: b)
            }
        }
        return w.serialized()
    }

    static func ggufName(_ t: LoRATarget, layer: Int) -> String {
        let role: TensorRole
        switch t {
        case .q: role = .wq; case .k: role = .wk; case .v: role = .wv; case .o: role = .wo
        case .gate: role = .wGate; case .up: role = .wUp; case .down: role = .wDown
        }
        return role.gguf(layer: layer)
    }

    /// Rows of an (out, cols) matrix from Hugging Face order to GGUF's interleaved rotary order.
    static func permuteRows(_ m: [Float], rows: Int, cols: Int, heads: Int, headDim: Int) -> [Float] {
        let order = WeightsBuilder.rotaryRowOrder(heads: heads, headDim: headDim)   // order[hf] = gguf
        var out = m
        for hf in 0..<rows {
            let g = order[hf]
            for c in 0..<cols { out[g * cols + c] = m[hf * cols + c] }
        }
        return out
    }

    /// W + s·B·A for one projection, (out, in) f32 in Hugging Face row order.
    static func merged(_ w: WeightMatrix, _ pair: LoRAPair?, rank: Int, scale: Float) -> [Float] {
        var values = w.toFloats()
        guard let pair else { return values }
        values.withUnsafeMutableBufferPointer { y in
            pair.b.withUnsafeBufferPointer { b in
                pair.a.withUnsafeBufferPointer { a in
                    Blas.sgemm(transA: false, transB: false, m: w.rows, n: w.cols, k: rank, alpha: scale,
                               a: b.baseAddress!, lda: rank, b: a.baseAddress!, ldb: w.cols, beta: 1,
                               c: y.baseAddress!, ldc: w.cols)
                }
            }
        }
        return values
    }

    /// A complete GGUF model with the adapter merged in: the source GGUF's metadata (tokenizer, template) and every
    /// tensor in F32 or F16, in llama.cpp's layout.
    public static func mergedGGUF(source: GGUFFile, model: Transformer, adapter: LoRAAdapter?, type: GGUFWriter.TensorType) -> Data {
        mergedGGUF(metadata: metadata(of: source), model: model, adapter: adapter, type: type)
    }

    /// A GGUF base's metadata as an export keeps it: every key but the ones that describe its tensors' types.
    public static func metadata(of source: GGUFFile) -> [(String, GGUFValue)] {
        source.metadataKeys.filter { $0 != "general.file_type" && $0 != "general.quantization_version" }
            .map { ($0, source.metadata[$0]!) }
    }

    /// The same with the metadata given (HuggingFaceGGUFMetadata's, for a Hugging Face base): the tensors in
    /// llama.cpp's layout for the model's architecture.
    public static func mergedGGUF(metadata: [(String, GGUFValue)], model: Transformer, adapter: LoRAAdapter?,
                                  type: GGUFWriter.TensorType) -> Data {
        var w = GGUFWriter()
        for (key, value) in metadata { w.set(key, value) }
        w.set("general.file_type", .uint(type == .f32 ? 0 : 1))
        let c = model.config
        // llama.cpp's converter permutes the query and key rows of Llama-layout checkpoints (and GGUFModel undoes it).
        let permute = LlamaConfig.ggufPermutesQK.contains(c.architecture)
        let scale = adapter?.scale ?? 0, rank = adapter?.rank ?? 0
        w.addTensor(TensorRole.tokenEmbedding.gguf, shape: [c.vocabSize, c.dim], values: model.weights.tokenEmbedding.toFloats(), type: type)
        for (l, lw) in model.weights.layers.enumerated() {
            let pairs = adapter?.layers[l] ?? [:]
            func add(_ role: TensorRole, _ m: WeightMatrix, _ t: LoRATarget, heads: Int? = nil) {
                var v = merged(m, pairs[t], rank: rank, scale: scale)
                if permute, let heads { v = permuteRows(v, rows: m.rows, cols: m.cols, heads: heads, headDim: c.headDim) }
                w.addTensor(role.gguf(layer: l), shape: [m.rows, m.cols], values: v, type: type)
            }
            w.addTensor(TensorRole.attnNorm.gguf(layer: l), shape: [c.dim], values: lw.attnNorm)
            add(.wq, lw.wq, .q, heads: c.heads)
            add(.wk, lw.wk, .k, heads: c.kvHeads)
            add(.wv, lw.wv, .v)
            add(.wo, lw.wo, .o)
            for (role, b, heads) in [(TensorRole.bq, lw.bq, c.heads), (.bk, lw.bk, c.kvHeads), (.bv, lw.bv, 0)] {
                guard var b else { continue }
                if permute && heads > 0 { b = permuteRows(b, rows: b.count, cols: 1, heads: heads, headDim: c.headDim) }
                w.addTensor(role.gguf(layer: l), shape: [b.count], values: b)
            }
            w.addTensor(TensorRole.ffnNorm.gguf(layer: l), shape: [c.dim], values: lw.ffnNorm)
            // Qwen 3 / Gemma 3 norms, as multipliers (what llama.cpp's converter writes for Gemma too).
            for (role, v) in [(TensorRole.qNorm, lw.qNorm), (.kNorm, lw.kNorm), (.postAttnNorm, lw.postAttnNorm),
                              (.postFfnNorm, lw.postFfnNorm)] {
                if let v { w.addTensor(role.gguf(layer: l), shape: [v.count], values: v) }
            }
            add(.wGate, lw.wGate, .gate)
            add(.wUp, lw.wUp, .up)
            add(.wDown, lw.wDown, .down)
        }
        w.addTensor(TensorRole.outputNorm.gguf, shape: [c.dim], values: model.weights.outputNorm)
        if !c.tiedEmbeddings {
            w.addTensor(TensorRole.output.gguf, shape: [c.vocabSize, c.dim], values: model.weights.output.toFloats(), type: type)
        }
        // Gemma 3's linear stretch is metadata (rope.scaling.*); llama.cpp's gemma3 graph loads no rope_freqs tensor.
        if let f = c.ropeFreqFactors, c.architecture != "gemma3" {
            w.addTensor(TensorRole.ropeFreqs.gguf, shape: [f.count], values: f)
        }
        return w.serialized()
    }

    /// Merged weights as Hugging Face safetensors (for a Hugging Face source directory: config and tokenizer files
    /// are copied beside it by the caller).
    public static func mergedSafetensors(model: Transformer, adapter: LoRAAdapter?, dtype: SafeTensorsWriter.DType) throws -> Data {
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        let c = model.config
        let scale = adapter?.scale ?? 0, rank = adapter?.rank ?? 0
        // transformers' Gemma norms multiply by (1 + w): store w.
        let shift: Float = c.architecture == "gemma3" ? 1 : 0
        func norm(_ role: TensorRole, _ layer: Int?, _ v: [Float]?) {
            guard let v else { return }
            let name = layer.map { role.huggingFace(layer: $0, architecture: c.architecture) } ?? role.huggingFace
            w.add(name, shape: [v.count], values: v.map { $0 - shift }, as: dtype)
        }
        w.add(TensorRole.tokenEmbedding.huggingFace, shape: [c.vocabSize, c.dim], values: model.weights.tokenEmbedding.toFloats(), as: dtype)
        for (l, lw) in model.weights.layers.enumerated() {
            let pairs = adapter?.layers[l] ?? [:]
            for (role, m, t) in [(TensorRole.wq, lw.wq, LoRATarget.q), (.wk, lw.wk, .k), (.wv, lw.wv, .v), (.wo, lw.wo, .o),
                                 (.wGate, lw.wGate, .gate), (.wUp, lw.wUp, .up), (.wDown, lw.wDown, .down)] {
                w.add(role.huggingFace(layer: l), shape: [m.rows, m.cols], values: merged(m, pairs[t], rank: rank, scale: scale), as: dtype)
            }
            for (role, b) in [(TensorRole.bq, lw.bq), (.bk, lw.bk), (.bv, lw.bv)] {
                if let b { w.add(role.huggingFace(layer: l), shape: [b.count], values: b, as: dtype) }
            }
            norm(.attnNorm, l, lw.attnNorm); norm(.ffnNorm, l, lw.ffnNorm)
            norm(.qNorm, l, lw.qNorm); norm(.kNorm, l, lw.kNorm)
            norm(.postAttnNorm, l, lw.postAttnNorm); norm(.postFfnNorm, l, lw.postFfnNorm)
        }
        norm(.outputNorm, nil, model.weights.outputNorm)
        if !c.tiedEmbeddings {
            w.add(TensorRole.output.huggingFace, shape: [c.vocabSize, c.dim], values: model.weights.output.toFloats(), as: dtype)
        }
        return try w.serialized()
    }

    /// A Hugging Face config.json for a merged model.
    public static func huggingFaceConfig(_ c: LlamaConfig, tokenizer: Tokenizer) throws -> Data {
        try huggingFaceConfig(c, bos: tokenizer.bos, eos: tokenizer.eos)
    }

    /// The same, with the special tokens given (nil: left out).
    public static func huggingFaceConfig(_ c: LlamaConfig, bos: Int?, eos: Int?) throws -> Data {
        let (architecture, modelType) = switch c.architecture {
        case "qwen2": ("Qwen2ForCausalLM", "qwen2")
        case "qwen3": ("Qwen3ForCausalLM", "qwen3")
        case "gemma3": ("Gemma3ForCausalLM", "gemma3_text")
        default: ("LlamaForCausalLM", "llama")
        }
        var j: [String: Any] = [
            "architectures": [architecture], "model_type": modelType,
            "hidden_size": c.dim, "intermediate_size": c.hiddenDim, "num_hidden_layers": c.layers,
            "num_attention_heads": c.heads, "num_key_value_heads": c.kvHeads, "head_dim": c.headDim,
            "vocab_size": c.vocabSize, "max_position_embeddings": c.contextLength, "rope_theta": Double(c.ropeTheta),
            "rms_norm_eps": Double(c.rmsEps), "tie_word_embeddings": c.tiedEmbeddings, "hidden_act": "silu",
            "attention_bias": c.qkvBias, "torch_dtype": "float32",
        ]
        if c.architecture == "gemma3" {
            let scale = c.attentionScale ?? 1 / Float(c.headDim).squareRoot()
            j["hidden_activation"] = "gelu_pytorch_tanh"
            j["query_pre_attn_scalar"] = Double(1 / (scale * scale)).rounded()
            j["sliding_window"] = c.slidingWindow
            j["layer_types"] = (c.slidingLayers ?? []).map { $0 ? "sliding_attention" : "full_attention" }
            j["rope_local_base_freq"] = Double(c.ropeLocalTheta)
            j["final_logit_softcapping"] = NSNull(); j["attn_logit_softcapping"] = NSNull()
            if let f = c.ropeFreqFactors?.first, f != 1 { j["rope_scaling"] = ["rope_type": "linear", "factor": Double(f)] }
        }
        if let bos { j["bos_token_id"] = bos }
        if let eos { j["eos_token_id"] = eos }
        return try JSONSerialization.data(withJSONObject: j, options: [.prettyPrinted, .sortedKeys])
    }
}
