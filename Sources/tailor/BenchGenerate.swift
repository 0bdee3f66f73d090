// `tailor bench generate`: prefill and decode speed of one sequence on a model, and peak memory. The llama.cpp side
// of the comparison runs in scripts/bench.sh beside it.
import ArgumentParser
import Foundation
import Logging
import TailorEngine

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Prefill and decode tokens/s on one sequence.")
    @Option var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(name: .customLong("prompt-tokens")) var promptTokens = 200
    @Option(name: .customLong("new-tokens")) var newTokens = 128
    @Option var runs = 3
    @Option var threads: Int?
    @Flag var json = false

    func run() throws {
        var logger = Logger(label: "bench"); logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        let lm = try LanguageModel(path: model)
        // A fixed, natural prompt cut to the requested length, the same text the llama.cpp side uses.
        let text = String(repeating: "The history of the city begins with a small harbour where fishermen traded salt and grain. ", count: 60)
        let prompt = Array(lm.tokenize(plain: text).prefix(promptTokens))
        let generator = Generator(model: lm, maxRows: 256)
        var prefill: [Double] = [], decode: [Double] = []
        _ = generator.generate(GenerationRequest(prompt: prompt, maxTokens: 8, ignoreEOS: true))   // warm-up
        for _ in 0..<runs {
            let r = generator.generate(GenerationRequest(prompt: prompt, maxTokens: newTokens, ignoreEOS: true))
            prefill.append(Double(prompt.count) / r.promptSeconds)
            decode.append(Double(r.tokens.count - 1) / r.decodeSeconds)
        }
        BenchSupport.emit(["prefill_tokens_per_s": BenchSupport.round(BenchSupport.median(prefill)),
                           "decode_tokens_per_s": BenchSupport.round(BenchSupport.median(decode)),
                           "prompt_tokens": prompt.count, "new_tokens": newTokens, "runs": runs,
                           "threads": KernelThreads.count, "peak_rss_bytes": BenchSupport.peakRSS], json: json)
    }
}
