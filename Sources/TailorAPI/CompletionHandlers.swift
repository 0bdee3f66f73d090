// POST /v1/completions (legacy): raw prompts, for models fine-tuned on prompt/completion data. The prompt is
// tokenised as plain text, as in training, and generation stops at the end-of-sequence token the training taught.
import Foundation
import TailorEngine
import TailorHTTP
import TailorJobs

enum CompletionHandlers {
    static func create(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let modelID = try body.requiredString("model")
        guard let model = try call.services.registry.resolve(modelID, project: call.principal.projectID) else {
            throw APIError(.notFound, "The model `\(modelID)` does not exist or you do not have access to it.", param: "model", code: "model_not_found")
        }
        let prompt: [Int]
        switch body.raw("prompt") {
        case let s as String: prompt = model.base.tokenize(plain: s)
        case let a as [Any] where a.count == 1 && a[0] is String: prompt = model.base.tokenize(plain: a[0] as! String)
        case let ids as [Any] where !ids.isEmpty && ids.allSatisfy({ ($0 as? NSNumber).map { !["d", "f", "c"].contains(String(cString: $0.objCType)) } ?? false }):
            prompt = ids.map { ($0 as! NSNumber).intValue }
            guard prompt.allSatisfy({ (0..<model.base.transformer.config.vocabSize).contains($0) }) else {
                throw APIError.invalid("prompt", "prompt token ids must be between 0 and \(model.base.transformer.config.vocabSize - 1).")
            }
        case nil: throw APIError.missing("prompt")
        default: throw APIError.invalid("prompt", "'prompt' must be a string, an array with one string, or an array of token ids.")
        }
        guard !prompt.isEmpty else { throw APIError.invalid("prompt", "'prompt' must not be empty.") }
        if let suffix = try body.string("suffix"), !suffix.isEmpty {
            throw APIError.invalid("suffix", "Tailor does not support 'suffix' (insertion) yet.", code: "unsupported_parameter")
        }
        if try body.bool("echo") == true {
            throw APIError.invalid("echo", "Tailor does not support 'echo' yet.", code: "unsupported_parameter")
        }
        var params = try SamplingRequest(body, maxTokensKeys: ["max_tokens"])
        let logprobs = try body.integer("logprobs", in: 0...5)
        try params.check(vocabularySize: model.base.transformer.config.vocabSize)
        let budget = try params.budget(prompt: prompt.count, context: model.base.contextLength, param: "prompt", defaultMax: 16)
        params.maxTokens = budget
        let request = InferenceRequest(model: model, prompt: prompt, n: params.n, maxTokens: budget, sampling: params.sampling,
                                       stop: params.stop, logprobs: logprobs)
        try request.checkMemory(call.services.inference, param: "n")
        let id = Ids.make("cmpl-"), created = Int(Date().timeIntervalSince1970)
        @Sendable func object(_ choices: [JSONValue], usage: JSONValue?) -> JSONValue {
            var pairs: [(String, JSONValue)] = [("id", .string(id)), ("object", "text_completion"), ("created", .int(created)),
                                                ("model", .string(model.id)), ("system_fingerprint", .string(Ids.fingerprint(model))),
                                                ("choices", .array(choices))]
            if let usage { pairs.append(("usage", usage)) }
            return .object(pairs)
        }
        @Sendable func choice(_ i: Int, _ text: String, _ lps: [GeneratedTokenInfo], _ finish: FinishReason?) -> JSONValue {
            .object([("text", .string(text)), ("index", .int(i)),
                     ("logprobs", logprobs == nil ? .null : legacyLogprobs(lps)), ("finish_reason", .optional(finish?.rawValue))])
        }
        if params.stream {
            let services = call.services, includeUsage = params.includeUsage
            return .eventStream { stream in
                let queue = EventQueue()
                let handle = services.inference.submit(request) { queue.push($0) }
                stream.onClose { handle.cancel() }
                var done = false
                while !done {
                    for e in queue.drain(timeout: 1) {
                        var ok = true
                        switch e {
                        case let .text(i, text, lps): ok = stream.writeEvent(data: object([choice(i, text, lps, nil)], usage: nil).serialized)
                        case let .finished(i, reason): ok = stream.writeEvent(data: object([choice(i, "", [], reason)], usage: nil).serialized)
                        case let .completed(p, c):
                            if includeUsage { ok = stream.writeEvent(data: object([], usage: ChatHandlers.usageJSON(p, c)).serialized) }
                            done = true
                        case let .aborted(reason):
                            stream.writeError(APIError(.unavailable, reason, code: "server_shutting_down"))
                            return
                        }
                        if !ok { handle.cancel(); return }
                    }
                    if stream.isClosed { handle.cancel(); return }
                }
                _ = stream.writeEvent(data: "[DONE]")
                stream.finish()
            }
        }
        let collector = try GenerationCollector.generate(request, for: call)
        let u = collector.usage!
        let choices = (0..<params.n).map { choice($0, collector.texts[$0], collector.logprobs[$0], collector.reasons[$0] ?? .stop) }
        return object(choices, usage: ChatHandlers.usageJSON(u.prompt, u.completion)).response
    }

    /// The legacy shape: parallel arrays of tokens, their log-probabilities, top alternatives and text offsets.
    static func legacyLogprobs(_ tokens: [GeneratedTokenInfo]) -> JSONValue {
        var offsets: [JSONValue] = []
        var offset = 0
        for t in tokens { offsets.append(.int(offset)); offset += t.token.count }
        return .object([
            ("tokens", .array(tokens.map { .string($0.token) })),
            ("token_logprobs", .array(tokens.map { .double(Double($0.logprob)) })),
            ("top_logprobs", .array(tokens.map { t in .object(t.top.map { ($0.token, .double(Double($0.logprob))) }) })),
            ("text_offset", .array(offsets)),
        ])
    }
}
