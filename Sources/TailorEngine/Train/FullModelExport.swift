// Exports of a fully fine-tuned model (a full checkpoint, `tailor train --training-type full`'s model/, a full job's
// model) for other tools: a clean Hugging Face directory — weights, config, tokenizer and chat template, without the
// optimizer and trainer state a checkpoint carries — and a GGUF model that keeps its GGUF base's metadata.
// LoRA adapters are exported by AdapterExport.
import Foundation

public enum FullModelExport {
    /// The files a Hugging Face directory may hold besides the weights; nothing else of a checkpoint is exported.
    static let companionFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                 "special_tokens_map.json", "tokenizer.model", "chat_template.jinja"]

    /// The model in `directory` (trained from `base`) loaded, its shape checked against the base's.
    public static func load(directory: String, base: LanguageModel) throws -> Transformer {
        let model = try ModelLoader.loadTransformer(path: directory)
        let a = model.config, b = base.transformer.config
        guard a.architecture == b.architecture, a.dim == b.dim, a.layers == b.layers, a.hiddenDim == b.hiddenDim,
              a.vocabSize == b.vocabSize, a.heads == b.heads, a.kvHeads == b.kvHeads else {
            throw ModelFileError.badFormat(path: directory, detail: "it holds a \(a.architecture) model of another shape (\(a.layers) layers of \(a.dim)) than \(base.name) (\(b.architecture), \(b.layers) layers of \(b.dim)); pass the base model it was trained from as --model")
        }
        return model
    }

    /// Writes `model` (loaded from `directory`) as a Hugging Face directory at `output`: model.safetensors (the
    /// checkpoint's f32 file as is, or BF16 with `half`), config.json, and the tokenizer and chat template — the
    /// directory's own, else the Hugging Face base's, else written from the GGUF base's vocabulary.
    public static func writeHuggingFace(directory: String, model: Transformer, base: LanguageModel, half: Bool,
                                        to output: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        func path(_ dir: String, _ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        var files: [String: Data] = [:]
        if base.format == .huggingFace {
            for f in companionFiles { if let d = fm.contents(atPath: path(base.path, f)) { files[f] = d } }
        } else if !fm.fileExists(atPath: path(directory, "tokenizer.json")) && !fm.fileExists(atPath: path(directory, "tokenizer.model")) {
            files = try TokenizerJSONWriter.files(gguf: try GGUFFile(path: base.path), contextLength: base.contextLength)
        }
        for f in companionFiles { if let d = fm.contents(atPath: path(directory, f)) { files[f] = d } }
        if files["config.json"] == nil { files["config.json"] = try AdapterExport.huggingFaceConfig(model.config, tokenizer: base.tokenizer) }
        for (name, data) in files { try writeFileAtomically(data, to: path(output, name)) }
        let weights = path(output, "model.safetensors")
        if half {
            try writeFileAtomically(try AdapterExport.mergedSafetensors(model: model, adapter: nil, dtype: .bf16), to: weights)
        } else {
            let source = path(directory, "model.safetensors")
            guard URL(fileURLWithPath: source).standardizedFileURL != URL(fileURLWithPath: weights).standardizedFileURL else { return }
            let tmp = weights + ".tmp-\(UUID().uuidString.prefix(8))"
            try fm.copyItem(atPath: source, toPath: tmp)
            guard rename(tmp, weights) == 0 else {
                try? fm.removeItem(atPath: tmp)
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: weights, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        }
    }

    /// `model` as a GGUF model in F32 or F16 (norms and biases in F32), in llama.cpp's layout, with the metadata of
    /// the base it was trained from (architecture, tokenizer, chat template): a GGUF base's keys, or those
    /// HuggingFaceGGUFMetadata reads from a Hugging Face base.
    public static func gguf(model: Transformer, base: LanguageModel, type: GGUFWriter.TensorType) throws -> Data {
        AdapterExport.mergedGGUF(metadata: try ggufMetadata(of: base), model: model, adapter: nil, type: type)
    }

    /// The metadata a GGUF export of a model trained from `base` carries.
    public static func ggufMetadata(of base: LanguageModel) throws -> [(String, GGUFValue)] {
        base.format == .gguf
            ? AdapterExport.metadata(of: try GGUFFile(path: base.path))
            : try HuggingFaceGGUFMetadata.read(directory: base.path, config: base.transformer.config, name: base.name)
    }
}
