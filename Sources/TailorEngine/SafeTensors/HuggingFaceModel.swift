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
        let arch = (j["model_type"] as? String) ?? "llama"
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
        return LlamaConfig(
            architecture: arch, vocabSize: try int("vocab_size"), dim: dim, hiddenDim: try int("intermediate_size"),
            layers: try int("num_hidden_layers"), heads: heads, kvHeads: (j["num_key_value_heads"] as? Int) ?? heads,
            headDim: headDim, contextLength: (j["max_position_embeddings"] as? Int) ?? 2048, ropeTheta: theta,
            rmsEps: Float((j["rms_norm_eps"] as? Double) ?? 1e-6),
            tiedEmbeddings: (j["tie_word_embeddings"] as? Bool) ?? false,
            qkvBias: arch == "qwen2" || ((j["attention_bias"] as? Bool) ?? false),
            ropeFreqFactors: factors)
    }

    static func weights(directory: String, config: LlamaConfig) throws -> LlamaWeights {
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
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
