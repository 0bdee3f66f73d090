// Reads a Hugging Face model directory: config.json for the configuration, safetensors for the weights.
// The tokenizer (tokenizer.json) and chat template (tokenizer_config.json) are read by Vocab and ModelLoader.
import Foundation

enum HuggingFaceModel {
    static func config(directory: String) throws -> LlamaConfig {
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError.cannotOpen(path: path, reason: "missing; a Hugging Face model directory needs config.json")
        }
        guard let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFileError.badFormat(path: path, detail: "not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let v = j[key] as? Int else { throw ModelFileError.missingMetadata(path: path, key: key) }
            return v
        }
        var arch = (j["model_type"] as? String) ?? "llama"
        if arch == "gemma3_text" { arch = "gemma3" }   // Gemma3ForCausalLM's config (the text decoder alone)
        guard arch != "gemma3" || j["text_config"] == nil else {
            throw ModelFileError.badFormat(path: path, detail: "a Gemma 3 vision-language checkpoint; Tailor runs the text decoder alone (Gemma3ForCausalLM, model_type gemma3_text)")
        }
        guard LlamaConfig.supportedArchitectures.contains(arch) else {
            throw ModelFileError.unsupportedArchitecture(path: path, architecture: arch)
        }
        let dim = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0 else { throw ModelFileError.badFormat(path: path, detail: "num_attention_heads is \(heads); it must be positive") }
        let headDim = (j["head_dim"] as? Int) ?? dim / heads
        let theta = Float((j["rope_theta"] as? Double) ?? 10000)
        var factors: [Float]? = nil
        if let rs = j["rope_scaling"] as? [String: Any], (rs["rope_type"] as? String ?? rs["type"] as? String) == "llama3" {
            factors = LlamaConfig.llama3FreqFactors(
                headDim: headDim, theta: theta, factor: Float(rs["factor"] as? Double ?? 8),
                lowFreqFactor: Float(rs["low_freq_factor"] as? Double ?? 1),
                highFreqFactor: Float(rs["high_freq_factor"] as? Double ?? 4),
                originalContext: rs["original_max_position_embeddings"] as? Int ?? 8192)
        }
        let gemma = arch == "gemma3"
        var c = LlamaConfig(
            architecture: arch, vocabSize: try int("vocab_size"), dim: dim, hiddenDim: try int("intermediate_size"),
            layers: try int("num_hidden_layers"), heads: heads, kvHeads: (j["num_key_value_heads"] as? Int) ?? heads,
            headDim: headDim, contextLength: (j["max_position_embeddings"] as? Int) ?? 2048, ropeTheta: theta,
            rmsEps: Float((j["rms_norm_eps"] as? Double) ?? 1e-6),
            tiedEmbeddings: (j["tie_word_embeddings"] as? Bool) ?? gemma,
            qkvBias: arch == "qwen2" || ((j["attention_bias"] as? Bool) ?? false),
            ropeFreqFactors: factors)
        c.qkNorm = LlamaConfig.qkNormArchitectures.contains(arch)
        if gemma { try readGemma3(j, path: path, into: &c) }
        return c
    }

    /// Gemma 3's additions to the Llama block (transformers' Gemma3TextConfig).
    private static func readGemma3(_ j: [String: Any], path: String, into c: inout LlamaConfig) throws {
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] where j[key] != nil && !(j[key] is NSNull) {
            throw ModelFileError.badFormat(path: path, detail: "\(key) is set; Tailor runs Gemma 3 without logit soft-capping")
        }
        if let act = j["hidden_activation"] as? String, act != "gelu_pytorch_tanh" {
            throw ModelFileError.badFormat(path: path, detail: "hidden_activation \(act); Tailor's Gemma 3 feed-forward is gelu_pytorch_tanh")
        }
        c.postNorms = true
        c.activation = .geluTanh
        c.embeddingScale = Float(c.dim).squareRoot()
        let scalar = (j["query_pre_attn_scalar"] as? Double) ?? Double(c.headDim)
        guard scalar > 0 else { throw ModelFileError.badFormat(path: path, detail: "query_pre_attn_scalar is \(scalar); it must be positive") }
        c.attentionScale = 1 / Float(scalar).squareRoot()
        c.ropeLocalTheta = Float((j["rope_local_base_freq"] as? Double) ?? 10000)
        c.slidingWindow = (j["sliding_window"] as? Int) ?? 4096
        guard c.slidingWindow > 0 else {
            throw ModelFileError.badFormat(path: path, detail: "sliding_window is \(c.slidingWindow); it must be positive")
        }
        if let types = j["layer_types"] as? [String], types.count == c.layers {
            c.slidingLayers = types.map { $0 == "sliding_attention" }
        } else {
            c.slidingLayers = LlamaConfig.slidingPattern(layers: c.layers, pattern: (j["sliding_window_pattern"] as? Int) ?? 6)
        }
        // Larger Gemma 3 models stretch the global layers' rotation linearly.
        if let rs = j["rope_scaling"] as? [String: Any], (rs["rope_type"] as? String ?? rs["type"] as? String) == "linear" {
            c.ropeFreqFactors = [Float](repeating: Float(rs["factor"] as? Double ?? 1), count: c.headDim / 2)
        }
    }

    static func weights(directory: String, config: LlamaConfig) throws -> LlamaWeights {
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        checkpoint.architecture = config.architecture
        var config = config
        // Some checkpoints declare tied embeddings but still ship lm_head; others omit the flag. Trust the file.
        if !checkpoint.has(TensorRole.output.huggingFace) { config.tiedEmbeddings = true }
        return try WeightsBuilder.build(checkpoint, config: config)
    }

    static func chatTemplate(directory: String) -> String? {
        let path = (directory as NSString).appendingPathComponent("tokenizer_config.json")
        guard let data = FileManager.default.contents(atPath: path),
              let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        if let s = j["chat_template"] as? String { return s }
        // Newer files keep a list of named templates; the one named "default" is the chat template.
        if let list = j["chat_template"] as? [[String: Any]] {
            return list.first { ($0["name"] as? String) == "default" }?["template"] as? String
        }
        let jinja = (directory as NSString).appendingPathComponent("chat_template.jinja")
        return try? String(contentsOfFile: jinja, encoding: .utf8)
    }
}
