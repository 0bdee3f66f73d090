// Tailor's adapter files are Hugging Face PEFT's: `adapter_model.safetensors` (lora_A (r, in), lora_B (out, r) per
// module, f32) and `adapter_config.json`, so every checkpoint loads as is in `peft.PeftModel.from_pretrained`.
import Foundation

public enum PEFTAdapter {
    public static let weightsFile = "adapter_model.safetensors"
    public static let configFile = "adapter_config.json"

    static func moduleKey(layer: Int, target: LoRATarget) -> String {
        let block = [.q, .k, .v, .o].contains(target) ? "self_attn" : "mlp"
        return "base_model.model.model.layers.\(layer).\(block).\(target.moduleName)"
    }

    /// Writes the adapter's two files into `directory` (created if needed), each atomically.
    public static func write(_ adapter: LoRAAdapter, config: LlamaConfig, baseModel: String, dropout: Float,
                             to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        for (l, layer) in adapter.layers.enumerated() {
            for t in LoRATarget.allCases {
                guard let pair = layer[t] else { continue }
                let (o, i) = t.shape(config)
                let key = moduleKey(layer: l, target: t)
                w.add("\(key).lora_A.weight", shape: [adapter.rank, i], values: pair.a)
                w.add("\(key).lora_B.weight", shape: [o, adapter.rank], values: pair.b)
            }
        }
        try writeFileAtomically(try w.serialized(), to: (directory as NSString).appendingPathComponent(weightsFile))
        let cfg: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": baseModel,
            "r": adapter.rank, "lora_alpha": Double(adapter.alpha), "lora_dropout": Double(dropout),
            "target_modules": adapter.targets.map(\.moduleName), "bias": "none", "fan_in_fan_out": false,
            "inference_mode": true, "init_lora_weights": true, "modules_to_save": NSNull(), "use_rslora": false,
            "use_dora": false, "layers_to_transform": NSNull(), "layers_pattern": NSNull(), "rank_pattern": [String: Any](),
            "alpha_pattern": [String: Any](), "revision": NSNull(), "lora_bias": false,
        ]
        let json = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try writeFileAtomically(json, to: (directory as NSString).appendingPathComponent(configFile))
    }

    /// Reads an adapter written by Tailor or by PEFT (f32, f16 or bf16; any subset of the seven projections).
    public static func read(directory: String, config: LlamaConfig) throws -> LoRAAdapter {
        let cfgPath = (directory as NSString).appendingPathComponent(configFile)
        guard let data = FileManager.default.contents(atPath: cfgPath),
              let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError.badFile(path: cfgPath, detail: "missing or not JSON; an adapter directory needs adapter_config.json")
        }
        guard let rank = cfg["r"] as? Int, rank > 0 else { throw LoRAError.badFile(path: cfgPath, detail: "no rank \"r\"") }
        let alpha = Float((cfg["lora_alpha"] as? Double) ?? Double(rank))
        if (cfg["use_dora"] as? Bool) == true || (cfg["use_rslora"] as? Bool) == true {
            throw LoRAError.badFile(path: cfgPath, detail: "DoRA and rsLoRA adapters are not supported; train a plain LoRA adapter")
        }
        let file = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(weightsFile))
        var layers = [[LoRATarget: LoRAPair]](repeating: [:], count: config.layers)
        var targets = Set<LoRATarget>()
        for l in 0..<config.layers {
            for t in LoRATarget.allCases {
                let key = moduleKey(layer: l, target: t)
                // PEFT sometimes writes the adapter name into keys (".lora_A.default.weight"); accept both.
                let aInfo = file.tensors["\(key).lora_A.weight"] ?? file.tensors["\(key).lora_A.default.weight"]
                let bInfo = file.tensors["\(key).lora_B.weight"] ?? file.tensors["\(key).lora_B.default.weight"]
                guard let aInfo, let bInfo else { continue }
                let (o, i) = t.shape(config)
                guard aInfo.shape == [rank, i], bInfo.shape == [o, rank] else {
                    throw LoRAError.mismatch("\(key): lora_A is \(aInfo.shape) and lora_B \(bInfo.shape), expected [\(rank), \(i)] and [\(o), \(rank)]")
                }
                layers[l][t] = LoRAPair(a: try file.weight(aInfo).toFloats(), b: try file.weight(bInfo).toFloats(), rank: rank)
                targets.insert(t)
            }
        }
        guard !targets.isEmpty else {
            throw LoRAError.badFile(path: directory, detail: "no LoRA weights for this model's layers were found")
        }
        let adapter = LoRAAdapter(rank: rank, alpha: alpha, targets: LoRATarget.allCases.filter(targets.contains), layers: layers)
        try adapter.validate(for: config)
        return adapter
    }
}
