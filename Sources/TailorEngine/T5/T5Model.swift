// A T5-family encoder–decoder (T5, Flan-T5, mT5 layouts) loaded from a Hugging Face directory: config.json,
// safetensors weights (f32 in memory, products through Blas), and tokenizer.json or spiece.model (Unigram).
// Encode (T5Encoder.swift), decode over a cache (T5Decoder.swift), generate (T5Generation.swift), and LoRA or full
// training (T5TrainingModel.swift: forward keeping T5Activations, backward beside each forward in T5Layers.swift and
// Ops/; T5FullParameters.swift: every weight in flat buffers; T5Trainer.swift: the loop). It is a second model type
// beside the Llama-family Transformer, not a branch inside it.
//
// Not built yet:
// - Batched serving. The server (TailorJobs' EncoderDecoderBatch) decodes each choice over its own cache in turn;
//   a batch of requests could share decode calls once the decoder takes rows of several caches, as
//   InferenceContext does. A fine-tuned model is served merged (T5MergedAdapter.swift), one weight copy each.
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
