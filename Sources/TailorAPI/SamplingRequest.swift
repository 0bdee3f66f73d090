// The sampling fields shared by /v1/chat/completions and /v1/completions, read and range-checked as OpenAI documents
// them, and the bridge from the generation thread's events to a waiting handler (streams use EventFeed).
import Foundation
import TailorEngine
import TailorHTTP
import TailorJobs

struct SamplingRequest {
    var n = 1
    var maxTokens: Int?
    var sampling = SamplingParameters()
    var stop: [String] = []
    var stream = false
    var includeUsage = false

    init(_ body: RequestBody, maxTokensKeys: [String]) throws {
        n = try body.integer("n", in: 1...128) ?? 1
        for key in maxTokensKeys {
            if let m = try body.integer(key, in: 1...1_000_000) { maxTokens = m; break }
        }
        sampling.temperature = Float(try body.number("temperature", in: 0...2) ?? 1)
        sampling.topP = Float(try body.number("top_p", in: 0...1) ?? 1)
        sampling.presencePenalty = Float(try body.number("presence_penalty", in: -2...2) ?? 0)
        sampling.frequencyPenalty = Float(try body.number("frequency_penalty", in: -2...2) ?? 0)
        if let seed = try body.integer("seed") { sampling.seed = UInt64(bitPattern: Int64(seed)) }
        else { sampling.seed = UInt64.random(in: 0...UInt64.max) }
        if let bias = body.raw("logit_bias") {
            guard let d = bias as? [String: Any] else { throw APIError.invalid("logit_bias", "'logit_bias' must be an object of token ids to numbers.", code: "invalid_type") }
            for (k, v) in d {
                guard let id = Int(k), id >= 0, let n = v as? NSNumber, (-100...100).contains(n.doubleValue) else {
                    throw APIError.invalid("logit_bias", "logit_bias keys must be token ids and values between -100 and 100.")
                }
                sampling.logitBias[id] = Float(n.doubleValue)
            }
        }
        if let s = body.raw("stop") {
            if let one = s as? String { stop = [one] }
            else if let many = s as? [Any], many.count <= 4, many.allSatisfy({ $0 is String }) { stop = many as! [String] }
            else { throw APIError.invalid("stop", "'stop' must be a string or an array of up to 4 strings.") }
        }
        stream = try body.bool("stream") ?? false
        if let opts = try body.object("stream_options") {
            guard stream else { throw APIError.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.") }
            includeUsage = try opts.bool("include_usage") ?? false
        }
    }

    /// Checks what depends on the model: logit_bias keys must be token ids of its vocabulary (OpenAI answers 400).
    func check(vocabularySize: Int) throws {
        if let bad = sampling.logitBias.keys.sorted().first(where: { $0 >= vocabularySize }) {
            throw APIError.invalid("logit_bias", "Invalid key in 'logit_bias': \(bad). The model's token ids are 0 to \(vocabularySize - 1).")
        }
    }

    /// Checks the prompt against the model's context and picks the completion budget.
    func budget(prompt: Int, context: Int, param: String, defaultMax: Int?) throws -> Int {
        let wanted = maxTokens ?? defaultMax ?? (context - prompt)
        guard prompt + max(wanted, 1) <= context, prompt < context else {
            throw APIError(.badRequest, "This model's maximum context length is \(context) tokens. However, you requested \(prompt + wanted) tokens (\(prompt) in the \(param), \(wanted) for the completion). Please reduce the length of the \(param) or completion.", param: param, code: "context_length_exceeded")
        }
        return wanted
    }
}

/// Collects a request's events for a non-streaming answer.
final class GenerationCollector: @unchecked Sendable {
    // @unchecked Sendable: all state is guarded by `condition`.
    private let condition = NSCondition()
    private(set) var texts: [String]
    private(set) var logprobs: [[GeneratedTokenInfo]]
    private(set) var reasons: [FinishReason?]
    private(set) var usage: (prompt: Int, completion: Int, cached: Int)?

    init(n: Int) {
        texts = Array(repeating: "", count: n)
        logprobs = Array(repeating: [], count: n)
        reasons = Array(repeating: nil, count: n)
    }

    private var aborted: String?
    private var clientLeft = false

    func handle(_ event: InferenceEvent) {
        condition.lock(); defer { condition.unlock() }
        switch event {
        case let .text(choice, text, lps): texts[choice] += text; logprobs[choice] += lps
        case let .finished(choice, reason): reasons[choice] = reason
        case let .completed(p, c, cached): usage = (p, c, cached); condition.broadcast()
        case let .aborted(reason): aborted = reason; condition.broadcast()
        }
    }

    /// Generates `request` for `call`'s client and waits for every choice. The client leaving stops the generation
    /// at its next step and ends the wait; the server stopping ends it with a 503.
    static func generate(_ request: Generation, for call: APICall) throws -> GenerationCollector {
        try generate([request], for: call)[0]
    }

    /// Several requests side by side (the inference service batches them), one collector each, in order.
    static func generate(_ requests: [Generation], for call: APICall) throws -> [GenerationCollector] {
        let collectors = requests.map { GenerationCollector(n: $0.n) }
        let handles = zip(requests, collectors).map { request, collector in
            request.submit(call.services.inference) { collector.handle($0) }
        }
        call.request.disconnect.onDisconnect {
            for handle in handles { handle.cancel() }
            for c in collectors { c.condition.lock(); c.clientLeft = true; c.condition.broadcast(); c.condition.unlock() }
        }
        do {
            for collector in collectors { try collector.wait() }
        } catch {
            for handle in handles { handle.cancel() }
            throw error
        }
        return collectors
    }

    private func wait() throws {
        condition.lock(); defer { condition.unlock() }
        while usage == nil && aborted == nil && !clientLeft { condition.wait() }
        if let reason = aborted { throw APIError(.unavailable, reason, code: "server_shutting_down") }
        if clientLeft { throw APIError(.clientClosedRequest, "The client closed the connection before the answer was ready.") }
    }
}

enum Ids {
    static func make(_ prefix: String) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return prefix + String((0..<29).map { _ in alphabet.randomElement()! })
    }

    /// A stable fingerprint of the weights that answered: the base model and the adapter.
    static func fingerprint(_ m: ServedModel) -> String {
        let weights: String
        switch m {
        case .decoder(let d): weights = d.base.name + "|" + (d.adapter == nil ? "" : d.id)
        case .encoderDecoder(let e): weights = e.baseName + "|" + (e.kind == .base ? "" : e.id)
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in weights.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "fp_" + String(h, radix: 16).suffix(10)
    }
}
