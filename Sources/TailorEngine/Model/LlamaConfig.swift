// The hyper-parameters of a Llama-family model (Llama 2/3, Mistral, SmolLM, TinyLlama, Qwen2), read from GGUF
// metadata or a Hugging Face config.json. Shapes elsewhere are written with these short names.
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

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }
    public var groupSize: Int { heads / kvHeads }

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
    static let supportedArchitectures: Set<String> = ["llama", "mistral", "qwen2", "smollm"]
}
