// `tailor export`: an adapter, or a fully fine-tuned model, in the forms other tools load (llama.cpp,
// transformers/PEFT, Ollama); a T5 model's as PEFT files or a Hugging Face T5 directory.
import ArgumentParser
import Foundation
import TailorEngine

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a LoRA adapter (for llama.cpp, PEFT, Ollama, or merged) or a fully fine-tuned model (safetensors, GGUF, Ollama).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case peft, ggufLoRA = "gguf-lora", mergedGGUF = "merged-gguf", mergedSafetensors = "merged-safetensors", ollama
        case safetensors, gguf
    }

    @Option(help: "The base model the adapter or model was trained from.") var model: String
    @Option(name: [.long, .customLong("checkpoint")],
            help: "The adapter directory (PEFT files, as `tailor train` and the server write them), or a fully fine-tuned model's directory (a full job's checkpoint, DATA/jobs/JOB/checkpoints/step-N; `tailor train --training-type full`'s OUT/model).")
    var adapter: String
    @Option(help: "An adapter: peft, gguf-lora, merged-gguf, merged-safetensors or ollama. A fully fine-tuned model: safetensors, gguf or ollama.")
    var format: Format
    @Option(help: "Output file (gguf-lora, merged-gguf, gguf) or directory (the others).") var output: String
    @Flag(help: "Write weights in 16 bits (F16 for GGUF, BF16 for safetensors) instead of F32.") var half = false

    func run() throws {
        if T5Config.describes(directory: model) {
            try exportT5()
            FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
            return
        }
        let lm = try LanguageModel(path: model)
        if FullModelFiles.isFullModel(adapter) {
            try exportFullModel(base: lm)
        } else {
            try exportAdapter(base: lm)
        }
        FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
    }

    func exportAdapter(base lm: LanguageModel) throws {
        if format == .safetensors || format == .gguf {
            throw ValidationError("--format \(format.rawValue) exports a fully fine-tuned model, and \(adapter) holds a LoRA adapter: use gguf-lora or peft (the adapter), merged-gguf or merged-safetensors (base + adapter)")
        }
        let lora = try PEFTAdapter.read(directory: adapter, config: lm.transformer.config)
        let fm = FileManager.default
        switch format {
        case .peft:
            try PEFTAdapter.write(lora, config: lm.transformer.config, baseModel: lm.name, dropout: 0, to: output)
        case .ggufLoRA:
            try writeFileAtomically(AdapterExport.ggufAdapter(lora, config: lm.transformer.config, baseName: lm.name), to: output)
        case .mergedGGUF:
            // A Hugging Face base's architecture, tokenizer and template are written as llama.cpp's converter would.
            let data = AdapterExport.mergedGGUF(metadata: try FullModelExport.ggufMetadata(of: lm), model: lm.transformer,
                                                adapter: lora, type: half ? .f16 : .f32)
            try writeFileAtomically(data, to: output)
        case .mergedSafetensors:
            try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
            let data = try AdapterExport.mergedSafetensors(model: lm.transformer, adapter: lora, dtype: half ? .bf16 : .f32)
            try writeFileAtomically(data, to: (output as NSString).appendingPathComponent("model.safetensors"))
            if lm.format == .huggingFace {
                for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "config.json"] {
                    let src = (model as NSString).appendingPathComponent(f), dst = (output as NSString).appendingPathComponent(f)
                    if fm.fileExists(atPath: src) { try? fm.removeItem(atPath: dst); try fm.copyItem(atPath: src, toPath: dst) }
                }
            } else {
                // A GGUF base's tokenizer, written as transformers loads it (tokenizer.json or tokenizer.model).
                var files = try TokenizerJSONWriter.files(gguf: try GGUFFile(path: model), contextLength: lm.contextLength)
                files["config.json"] = try AdapterExport.huggingFaceConfig(lm.transformer.config, tokenizer: lm.tokenizer)
                for (name, data) in files { try writeFileAtomically(data, to: (output as NSString).appendingPathComponent(name)) }
            }
        case .ollama:
            guard lm.format == .gguf else {
                throw ValidationError("an Ollama adapter export names a GGUF base model (FROM) and \(model) is a Hugging Face directory: export --format merged-gguf and write a Modelfile FROM that file")
            }
            let f = try ollamaFormat(lm)
            try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
            let adapterFile = (output as NSString).appendingPathComponent("adapter.gguf")
            try writeFileAtomically(AdapterExport.ggufAdapter(lora, config: lm.transformer.config, baseName: lm.name), to: adapterFile)
            let base = URL(fileURLWithPath: model).standardizedFileURL.path
            try writeFileAtomically(Data(OllamaModelfile.render(basePath: base, adapterPath: "./adapter.gguf", format: f).utf8),
                                    to: (output as NSString).appendingPathComponent("Modelfile"))
        case .safetensors, .gguf:
            break   // refused above
        }
    }

    /// A full model's own weights; merged-gguf and merged-safetensors write the same as gguf and safetensors (there
    /// is nothing to merge).
    func exportFullModel(base lm: LanguageModel) throws {
        switch format {
        case .peft, .ggufLoRA:
            throw ValidationError("\(adapter) holds a fully fine-tuned model (model.safetensors, no adapter_config.json), which has no LoRA adapter to export as \(format.rawValue); use --format safetensors, gguf or ollama")
        case .safetensors, .mergedSafetensors:
            let full = try FullModelExport.load(directory: adapter, base: lm)
            try FullModelExport.writeHuggingFace(directory: adapter, model: full, base: lm, half: half, to: output)
        case .gguf, .mergedGGUF:
            try writeFileAtomically(try fullGGUF(base: lm), to: output)
        case .ollama:
            let f = try ollamaFormat(lm)
            let data = try fullGGUF(base: lm)
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try writeFileAtomically(data, to: (output as NSString).appendingPathComponent("model.gguf"))
            try writeFileAtomically(Data(OllamaModelfile.render(basePath: "./model.gguf", adapterPath: nil, format: f).utf8),
                                    to: (output as NSString).appendingPathComponent("Modelfile"))
        }
    }

    /// A T5 base's adapter or full checkpoint, as PEFT files or a Hugging Face T5 directory (llama.cpp's and
    /// Ollama's formats take decoder models here).
    func exportT5() throws {
        let full = FullModelFiles.isFullModel(adapter)
        switch (format, full) {
        case (.peft, false):
            let lora = T5LoRAParameters(config: try T5Model.adapterConfig(directory: adapter), model: try T5Config(directory: model))
            try T5PEFTAdapter.load(into: lora, directory: adapter)
            try T5PEFTAdapter.write(lora, baseModel: (model as NSString).lastPathComponent, to: output)
        case (.mergedSafetensors, false):
            // config.json and the tokenizer's files come from the base; the weights are base + adapter.
            try T5Model(directory: model).merging(adapterDirectory: adapter)
                .writeHuggingFace(to: output, companions: T5FullParameters.companions(of: model), dtype: half ? .bf16 : .f32)
        case (.safetensors, true), (.mergedSafetensors, true):
            // A full checkpoint's own weights and files (it keeps its base's config and tokenizer), the base's files
            // where it lacks one; its optimizer moments and trainer state stay behind. The base itself is not loaded.
            let tuned = try T5Model(directory: adapter)
            let files = T5FullParameters.companions(of: model).merging(T5FullParameters.companions(of: adapter)) { $1 }
            try tuned.writeHuggingFace(to: output, companions: files, dtype: half ? .bf16 : .f32)
        case (.peft, true), (.ggufLoRA, true):
            throw ValidationError("\(adapter) holds a fully fine-tuned model (model.safetensors, no adapter_config.json), which has no LoRA adapter to export as \(format.rawValue); use --format safetensors")
        case (.safetensors, false):
            throw ValidationError("--format safetensors exports a fully fine-tuned model, and \(adapter) holds a LoRA adapter: use peft (the adapter) or merged-safetensors (base + adapter)")
        case (.ggufLoRA, _), (.mergedGGUF, _), (.gguf, _), (.ollama, _):
            throw ValidationError("\(model) is a T5 encoder–decoder: Tailor exports T5 models as Hugging Face directories (--format \(full ? "safetensors" : "peft or merged-safetensors")); GGUF and Ollama exports are for decoder models")
        }
    }

    func fullGGUF(base lm: LanguageModel) throws -> Data {
        let full = try FullModelExport.load(directory: adapter, base: lm)
        return try FullModelExport.gguf(model: full, base: lm, type: half ? .f16 : .f32)
    }

    func ollamaFormat(_ lm: LanguageModel) throws -> OllamaModelfile.Format {
        guard let f = OllamaModelfile.detect(chatTemplate: lm.chatTemplate.source) else {
            throw ValidationError("the model's chat template is not one Tailor can translate for Ollama (ChatML, Llama 3, Mistral, Gemma, Zephyr); write the TEMPLATE by hand")
        }
        return f
    }
}
