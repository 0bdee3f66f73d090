// A T5 model written as a Hugging Face T5 directory — what `tailor export` gives for a T5 base: a LoRA adapter merged
// into the weights (T5MergedAdapter.swift), or a full fine-tuning checkpoint without its optimizer state. The tensors
// carry transformers' names in checkpoint order (T5Weights.map), the layout T5FullParameters writes for a checkpoint,
// so `T5ForConditionalGeneration.from_pretrained` loads either.
import Foundation

extension T5Model {
    /// Writes `model.safetensors` (f32, or `dtype`) and `companions` (config.json and the tokenizer's files, by name)
    /// into `directory`, creating it. A tied head is written once, as the shared embedding.
    public func writeHuggingFace(to directory: String, companions: [String: Data],
                                 dtype: SafeTensorsWriter.DType = .f32) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": "pt"]
        _ = weights.map(config) { name, values, shape, _ in
            values.withUnsafeBufferPointer { writer.add(name, shape: shape, values: $0, as: dtype) }
        }
        try writer.write(to: (directory as NSString).appendingPathComponent("model.safetensors"))
        for (name, data) in companions.sorted(by: { $0.key < $1.key }) {
            try writeFileAtomically(data, to: (directory as NSString).appendingPathComponent(name))
        }
    }
}
