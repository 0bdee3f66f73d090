// A T5-family encoder–decoder (T5, Flan-T5, mT5 layouts) loaded from a Hugging Face directory: config.json,
// safetensors weights (f32 in memory, products through Blas), and tokenizer.json or spiece.model (Unigram).
// Inference only so far: encode (T5Encoder.swift), decode over a cache (T5Decoder.swift), generate
// (T5Generation.swift). It is a second model type beside the Llama-family Transformer, not a branch inside it.
//
// How training and serving will plug in (not built yet):
// - Backward. Each forward function here gets its backward beside it, as Ops/ does for the decoder: the
//   attention (no scaling, additive bias: dS flows into the bias table through the same bucket map when the
//   table is trained), the ReLU/gated feed-forward, RMSNorm (rmsnormBackward as is). Training runs the encoder
//   on the padded-free source and the decoder teacher-forced on decoder_start + target[:-1] in one call
//   (decode(allLogits:) with a fresh cache is already that forward); the loss is cross-entropy on the target
//   (Ops/CrossEntropy.swift), and the encoder receives the cross-attention's dK/dV summed over layers. Activations
//   to keep (normed inputs, rstd, attention probabilities) go in one T5Activations struct sized by one function.
// - LoRA. Adapters keyed by the base tensor name (T5TensorNames: q/k/v/o of SelfAttention and EncDecAttention,
//   wi/wi_0/wi_1/wo) through Ops/LoRALinear.swift at each t5Linear call; the base stays shared and read-only.
//   Full fine-tuning trains T5Weights itself, so its arrays are the parameter views AdamW steps.
// - Serving. `/v1/completions` tokenizes the prompt as the source (EOS added), encodes once, and streams
//   generate's tokens through TextStream; `/v1/chat/completions` renders messages to one source text by a
//   documented rule. The generation thread owns T5DecoderCache values as it owns KV caches today; a batch of
//   requests shares decode calls once the decoder takes rows of several caches, as InferenceContext does.
import Foundation

public final class T5Model: @unchecked Sendable {
    // Sendable: config, weights and tokenizer are immutable after init; caches are owned by their callers.
    public let config: T5Config
    public let weights: T5Weights
    public let tokenizer: Tokenizer

    public init(config: T5Config, weights: T5Weights, tokenizer: Tokenizer) {
        self.config = config
        self.weights = weights
        self.tokenizer = tokenizer
    }

    /// Loads a Hugging Face T5 directory. The tokenizer is tokenizer.json when present (as AutoTokenizer picks the
    /// fast one), else spiece.model with tokenizer_config.json's `extra_ids` sentinels (100 by default, as T5's).
    public convenience init(directory: String) throws {
        let config = try T5Config(directory: directory)
        let weights = try T5Weights.load(try SafeTensorsCheckpoint(directory: directory), config: config)
        let fm = FileManager.default
        let tokenizer: Tokenizer
        if fm.fileExists(atPath: (directory as NSString).appendingPathComponent("tokenizer.json")) {
            tokenizer = try Tokenizer(huggingFaceDirectory: directory)
        } else {
            let spiece = (directory as NSString).appendingPathComponent("spiece.model")
            let tokenizerConfig = (directory as NSString).appendingPathComponent("tokenizer_config.json")
            let extra = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tokenizerConfig))))
                .flatMap { ($0 as? [String: Any])?["extra_ids"] as? Int } ?? 100
            tokenizer = try Tokenizer(sentencePieceModel: spiece, extraIDs: extra)
        }
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw ModelFileError.badFormat(path: directory, detail: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(config.vocabSize); use the tokenizer files that came with the model")
        }
        self.init(config: config, weights: weights, tokenizer: tokenizer)
    }
}
