// The shape of a T5-family encoder–decoder (T5, Flan-T5, mT5) as a Hugging Face config.json gives it. UMT5, which
// keeps a position bias per layer, is refused by name.
import Foundation

public struct T5Config: Sendable, Equatable {
    public enum Activation: String, Sendable { case relu, gelu, geluNew = "gelu_new", silu }

    public var vocabSize: Int          // V
    public var dim: Int                // C (d_model)
    public var headDim: Int            // HD (d_kv)
    public var hiddenDim: Int          // FF (d_ff)
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var heads: Int              // NH
    public var buckets: Int            // relative_attention_num_buckets
    public var maxDistance: Int        // relative_attention_max_distance
    public var eps: Float
    public var activation: Activation
    /// Gated feed-forward (`gated-gelu`: act(x·wi_0ᵀ) ⊙ x·wi_1ᵀ) rather than act(x·wiᵀ).
    public var gated: Bool
    /// The head shares the embedding, and the decoder output is scaled by C^-½ before it (T5's rule).
    public var tiedEmbeddings: Bool
    public var decoderStartToken: Int
    public var eos: Int
    public var padding: Int

    public var inner: Int { heads * headDim }

    /// Weights in the checkpoint: embedding (and an untied head), every block's projections and norms, the two
    /// position-bias tables and final norms.
    public var parameterCount: Int {
        let ffn = hiddenDim * dim * (gated ? 3 : 2)
        let encoder = encoderLayers * (4 * inner * dim + ffn + 2 * dim)
        let decoder = decoderLayers * (8 * inner * dim + ffn + 3 * dim)
        return vocabSize * dim * (tiedEmbeddings ? 1 : 2) + encoder + decoder + 2 * buckets * heads + 2 * dim
    }

    public static let supportedArchitectures = ["t5", "mt5"]

    public init(vocabSize: Int, dim: Int, headDim: Int, hiddenDim: Int, encoderLayers: Int, decoderLayers: Int,
                heads: Int, buckets: Int = 32, maxDistance: Int = 128, eps: Float = 1e-6, activation: Activation = .relu,
                gated: Bool = false, tiedEmbeddings: Bool = true, decoderStartToken: Int = 0, eos: Int = 1, padding: Int = 0) {
        self.vocabSize = vocabSize; self.dim = dim; self.headDim = headDim; self.hiddenDim = hiddenDim
        self.encoderLayers = encoderLayers; self.decoderLayers = decoderLayers; self.heads = heads
        self.buckets = buckets; self.maxDistance = maxDistance; self.eps = eps; self.activation = activation
        self.gated = gated; self.tiedEmbeddings = tiedEmbeddings; self.decoderStartToken = decoderStartToken
        self.eos = eos; self.padding = padding
    }

    /// Whether `path` is a Hugging Face directory of a T5-family model (config.json's model_type is t5 or mt5).
    public static func describes(directory path: String) -> Bool {
        let config = (path as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: config),
              let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let type = j["model_type"] as? String else { return false }
        return supportedArchitectures.contains(type)
    }

    /// Reads `config.json` of a Hugging Face T5 directory, with transformers' T5Config defaults.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError.cannotOpen(path: path, reason: "missing; a Hugging Face T5 directory needs config.json")
        }
        guard let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFileError.badFormat(path: path, detail: "not a JSON object")
        }
        let arch = j["model_type"] as? String ?? "t5"
        guard Self.supportedArchitectures.contains(arch) else {
            throw ModelFileError.unsupportedArchitecture(path: path, architecture: arch)
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = (j[key] as? NSNumber)?.intValue { return v }
            if let fallback { return fallback }
            throw ModelFileError.missingMetadata(path: path, key: key)
        }
        // transformers: "gated-gelu" means the tanh approximation (gelu_new); otherwise the name after "gated-".
        let proj = j["feed_forward_proj"] as? String ?? "relu"
        let parts = proj.split(separator: "-").map(String.init)
        let gated = parts.count == 2 && parts[0] == "gated"
        guard parts.count == 1 || gated else {
            throw ModelFileError.badFormat(path: path, detail: "feed_forward_proj \(proj) is not `act` or `gated-act`")
        }
        let name = proj == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]
        guard let activation = Activation(rawValue: name) else {
            throw ModelFileError.badFormat(path: path, detail: "feed_forward_proj \(proj): the activation \(name) is not one of relu, gelu, gelu_new, silu")
        }
        let layers = try int("num_layers")
        self.init(vocabSize: try int("vocab_size"), dim: try int("d_model"), headDim: try int("d_kv"),
                  hiddenDim: try int("d_ff"), encoderLayers: layers, decoderLayers: try int("num_decoder_layers", layers),
                  heads: try int("num_heads"), buckets: try int("relative_attention_num_buckets", 32),
                  maxDistance: try int("relative_attention_max_distance", 128),
                  eps: Float((j["layer_norm_epsilon"] as? NSNumber)?.doubleValue ?? 1e-6), activation: activation,
                  gated: gated, tiedEmbeddings: j["tie_word_embeddings"] as? Bool ?? true,
                  decoderStartToken: try int("decoder_start_token_id", 0), eos: try int("eos_token_id", 1),
                  padding: try int("pad_token_id", 0))
        guard dim > 0, heads > 0, headDim > 0, hiddenDim > 0, vocabSize > 0, buckets >= 2, maxDistance > buckets / 2 else {
            throw ModelFileError.badFormat(path: path, detail: "a T5 dimension is not positive (d_model \(dim), num_heads \(heads), d_kv \(headDim), d_ff \(hiddenDim), vocab_size \(vocabSize), buckets \(buckets), max distance \(maxDistance))")
        }
    }
}
