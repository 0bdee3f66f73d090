// The hyper-parameters of a Llama-family decoder (Llama 2/3, Mistral, SmolLM, TinyLlama, Qwen 2 and 3, Gemma 3), read
// from GGUF metadata or a Hugging Face config.json. Shapes elsewhere are written with these short names. The fields
// after ropeFreqFactors describe what Qwen 3 and Gemma 3 add to the Llama block; their defaults are Llama's.
import Foundation

public struct LlamaConfig: Sendable, Equatable, Codable {
    public var architecture: String      // "llama", "qwen2", ... as the file names it
    public var vocabSize: Int            // V
    public var dim: Int                  // C: embedding width
    public var hiddenDim: Int            // FF: SwiGLU width
    public var layers: Int               // L
    public var heads: Int                // NH
    public var kvHeads: Int              // NKV (grouped-query attention when < NH)
    public var headDim: Int              // HD
    public var contextLength: Int
    public var ropeTheta: Float
    public var rmsEps: Float
    public var tiedEmbeddings: Bool      // output projection shares token_embd
    public var qkvBias: Bool             // Qwen2 has biases on q, k, v
    /// Per-frequency divisors of the rotary angles (Llama 3 rope scaling); nil means all ones.
    public var ropeFreqFactors: [Float]?

    /// Qwen 3, Gemma 3: an RMSNorm over each head of q and of k (weights (HD)) before the rotation.
    public var qkNorm = false
    /// Gemma 3: RMSNorms on the attention's and the feed-forward's outputs before they join the residual stream.
    public var postNorms = false
    /// The feed-forward's gate: SwiGLU (silu) or Gemma's GeGLU (gelu, tanh approximation).
    public var activation = FeedForwardActivation.silu
    /// Gemma 3 scales the token embeddings by sqrt(C).
    public var embeddingScale: Float = 1
    /// The attention's query scale; nil is 1/sqrt(HD) (Gemma 3: query_pre_attn_scalar^-½).
    public var attentionScale: Float?
    /// Gemma 3: layers whose attention sees only the last `slidingWindow` positions (the query's own included),
    /// rotated with base `ropeLocalTheta`. nil: every layer is global.
    public var slidingLayers: [Bool]?
    public var slidingWindow = 0
    public var ropeLocalTheta: Float = 10000

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }
    public var groupSize: Int { heads / kvHeads }

    /// The attention window of layer `l`: nil on global layers.
    public func window(layer l: Int) -> Int? { slidingLayers?[l] == true ? slidingWindow : nil }

    public init(architecture: String, vocabSize: Int, dim: Int, hiddenDim: Int, layers: Int, heads: Int, kvHeads: Int,
                headDim: Int, contextLength: Int, ropeTheta: Float, rmsEps: Float, tiedEmbeddings: Bool,
                qkvBias: Bool, ropeFreqFactors: [Float]? = nil) {
        self.architecture = architecture; self.vocabSize = vocabSize; self.dim = dim; self.hiddenDim = hiddenDim
        self.layers = layers; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.contextLength = contextLength; self.ropeTheta = ropeTheta; self.rmsEps = rmsEps
        self.tiedEmbeddings = tiedEmbeddings; self.qkvBias = qkvBias; self.ropeFreqFactors = ropeFreqFactors
    }

    /// Llama 3's "llama3" rope scaling (transformers `_compute_llama3_parameters`) as per-frequency divisors.
    public static func llama3FreqFactors(headDim: Int, theta: Float, factor: Float, lowFreqFactor: Float,
                                         highFreqFactor: Float, originalContext: Int) -> [Float] {
        let lowWavelen = Float(originalContext) / lowFreqFactor
        let highWavelen = Float(originalContext) / highFreqFactor
        return (0..<headDim / 2).map { i in
            let freq = 1 / Float(pow(Double(theta), Double(2 * i) / Double(headDim)))
            let wavelen = 2 * Float.pi / freq
            if wavelen < highWavelen { return 1 }
            if wavelen > lowWavelen { return factor }
            let smooth = (Float(originalContext) / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
            // scaled freq = (1 - smooth) * freq / factor + smooth * freq; as a divisor of freq:
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }

    /// Architectures whose GGUF q/k weights llama.cpp's converter permuted for its interleaved rotary layout.
    static let ggufPermutesQK: Set<String> = ["llama", "mistral", "smollm"]
    static let qkNormArchitectures: Set<String> = ["qwen3", "gemma3"]
    static let supportedArchitectures: Set<String> = ["llama", "mistral", "qwen2", "qwen3", "smollm", "gemma3"]
    /// Sorted, for error messages.
    public static var supportedArchitectureList: String { supportedArchitectures.sorted().joined(separator: ", ") }

    /// Gemma 3's layer pattern: every `pattern`-th layer is global, the others slide (transformers' layer_types,
    /// llama.cpp's set_swa_pattern).
    static func slidingPattern(layers: Int, pattern: Int) -> [Bool] {
        (0..<layers).map { pattern > 0 && ($0 + 1) % pattern != 0 }
    }
}

public enum FeedForwardActivation: String, Sendable, Codable { case silu, geluTanh }
