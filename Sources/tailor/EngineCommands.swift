// `tailor generate` and `tailor tokenize`: the engine from the command line, for checking a model by hand.
import ArgumentParser
import Foundation
import Logging
import TailorEngine
import TailorTemplates

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text with a model; prints only the generated text.")

    @Option(help: "A GGUF file or a Hugging Face model directory.") var model: String
    @Option(help: "The prompt (raw text unless --chat).") var prompt: String
    @Flag(help: "Send the prompt as a user message through the model's chat template.") var chat = false
    @Option(help: "A LoRA adapter directory (PEFT format) to apply, or a fully fine-tuned model's directory trained from --model (run with the base's tokenizer and template).")
    var adapter: String?
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p")) var topP: Float = 1
    @Option(name: .customLong("top-k")) var topK = 0
    @Option(help: "Seed for sampling.") var seed: UInt64 = 0
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past end-of-turn tokens.") var ignoreEOS = false
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("logits-out"), help: "Also write the prompt's token ids and the next-token logits after it (f32 activations, as JSON) to this file; for comparing exports with their peers.")
    var logitsOut: String?

    func run() throws {
        var logger = Logger(label: "tailor")
        logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        var lm = try LanguageModel(path: model)
        var lora: LoRAAdapter? = nil
        if let adapter, FullModelFiles.isFullModel(adapter) {
            lm = LanguageModel(name: "\(lm.name)@\(adapter)", path: adapter,
                               transformer: try FullModelExport.load(directory: adapter, base: lm), trainedFrom: lm)
        } else if let adapter {
            lora = try PEFTAdapter.read(directory: adapter, config: lm.transformer.config)
        }
        let ids = chat
            ? lm.tokenize(rendered: try lm.renderChat([.user(prompt)], addGenerationPrompt: true))
            : lm.tokenize(plain: prompt)
        if let logitsOut { try writeLogits(lm.transformer, ids, adapter: lora, to: logitsOut) }
        let generator = Generator(model: lm)
        let request = GenerationRequest(prompt: ids, maxTokens: maxTokens,
                                        sampling: SamplingParameters(temperature: temperature, topP: topP, topK: topK, seed: seed),
                                        ignoreEOS: ignoreEOS, adapter: lora)
        _ = generator.generate(request) { piece in
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// The logits after the last prompt token, from one prefill with f32 activations (no 8-bit rows).
    func writeLogits(_ model: Transformer, _ ids: [Int], adapter: LoRAAdapter?, to path: String) throws {
        let ctx = InferenceContext(model: model, maxRows: max(ids.count, 1))
        ctx.quantizedRowsLimit = 0
        let cache = KVCache(config: model.config, capacity: ids.count)
        let rows = ids.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, adapter: adapter, wantsLogits: $0 == ids.count - 1) }
        let logits = Array(ctx.forward(rows, caches: [cache])).map(Double.init)
        let json: [String: Any] = ["model": model.config.architecture, "tokens": ids, "logits": logits]
        try writeFileAtomically(try JSONSerialization.data(withJSONObject: json), to: path)
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of a text as a JSON array.")

    @Option(help: "A GGUF file or a Hugging Face model directory.") var model: String
    @Flag(name: .customLong("no-special"), help: "Treat special-token text as plain text.") var noSpecial = false
    @Argument(help: "The text to tokenize.") var text: String

    func run() throws {
        let lm = try LanguageModel(path: model)
        let ids = lm.tokenizer.encode(text, addSpecial: lm.tokenizer.addBOS, parseSpecial: !noSpecial)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
