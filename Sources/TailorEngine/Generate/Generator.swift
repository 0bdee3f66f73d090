// Generation for one sequence at a time (the CLI and benchmarks): prefill the prompt, then sample and decode token
// by token until an end-of-turn token, a stop sequence or the token limit. The server batches many sequences with
// the same pieces (InferenceContext, Sampler, TextStream) in TailorJobs.
import Foundation

public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stop: [String]
    public var ignoreEOS: Bool
    public var adapter: LoRAAdapter?
    public init(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stop: [String] = [],
                ignoreEOS: Bool = false, adapter: LoRAAdapter? = nil) {
        self.prompt = prompt; self.maxTokens = maxTokens; self.sampling = sampling; self.stop = stop
        self.ignoreEOS = ignoreEOS; self.adapter = adapter
    }
}

public enum FinishReason: String, Sendable, Codable { case stop, length }

public struct GenerationResult: Sendable {
    public var tokens: [Int]
    public var text: String
    public var finishReason: FinishReason
    public var promptSeconds: Double
    public var decodeSeconds: Double
}

public final class Generator {
    public let model: LanguageModel
    private let context: InferenceContext

    public init(model: LanguageModel, maxRows: Int = 256) {
        self.model = model
        context = InferenceContext(model: model.transformer, maxRows: maxRows)
    }

    /// Generates, calling `onText` with each newly final piece of text.
    public func generate(_ r: GenerationRequest, onText: (String) -> Void = { _ in }) -> GenerationResult {
        precondition(!r.prompt.isEmpty, "empty prompt")
        let cache = KVCache(config: model.transformer.config, capacity: r.prompt.count + r.maxTokens, halfPrecision: true)
        var sampler = Sampler(r.sampling)
        var stream = TextStream(stops: r.stop)
        let t0 = Date()
        let rows = r.prompt.enumerated().map {
            ForwardRow(token: $1, position: $0, sequence: 0, adapter: r.adapter, wantsLogits: $0 == r.prompt.count - 1)
        }
        var logits = context.forward(rows, caches: [cache])
        let t1 = Date()
        var tokens: [Int] = []
        var finish = FinishReason.length
        while tokens.count < r.maxTokens {
            let next = sampler.sample(logits)
            if !r.ignoreEOS && model.tokenizer.endOfTurnTokens.contains(next) { finish = .stop; break }
            tokens.append(next)
            let piece = stream.append(model.tokenizer.tokenBytes(next))
            if !piece.isEmpty { onText(piece) }
            if stream.stopped { finish = .stop; break }
            guard tokens.count < r.maxTokens else { break }
            logits = context.forward([ForwardRow(token: next, position: cache.count, sequence: 0, adapter: r.adapter,
                                                 wantsLogits: true)], caches: [cache])
        }
        let tail = stream.finish()
        if !tail.isEmpty { onText(tail) }
        return GenerationResult(tokens: tokens, text: stream.text, finishReason: finish,
                                promptSeconds: t1.timeIntervalSince(t0), decodeSeconds: Date().timeIntervalSince(t1))
    }
}
