// `tailor bench serve`: the inference service as the server drives it — time to first token and decode speed of one
// request with no training and while a LoRA job trains in the same process, and 16 concurrent requests over 4
// adapters (batched decode) against the same 16 one at a time.
import ArgumentParser
import Foundation
import Logging
import TailorEngine
import TailorJobs

struct BenchServe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "TTFT, decode tokens/s, batching and training interference.")
    @Option var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option var data = "../shared/datasets/gadgetgurus-train.jsonl"
    @Option(name: .customLong("new-tokens")) var newTokens = 64
    @Option var runs = 3
    @Flag var json = false
    @Flag(name: .customLong("concurrent-only"), help: "Only the 16 concurrent requests, `runs` times (for a profile of batched serving).")
    var concurrentOnly = false
    /// Off by default: every request here repeats one prompt, so with it on the timings after the first would be of
    /// cached prompts — the first-token times of none, the batching of decode alone.
    @Option(name: .customLong("prompt-cache-mb"),
            help: "MiB of prompt cache, as `serve --prompt-cache-mb` (default 0: off; the requests all repeat one prompt).")
    var promptCacheMB = 0
    @Flag(name: .customLong("shared-prefix"),
          help: "Only: eight different questions one at a time after one long system prompt (~1,000 tokens), each one's time to first token (the prompt cache's case; use with --prompt-cache-mb).")
    var sharedPrefix = false

    struct Timing { var ttft: Double; var decodeTokensPerSecond: Double; var tokens: Int; var seconds: Double }

    func run() throws {
        var logger = Logger(label: "bench"); logger.logLevel = .warning
        CPURuntime.configure(threads: nil, logger: logger)
        let lm = try LanguageModel(path: model)
        lm.transformer.prepareForInference()   // as the server does when it registers a base
        let gate = ComputeGate()
        let service = InferenceService(gate: gate, logger: logger, promptCacheBytes: promptCacheMB << 20)
        service.start()
        defer { service.stop() }
        let adapters = (0..<4).map { LoRAParameters.randomAdapter(model: lm.transformer.config, seed: UInt64($0 + 1), std: 0.01) }
        func resolved(_ i: Int?) -> ResolvedModel {
            ResolvedModel(id: i.map { "adapter-\($0)" } ?? lm.name, kind: i == nil ? .base : .fineTuned, base: lm,
                          adapter: i.map { adapters[$0] }, created: 0, ownedBy: "bench")
        }
        let prompt = lm.tokenize(rendered: try lm.renderChat([.user("My tablet will not charge any more. What should I do first?")], addGenerationPrompt: true))

        func request(_ adapter: Int?, seed: UInt64) -> InferenceRequest {
            InferenceRequest(model: resolved(adapter), prompt: prompt, maxTokens: newTokens,
                             sampling: SamplingParameters(temperature: 1, seed: seed))
        }
        /// Submits requests at once and times each one's first token and completion.
        func measure(_ requests: [InferenceRequest]) -> [Timing] {
            let box = TimingBox(count: requests.count)
            let start = Date()
            for (i, r) in requests.enumerated() {
                _ = service.submit(r) { e in
                    switch e {
                    case .text: box.sawToken(i)
                    case .finished, .aborted: break
                    case .completed(_, let completion, _): box.complete(i, start: start, completionTokens: completion)
                    }
                }
            }
            return box.wait()
        }

        _ = measure([request(nil, seed: 0)])   // warm-up
        if sharedPrefix {
            // A support bot's long instructions before every question, as in a deployment's system prompt.
            let manual = (1...40).map { "Rule \($0): questions about the Lumen L\($0) go to section \($0) of its manual, quoted exactly." }
                .joined(separator: " ")
            let questions = ["How do I reset the L3?", "Does the L7 have a battery?", "My L12 will not turn on.",
                             "Where is the serial number of the L20?", "Can the L5 charge over USB-C?", "The L31 screen flickers.",
                             "Is the L9 waterproof?", "How long is the L16's warranty?"]
            var ttfts: [Double] = [], cached: [Int] = [], lengths: [Int] = []
            for (i, q) in questions.enumerated() {
                let p = lm.tokenize(rendered: try lm.renderChat([.system(manual), .user(q)],
                                                                addGenerationPrompt: true))
                let before = service.currentStats.cachedPromptTokens
                ttfts += measure([InferenceRequest(model: resolved(0), prompt: p, maxTokens: 2,
                                                   sampling: SamplingParameters(temperature: 1, seed: UInt64(i)))]).map(\.ttft)
                cached.append(service.currentStats.cachedPromptTokens - before)
                lengths.append(p.count)
            }
            BenchSupport.emit(["prompt_cache_mb": promptCacheMB, "prompt_tokens": lengths, "cached_tokens": cached,
                               "ttft_ms": ttfts.map { BenchSupport.round($0 * 1000) },
                               "first_ttft_ms": BenchSupport.round(ttfts[0] * 1000),
                               "later_ttft_ms_median": BenchSupport.round(BenchSupport.median(Array(ttfts.dropFirst())) * 1000)], json: json)
            return
        }
        let sixteen = (0..<16).map { request($0 % 4, seed: UInt64(100 + $0)) }
        if concurrentOnly {
            var rates: [Double] = [], lastFirstTokens: [Double] = []
            for _ in 0..<runs {
                let t0 = Date()
                let together = measure(sixteen)
                rates.append(Double(together.reduce(0) { $0 + $1.tokens }) / Date().timeIntervalSince(t0))
                lastFirstTokens.append(together.map(\.ttft).max() ?? 0)
            }
            BenchSupport.emit(["concurrent16_tokens_per_s": BenchSupport.round(BenchSupport.median(rates)), "runs": runs,
                               "prompt_cache_mb": promptCacheMB,
                               "concurrent16_runs": rates.map { BenchSupport.round($0) },
                               "concurrent16_last_first_token_ms": lastFirstTokens.map { BenchSupport.round($0 * 1000) },
                               "peak_rss_bytes": BenchSupport.peakRSS], json: json)
            return
        }
        var idle: [Timing] = []
        for i in 0..<runs { idle += measure([request(0, seed: UInt64(i))]) }

        // The same while a training job runs in this process, yielding at its layer boundaries as the server's does.
        guard let bytes = FileManager.default.contents(atPath: data) else { throw ValidationError("cannot read \(data)") }
        let prepared = Dataset.prepare(bytes, model: lm, maxTokens: 1024)
        var trainingConfig = TrainingConfig(); trainingConfig.epochs = 100; trainingConfig.evalInterval = 0
        let config = trainingConfig
        let stop = TrainerSignal()
        let training = Thread {
            gate.enterTraining()
            let trainer = Trainer(base: FrozenBase(lm.transformer), baseModelName: lm.name, train: prepared.examples, validation: [], config: config)
            trainer.model.yieldPoint = { gate.trainingYieldPoint() }
            let observer = StopWhen(stop)
            trainer.observer = observer
            _ = try? trainer.run()
            gate.exitTraining()
            stop.finished()
        }
        training.stackSize = 8 << 20
        training.start()
        while !stop.stepped { Thread.sleep(forTimeInterval: 0.2) }
        var busy: [Timing] = []
        for i in 0..<runs { Thread.sleep(forTimeInterval: 1.5); busy += measure([request(1, seed: UInt64(i))]) }
        stop.stop()
        stop.waitFinished()

        // Batching: 16 requests over 4 adapters at once, then the same one by one.
        var batchedRates: [Double] = [], sequentialRates: [Double] = []
        for _ in 0..<runs {
            let t0 = Date()
            let together = measure(sixteen)
            batchedRates.append(Double(together.reduce(0) { $0 + $1.tokens }) / Date().timeIntervalSince(t0))
            let t1 = Date()
            var tokens = 0
            for r in sixteen { tokens += measure([r])[0].tokens }
            sequentialRates.append(Double(tokens) / Date().timeIntervalSince(t1))
        }
        let m = BenchSupport.median
        BenchSupport.emit([
            "prompt_tokens": prompt.count, "new_tokens": newTokens, "runs": runs, "prompt_cache_mb": promptCacheMB,
            "idle_ttft_ms": BenchSupport.round(m(idle.map(\.ttft)) * 1000), "idle_decode_tokens_per_s": BenchSupport.round(m(idle.map(\.decodeTokensPerSecond))),
            "training_ttft_ms": BenchSupport.round(m(busy.map(\.ttft)) * 1000), "training_decode_tokens_per_s": BenchSupport.round(m(busy.map(\.decodeTokensPerSecond))),
            "concurrent16_tokens_per_s": BenchSupport.round(m(batchedRates)), "sequential16_tokens_per_s": BenchSupport.round(m(sequentialRates)),
            "batching_speedup": BenchSupport.round(m(batchedRates) / m(sequentialRates), 2), "peak_rss_bytes": BenchSupport.peakRSS,
            "concurrent16_runs": batchedRates.map { BenchSupport.round($0) }, "sequential16_runs": sequentialRates.map { BenchSupport.round($0) },
        ], json: json)
    }

    /// Cross-thread flags for the background trainer.
    final class TrainerSignal: @unchecked Sendable {
        // @unchecked Sendable: all fields guarded by `c`.
        private let c = NSCondition()
        private var stopRequested = false, didStep = false, isFinished = false
        func stop() { c.lock(); stopRequested = true; c.unlock() }
        var shouldStop: Bool { c.lock(); defer { c.unlock() }; return stopRequested }
        func step() { c.lock(); didStep = true; c.unlock() }
        var stepped: Bool { c.lock(); defer { c.unlock() }; return didStep }
        func finished() { c.lock(); isFinished = true; c.broadcast(); c.unlock() }
        func waitFinished() { c.lock(); while !isFinished { c.wait() }; c.unlock() }
    }

    /// First-token and completion times of concurrently submitted requests, filled from the service's thread.
    final class TimingBox: @unchecked Sendable {
        // @unchecked Sendable: all fields guarded by `c`.
        private let c = NSCondition()
        private var first: [Date?], timings: [Timing?]
        private var remaining: Int
        init(count: Int) { first = Array(repeating: nil, count: count); timings = Array(repeating: nil, count: count); remaining = count }
        func sawToken(_ i: Int) { c.lock(); if first[i] == nil { first[i] = Date() }; c.unlock() }
        func complete(_ i: Int, start: Date, completionTokens: Int) {
            c.lock(); defer { c.unlock() }
            let end = Date(), f = first[i] ?? end
            timings[i] = Timing(ttft: f.timeIntervalSince(start),
                                decodeTokensPerSecond: Double(max(completionTokens - 1, 1)) / max(end.timeIntervalSince(f), 1e-9),
                                tokens: completionTokens, seconds: end.timeIntervalSince(start))
            remaining -= 1
            c.broadcast()
        }
        func wait() -> [Timing] {
            c.lock(); defer { c.unlock() }
            while remaining > 0 { c.wait() }
            return timings.map { $0! }
        }
    }

    final class StopWhen: TrainingObserver {
        let flag: TrainerSignal
        init(_ f: TrainerSignal) { flag = f }
        func trainer(didEvaluateBaseline evaluation: Evaluation) {}
        func trainer(didFinishStep metrics: StepMetrics) { flag.step() }
        func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String? { nil }
        func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics) {}
        func trainerStopRequest() -> TrainingStop? { flag.shouldStop ? .pause : nil }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure speed and memory (results go in BENCHMARKS.md).",
                                                    subcommands: [BenchHTTP.self, BenchGenerate.self, BenchTrain.self, BenchAttention.self, BenchDPO.self, BenchServe.self, BenchGrammar.self, BenchQueue.self])
}
