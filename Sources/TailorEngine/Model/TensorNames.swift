// Tensor names per file format, in one table (after llama.cpp's llama-arch.cpp). `%d` is the layer index.
// Logical names follow GGUF's; the Hugging Face column is what transformers and PEFT write.
import Foundation

enum TensorRole: String, CaseIterable, Sendable {
    case tokenEmbedding, outputNorm, output
    case attnNorm, wq, wk, wv, wo, bq, bk, bv, ffnNorm, wGate, wUp, wDown
    case qNorm, kNorm, postAttnNorm, postFfnNorm     // Qwen 3 and Gemma 3
    case ropeFreqs

    var isPerLayer: Bool {
        switch self {
        case .tokenEmbedding, .outputNorm, .output, .ropeFreqs: return false
        default: return true
        }
    }

    var gguf: String {
        switch self {
        case .tokenEmbedding: "token_embd.weight"; case .outputNorm: "output_norm.weight"; case .output: "output.weight"
        case .ropeFreqs: "rope_freqs.weight"
        case .attnNorm: "blk.%d.attn_norm.weight"; case .ffnNorm: "blk.%d.ffn_norm.weight"
        case .wq: "blk.%d.attn_q.weight"; case .wk: "blk.%d.attn_k.weight"; case .wv: "blk.%d.attn_v.weight"
        case .wo: "blk.%d.attn_output.weight"
        case .bq: "blk.%d.attn_q.bias"; case .bk: "blk.%d.attn_k.bias"; case .bv: "blk.%d.attn_v.bias"
        case .wGate: "blk.%d.ffn_gate.weight"; case .wUp: "blk.%d.ffn_up.weight"; case .wDown: "blk.%d.ffn_down.weight"
        case .qNorm: "blk.%d.attn_q_norm.weight"; case .kNorm: "blk.%d.attn_k_norm.weight"
        case .postAttnNorm: "blk.%d.post_attention_norm.weight"; case .postFfnNorm: "blk.%d.post_ffw_norm.weight"
        }
    }

    var huggingFace: String {
        switch self {
        case .tokenEmbedding: "model.embed_tokens.weight"; case .outputNorm: "model.norm.weight"; case .output: "lm_head.weight"
        case .ropeFreqs: "rope_freqs.weight"
        case .attnNorm: "model.layers.%d.input_layernorm.weight"
        case .ffnNorm: "model.layers.%d.post_attention_layernorm.weight"
        case .wq: "model.layers.%d.self_attn.q_proj.weight"; case .wk: "model.layers.%d.self_attn.k_proj.weight"
        case .wv: "model.layers.%d.self_attn.v_proj.weight"; case .wo: "model.layers.%d.self_attn.o_proj.weight"
        case .bq: "model.layers.%d.self_attn.q_proj.bias"; case .bk: "model.layers.%d.self_attn.k_proj.bias"
        case .bv: "model.layers.%d.self_attn.v_proj.bias"
        case .wGate: "model.layers.%d.mlp.gate_proj.weight"; case .wUp: "model.layers.%d.mlp.up_proj.weight"
        case .wDown: "model.layers.%d.mlp.down_proj.weight"
        case .qNorm: "model.layers.%d.self_attn.q_norm.weight"; case .kNorm: "model.layers.%d.self_attn.k_norm.weight"
        case .postAttnNorm: "model.layers.%d.post_attention_layernorm.weight"
        case .postFfnNorm: "model.layers.%d.post_feedforward_layernorm.weight"
        }
    }

    /// Gemma 3 names its feed-forward's input norm pre_feedforward_layernorm (post_attention_layernorm is the norm
    /// on the attention's output there).
    func huggingFace(architecture: String) -> String {
        architecture == "gemma3" && self == .ffnNorm ? "model.layers.%d.pre_feedforward_layernorm.weight" : huggingFace
    }

    func gguf(layer: Int) -> String { gguf.replacingOccurrences(of: "%d", with: String(layer)) }
    func huggingFace(layer: Int, architecture: String = "llama") -> String {
        huggingFace(architecture: architecture).replacingOccurrences(of: "%d", with: String(layer))
    }
}
