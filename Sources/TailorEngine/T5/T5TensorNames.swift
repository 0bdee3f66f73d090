// The Hugging Face tensor names of a T5 checkpoint, in one table (transformers' modeling_t5 module paths).

enum T5TensorNames {
    static let shared = "shared.weight"
    /// Older checkpoints keep the embedding under the encoder's name only.
    static let sharedFallbacks = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
    static let head = "lm_head.weight"

    /// `stack` is "encoder" or "decoder".
    static func finalNorm(_ stack: String) -> String { "\(stack).final_layer_norm.weight" }
    static func relativeBias(_ stack: String) -> String { "\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight" }

    /// `sublayer`: 0 self-attention, 1 cross-attention (decoder) or feed-forward (encoder), 2 feed-forward (decoder).
    static func norm(_ stack: String, _ layer: Int, _ sublayer: Int) -> String {
        "\(stack).block.\(layer).layer.\(sublayer).layer_norm.weight"
    }
    /// `module` is SelfAttention or EncDecAttention; `projection` q, k, v or o.
    static func attention(_ stack: String, _ layer: Int, _ sublayer: Int, _ module: String, _ projection: String) -> String {
        "\(stack).block.\(layer).layer.\(sublayer).\(module).\(projection).weight"
    }
    /// `projection`: wi, wo (ReLU), or wi_0, wi_1, wo (gated).
    static func feedForward(_ stack: String, _ layer: Int, _ sublayer: Int, _ projection: String) -> String {
        "\(stack).block.\(layer).layer.\(sublayer).DenseReluDense.\(projection).weight"
    }
    /// A projection's module path, the tensor name without ".weight" (PEFT's key for its adapter).
    static func module(_ stack: String, _ layer: Int, _ sublayer: Int, _ module: String, _ projection: String) -> String {
        "\(stack).block.\(layer).layer.\(sublayer).\(module).\(projection)"
    }
}
