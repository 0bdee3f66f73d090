// `tailor export`: an adapter in the forms other tools load (llama.cpp, transformers/PEFT, Ollama).
import ArgumentParser
import Foundation
import TailorEngine

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export a LoRA adapter for llama.cpp, PEFT, Ollama, or as a merged model.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case peft, ggufLoRA = "gguf-lora", mergedGGUF = "merged-gguf", mergedSafetensors = "merged-safetensors", ollama
    }

    @Option(help: "The base model the adapter was trained on.") var model: String
    @Option(help: "The adapter directory (PEFT files, as `tailor train` and the server write them).") var adapter: String
    @Option(help: "peft, gguf-lora, merged-gguf, merged-safetensors or ollama.") var format: Format
    @Option(help: "Output file (gguf-lora, merged-gguf) or directory (the others).") var output: String
    @Flag(help: "Write merged weights in 16 bits (F16 for GGUF, BF16 for safetensors) instead of F32.") var half = false

    func run() throws {
        let lm = try LanguageModel(path: model)
        let lora = try PEFTAdapter.read(directory: adapter, config: lm.transformer.config)
        let fm = FileManager.default
        switch format {
        case .peft:
            try PEFTAdapter.write(lora, config: lm.transformer.config, baseModel: lm.name, dropout: 0, to: output)
        case .ggufLoRA:
            try writeFileAtomically(AdapterExport.ggufAdapter(lora, config: lm.transformer.config, baseName: lm.name), to: output)
        case .mergedGGUF:
            guard lm.format == .gguf else { throw ValidationError("merged-gguf needs a GGUF base model; use merged-safetensors") }
            let data = AdapterExport.mergedGGUF(source: try GGUFFile(path: model), model: lm.transformer, adapter: lora,
                                                type: half ? .f16 : .f32)
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
                try writeFileAtomically(try AdapterExport.huggingFaceConfig(lm.transformer.config, tokenizer: lm.tokenizer),
                                        to: (output as NSString).appendingPathComponent("config.json"))
                FileHandle.standardError.write(Data("note: a GGUF base carries no tokenizer.json; copy the base model's Hugging Face tokenizer files beside model.safetensors\n".utf8))
            }
        case .ollama:
            guard lm.format == .gguf else { throw ValidationError("Ollama needs a GGUF base model") }
            guard let f = OllamaModelfile.detect(chatTemplate: lm.chatTemplate.source) else {
                throw ValidationError("the model's chat template is not one Tailor can translate for Ollama (ChatML, Llama 3, Mistral, Gemma, Zephyr); write the TEMPLATE by hand")
            }
            try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
            let adapterFile = (output as NSString).appendingPathComponent("adapter.gguf")
            try writeFileAtomically(AdapterExport.ggufAdapter(lora, config: lm.transformer.config, baseName: lm.name), to: adapterFile)
            let base = URL(fileURLWithPath: model).standardizedFileURL.path
            try writeFileAtomically(Data(OllamaModelfile.render(basePath: base, adapterPath: "./adapter.gguf", format: f).utf8),
                                    to: (output as NSString).appendingPathComponent("Modelfile"))
        }
        FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
    }
}
