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
    @Option(help: "A LoRA adapter directory (PEFT format) to apply.") var adapter: String?
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p")) var topP: Float = 1
    @Option(name: .customLong("top-k")) var topK = 0
    @Option(help: "Seed for sampling.") var seed: UInt64 = 0
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past end-of-turn tokens.") var ignoreEOS = false
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() throws {
        var logger = Logger(label: "tailor")
        logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        let lm = try LanguageModel(path: model)
        let ids = chat
            ? lm.tokenize(rendered: try lm.renderChat([.user(prompt)], addGenerationPrompt: true))
            : lm.tokenize(plain: prompt)
        let lora = try adapter.map { try PEFTAdapter.read(directory: $0, config: lm.transformer.config) }
        let generator = Generator(model: lm)
        let request = GenerationRequest(prompt: ids, maxTokens: maxTokens,
                                        sampling: SamplingParameters(temperature: temperature, topP: topP, topK: topK, seed: seed),
                                        ignoreEOS: ignoreEOS, adapter: lora)
        _ = generator.generate(request) { piece in
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
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
