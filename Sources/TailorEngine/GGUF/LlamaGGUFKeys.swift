// The `{arch}.*` metadata keys of a Llama-family GGUF (llama, qwen2, qwen3, gemma3): one spelling for the reader
// (GGUFModel.llamaConfig) and the writer (HuggingFaceGGUFMetadata), so the two cannot drift apart.
struct LlamaGGUFKeys {
    let arch: String

    var vocabSize: String { "\(arch).vocab_size" }
    var contextLength: String { "\(arch).context_length" }
    var embeddingLength: String { "\(arch).embedding_length" }
    var blockCount: String { "\(arch).block_count" }
    var feedForwardLength: String { "\(arch).feed_forward_length" }
    var headCount: String { "\(arch).attention.head_count" }
    var headCountKV: String { "\(arch).attention.head_count_kv" }
    var keyLength: String { "\(arch).attention.key_length" }
    var valueLength: String { "\(arch).attention.value_length" }
    var ropeDimensionCount: String { "\(arch).rope.dimension_count" }
    var ropeFreqBase: String { "\(arch).rope.freq_base" }
    var rmsEpsilon: String { "\(arch).attention.layer_norm_rms_epsilon" }
    var slidingWindow: String { "\(arch).attention.sliding_window" }
    var ropeScalingType: String { "\(arch).rope.scaling.type" }
    var ropeScalingFactor: String { "\(arch).rope.scaling.factor" }
}
