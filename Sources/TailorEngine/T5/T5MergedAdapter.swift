// Serving a T5 LoRA adapter: the adapter folded into a copy of the base weights, W + (alpha / r)·B·A for every
// adapted projection, as PEFT's `merge_and_unload()` does. Not LoRA at the matmul, as decoders are served: T5's
// encode and decode take no adapter yet, and a merged model runs at the base's speed. It costs one copy of the
// weights per fine-tuned model served (the registry keeps a few); adapter rows in T5Decoder would remove that.
import Foundation

extension T5Model {
    /// The LoRA settings an adapter directory's adapter_config.json names: rank, alpha and T5's module names mapped
    /// to LoRA targets (wi_0 gate, wi_1 up, wi gate and up, wo down).
    public static func adapterConfig(directory: String, dropout: Float = 0) throws -> LoRAConfig {
        let path = (directory as NSString).appendingPathComponent(PEFTAdapter.configFile)
        guard let data = FileManager.default.contents(atPath: path),
              let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError.badFile(path: path, detail: "missing or not JSON; an adapter directory needs adapter_config.json")
        }
        guard let rank = cfg["r"] as? Int, rank > 0 else { throw LoRAError.badFile(path: path, detail: "no rank \"r\"") }
        guard let modules = cfg["target_modules"] as? [String] else {
            throw LoRAError.badFile(path: path, detail: "\"target_modules\" must be a list of T5 module names (q, k, v, o, wi, wi_0, wi_1, wo)")
        }
        var targets: [LoRATarget] = []
        for m in modules {
            let mapped: [LoRATarget]
            switch m {
            case "q", "k", "v", "o": mapped = [LoRATarget(rawValue: m)!]
            case "wi_0": mapped = [.gate]
            case "wi_1": mapped = [.up]
            case "wi": mapped = [.gate, .up]
            case "wo": mapped = [.down]
            default: throw LoRAError.badFile(path: path, detail: "\(m) is not a T5 projection (q, k, v, o, wi, wi_0, wi_1, wo)")
            }
            for t in mapped where !targets.contains(t) { targets.append(t) }
        }
        let alpha = Float((cfg["lora_alpha"] as? NSNumber)?.doubleValue ?? Double(rank))
        return LoRAConfig(rank: rank, alpha: alpha, dropout: dropout, targets: LoRATarget.allCases.filter(targets.contains))
    }

    /// This model with the PEFT adapter in `directory` merged into its weights; tokenizer and config are shared.
    public func merging(adapterDirectory directory: String) throws -> T5Model {
        let lora = T5LoRAParameters(config: try Self.adapterConfig(directory: directory), model: config)
        try T5PEFTAdapter.load(into: lora, directory: directory)
        return merging(lora)
    }

    /// This model with `lora`'s adapters merged into its weights.
    public func merging(_ lora: T5LoRAParameters) -> T5Model {
        var w = weights
        let scale = lora.config.scale, r = lora.config.rank
        /// W (out, in) += scale · B (out, r) · A (r, in), when `module` is adapted.
        func merge(_ weight: inout [Float], _ module: String) {
            guard let s = lora.slot(module) else { return }
            let (a, b) = lora.pair(s)
            for o in 0..<s.outFeatures {
                for k in 0..<r {
                    let bk = scale * b[o * r + k]
                    guard bk != 0 else { continue }
                    for i in 0..<s.inFeatures { weight[o * s.inFeatures + i] += bk * a[k * s.inFeatures + i] }
                }
            }
        }
        func attention(_ x: inout T5AttentionWeights, _ stack: String, _ l: Int, _ sub: Int, _ name: String) {
            merge(&x.wq, T5TensorNames.module(stack, l, sub, name, "q"))
            merge(&x.wk, T5TensorNames.module(stack, l, sub, name, "k"))
            merge(&x.wv, T5TensorNames.module(stack, l, sub, name, "v"))
            merge(&x.wo, T5TensorNames.module(stack, l, sub, name, "o"))
        }
        func feedForward(_ x: inout T5FeedForwardWeights, _ stack: String, _ l: Int, _ sub: Int) {
            let path = { T5TensorNames.module(stack, l, sub, "DenseReluDense", $0) }
            if x.wiLinear != nil {
                merge(&x.wi, path("wi_0"))
                merge(&x.wiLinear!, path("wi_1"))
            } else {
                merge(&x.wi, path("wi"))
            }
            merge(&x.wo, path("wo"))
        }
        for l in w.encoder.indices {
            attention(&w.encoder[l].attn, "encoder", l, 0, "SelfAttention")
            feedForward(&w.encoder[l].ffn, "encoder", l, 1)
        }
        for l in w.decoder.indices {
            attention(&w.decoder[l].attn, "decoder", l, 0, "SelfAttention")
            attention(&w.decoder[l].cross, "decoder", l, 1, "EncDecAttention")
            feedForward(&w.decoder[l].ffn, "decoder", l, 2)
        }
        return T5Model(config: config, weights: w, tokenizer: tokenizer)
    }
}
