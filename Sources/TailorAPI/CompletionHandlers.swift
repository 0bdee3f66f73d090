// POST /v1/completions (legacy): raw prompts, for models fine-tuned on prompt/completion data. Each prompt is
// tokenised as plain text, as in training, and generation stops at the end-of-sequence token the training taught.
// Several prompts in one request answer n choices each, in prompt order (LangChain's batch sends them so).
// An encoder–decoder (T5) model reads each prompt as its source text, tokenised as T5's tokenizer does (EOS
// appended), and answers through the same response and streaming code.
import Foundation
import TailorEngine
import TailorHTTP
import TailorJobs

enum CompletionHandlers {
    static func create(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let modelID = try body.requiredString("model")
        guard let model = try call.services.registry.served(modelID, project: call.principal.projectID) else {
            throw APIError(.notFound, "The model `\(modelID)` does not exist or you do not have access to it.", param: "model", code: "model_not_found")
        }
        if let suffix = try body.string("suffix"), !suffix.isEmpty {
            throw APIError.invalid("suffix", "Tailor does not support 'suffix' (insertion) yet.", code: "unsupported_parameter")
        }
        if try body.bool("echo") == true {
            throw APIError.invalid("echo", "Tailor does not support 'echo' yet.", code: "unsupported_parameter")
        }
        let params = try SamplingRequest(body, maxTokensKeys: ["max_tokens"])
        let logprobs = try body.integer("logprobs", in: 0...5)
        // One generation request per prompt, each with `n` choices; the service runs them side by side.
        let requests: [Generation]
        switch model {
        case .decoder(let model):
            let lm = model.base
            let prompts = try Self.prompts(body, vocabulary: lm.transformer.config.vocabSize) { lm.tokenize(plain: $0) }
            let constraint = try StructuredOutput.constraint(body, call.request, model: lm, services: call.services, messagesText: nil)
            try params.check(vocabularySize: lm.transformer.config.vocabSize)
            requests = try prompts.map { prompt in
                let budget = try params.budget(prompt: prompt.count, context: lm.contextLength, param: "prompt", defaultMax: 16)
                return .decoder(InferenceRequest(model: model, prompt: prompt, n: params.n, maxTokens: budget, sampling: params.sampling,
                                                 stop: params.stop, logprobs: logprobs, constraint: constraint,
                                                 cacheScope: call.principal.projectID))
            }
        case .encoderDecoder(let model):
            try ResolvedEncoderDecoder.refuseUnsupported(body, id: model.id)
            let t5 = model.model
            let sources = try Self.prompts(body, vocabulary: t5.config.vocabSize) { t5.tokenizer.encode($0, addSpecial: true) }
            try params.check(vocabularySize: t5.config.vocabSize)
            requests = sources.map { source in
                .encoderDecoder(EncoderDecoderRequest(model: model, source: source, n: params.n, maxTokens: params.maxTokens ?? 16,
                                                      sampling: params.sampling, stop: params.stop, logprobs: logprobs))
            }
        }
        for request in requests { try request.checkMemory(call.services.inference, param: "n") }
        let n = params.n
        let id = Ids.make("cmpl-"), created = Int(Date().timeIntervalSince1970)
        @Sendable func object(_ choices: [JSONValue], usage: JSONValue?) -> JSONValue {
            var pairs: [(String, JSONValue)] = [("id", .string(id)), ("object", "text_completion"), ("created", .int(created)),
                                                ("model", .string(model.id)), ("system_fingerprint", .string(Ids.fingerprint(model))),
                                                ("choices", .array(choices))]
            if let usage { pairs.append(("usage", usage)) }
            return .object(pairs)
        }
        /// OpenAI numbers the choices of prompt p as p·n … p·n + n − 1.
        @Sendable func choice(_ prompt: Int, _ i: Int, _ text: String, _ lps: [GeneratedTokenInfo], _ finish: FinishReason?) -> JSONValue {
            .object([("text", .string(text)), ("index", .int(prompt * n + i)),
                     ("logprobs", logprobs == nil ? .null : legacyLogprobs(lps)), ("finish_reason", .optional(finish?.rawValue))])
        }
        if params.stream {
            let services = call.services, includeUsage = params.includeUsage
            return .eventStream { stream in
                let feed = EventFeed<PromptEvent>()
                let handles = requests.enumerated().map { p, request in request.submit(services.inference) { feed.push(PromptEvent(prompt: p, event: $0)) } }
                stream.onClose { handles.forEach { $0.cancel() } }
                defer {
                    handles.forEach { $0.cancel() }   // a no-op for the ones that completed
                    stream.finish()
                }
                var completed = 0, promptTokens = 0, completionTokens = 0, cachedTokens = 0
                feed.pump(into: stream) { item in
                    let ok: Bool
                    switch item.event {
                    case let .text(i, text, lps): ok = stream.writeEvent(data: object([choice(item.prompt, i, text, lps, nil)], usage: nil).serialized)
                    case let .finished(i, reason): ok = stream.writeEvent(data: object([choice(item.prompt, i, "", [], reason)], usage: nil).serialized)
                    case let .completed(p, c, cached):
                        completed += 1; promptTokens += p; completionTokens += c; cachedTokens += cached
                        guard completed == requests.count else { return .more }
                        ok = (!includeUsage || stream.writeEvent(data: object([], usage: ChatHandlers.usageJSON(promptTokens, completionTokens, cached: cachedTokens)).serialized))
                            && stream.writeEvent(data: "[DONE]")
                        return ok ? .finished : .gone
                    case let .aborted(reason):
                        stream.writeError(APIError(.unavailable, reason, code: "server_shutting_down"))
                        return .finished
                    }
                    return ok ? .more : .gone
                }
            }
        }
        let collectors = try GenerationCollector.generate(requests, for: call)
        var choices: [JSONValue] = []
        var promptTokens = 0, completionTokens = 0, cachedTokens = 0
        for (p, collector) in collectors.enumerated() {
            choices += (0..<n).map { choice(p, $0, collector.texts[$0], collector.logprobs[$0], collector.reasons[$0] ?? .stop) }
            promptTokens += collector.usage!.prompt
            completionTokens += collector.usage!.completion
            cachedTokens += collector.usage!.cached
        }
        return object(choices, usage: ChatHandlers.usageJSON(promptTokens, completionTokens, cached: cachedTokens)).response
    }

    /// OpenAI's four shapes of `prompt`: a string, an array of strings, an array of token ids, or an array of arrays
    /// of token ids; each becomes one prompt of token ids.
    static func prompts(_ body: RequestBody, vocabulary: Int, tokenize: (String) -> [Int]) throws -> [[Int]] {
        func isTokenID(_ value: Any) -> Bool {
            // JSONSerialization gives numbers as NSNumber: a token id is one that is not a double (nor a bool).
            guard let n = value as? NSNumber else { return false }
            let type = String(cString: n.objCType)
            return type != "d" && type != "f" && type != "c"
        }
        func tokenIDs(_ list: [Any], _ param: String) throws -> [Int] {
            let ids = list.map { ($0 as! NSNumber).intValue }
            guard ids.allSatisfy({ (0..<vocabulary).contains($0) }) else {
                throw APIError.invalid(param, "\(param) token ids must be between 0 and \(vocabulary - 1).")
            }
            return ids
        }
        let prompts: [[Int]]
        switch body.raw("prompt") {
        case let s as String: prompts = [tokenize(s)]
        case let a as [Any] where !a.isEmpty && a.allSatisfy({ $0 is String }):
            prompts = a.map { tokenize($0 as! String) }
        case let a as [Any] where !a.isEmpty && a.allSatisfy(isTokenID):
            prompts = [try tokenIDs(a, "prompt")]
        case let a as [Any] where !a.isEmpty && a.allSatisfy({ ($0 as? [Any]).map { $0.allSatisfy(isTokenID) } ?? false }):
            prompts = try a.enumerated().map { i, ids in try tokenIDs(ids as! [Any], "prompt[\(i)]") }
        case nil: throw APIError.missing("prompt")
        default:
            throw APIError.invalid("prompt", "'prompt' must be a string, an array of strings, an array of token ids, or an array of arrays of token ids.")
        }
        if let empty = prompts.firstIndex(where: \.isEmpty) {
            throw APIError.invalid("prompt", prompts.count == 1 ? "'prompt' must not be empty." : "prompt[\(empty)] must not be empty.")
        }
        return prompts
    }

    /// An event of the generation of one prompt's choices.
    struct PromptEvent: Sendable {
        let prompt: Int
        let event: InferenceEvent
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
