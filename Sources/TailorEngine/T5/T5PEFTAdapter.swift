// A T5 adapter as Hugging Face PEFT keeps it for T5ForConditionalGeneration (task SEQ_2_SEQ_LM):
// adapter_model.safetensors with `base_model.model.<module path>.lora_A.weight` (r, in) and `.lora_B.weight`
// (out, r) in f32, and adapter_config.json naming T5's module names (q, k, v, o, wi or wi_0/wi_1, wo), so that
// `PeftModel.from_pretrained(T5ForConditionalGeneration…, dir)` loads it as is. The decoder's files are PEFTAdapter's.
import Foundation

public enum T5PEFTAdapter {
    static func key(_ module: String) -> String { "base_model.model.\(module)" }

    /// Writes the adapter's two files into `directory` (created if needed), each atomically.
    public static func write(_ lora: T5LoRAParameters, baseModel: String, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        let r = lora.config.rank
        for s in lora.slots {
            let (a, b) = lora.pair(s)
            w.add("\(key(s.module)).lora_A.weight", shape: [r, s.inFeatures], values: a)
            w.add("\(key(s.module)).lora_B.weight", shape: [s.outFeatures, r], values: b)
        }
        try writeFileAtomically(try w.serialized(), to: (directory as NSString).appendingPathComponent(PEFTAdapter.weightsFile))
        let cfg: [String: Any] = [
            "peft_type": "LORA", "task_type": "SEQ_2_SEQ_LM", "base_model_name_or_path": baseModel,
            "r": r, "lora_alpha": Double(lora.config.alpha), "lora_dropout": Double(lora.config.dropout),
            "target_modules": T5LoRAParameters.moduleNames(lora.config.targets, config: lora.modelConfig),
            "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
            "modules_to_save": NSNull(), "use_rslora": false, "use_dora": false, "layers_to_transform": NSNull(),
            "layers_pattern": NSNull(), "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](),
            "revision": NSNull(), "lora_bias": false,
        ]
        let json = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try writeFileAtomically(json, to: (directory as NSString).appendingPathComponent(PEFTAdapter.configFile))
    }

    /// Loads an adapter written by Tailor or by PEFT (f32, f16 or bf16) into `lora`, whose rank and alpha it must
    /// have; every slot of `lora` must be in the file (a module the run does not adapt may not be).
    public static func load(into lora: T5LoRAParameters, directory: String) throws {
        let cfgPath = (directory as NSString).appendingPathComponent(PEFTAdapter.configFile)
        guard let data = FileManager.default.contents(atPath: cfgPath),
              let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError.badFile(path: cfgPath, detail: "missing or not JSON; an adapter directory needs adapter_config.json")
        }
        let rank = cfg["r"] as? Int ?? 0
        let alpha = Float((cfg["lora_alpha"] as? Double) ?? Double(rank))
        guard rank == lora.config.rank, alpha == lora.config.alpha else {
            throw LoRAError.mismatch("the adapter has rank \(rank) and alpha \(alpha), the run rank \(lora.config.rank) and alpha \(lora.config.alpha)")
        }
        if (cfg["use_dora"] as? Bool) == true || (cfg["use_rslora"] as? Bool) == true {
            throw LoRAError.badFile(path: cfgPath, detail: "DoRA and rsLoRA adapters are not supported; train a plain LoRA adapter")
        }
        let file = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(PEFTAdapter.weightsFile))
        for s in lora.slots {
            let k = key(s.module)
            // PEFT sometimes writes the adapter name into keys (".lora_A.default.weight"); accept both.
            guard let aInfo = file.tensors["\(k).lora_A.weight"] ?? file.tensors["\(k).lora_A.default.weight"],
                  let bInfo = file.tensors["\(k).lora_B.weight"] ?? file.tensors["\(k).lora_B.default.weight"] else {
                throw LoRAError.mismatch("\(s.module) has no adapter in \(directory)")
            }
            guard aInfo.shape == [rank, s.inFeatures], bInfo.shape == [s.outFeatures, rank] else {
                throw LoRAError.mismatch("\(k): lora_A is \(aInfo.shape) and lora_B \(bInfo.shape), expected [\(rank), \(s.inFeatures)] and [\(s.outFeatures), \(rank)]")
            }
            let a = try file.weight(aInfo).toFloats(), b = try file.weight(bInfo).toFloats()
            (lora.values + s.aOffset).update(from: a, count: a.count)
            (lora.values + s.bOffset).update(from: b, count: b.count)
        }
    }
}
