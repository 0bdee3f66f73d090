// Where an eval run's samples and its model graders' answers come from: the generation thread (InferenceService) in
// the server, a stand-in in tests. The run loop waits here for one answer at a time; cancelling the run or stopping
// the server ends the wait at once. Not grading, not the store.
import Foundation
import TailorEngine
import TailorGrammar
import TailorTemplates

public struct EvalSampleRequest: Sendable {
    public var model: String
    public var project: String
    /// Sent through the model's chat template, unless `prompt` is set.
    public var messages: [(role: String, content: String)]
    /// A plain prompt, continued without the chat template (as /v1/completions does).
    public var prompt: String?
    public var temperature: Double
    public var topP: Double
    public var seed: Int
    public var maxTokens: Int?
    /// JSON Schema text the answer must match (a model grader's), enforced token by token.
    public var schema: String?

    public init(model: String, project: String, messages: [(role: String, content: String)], prompt: String? = nil,
                temperature: Double, topP: Double, seed: Int, maxTokens: Int?, schema: String? = nil) {
        self.model = model; self.project = project; self.messages = messages; self.prompt = prompt
        self.temperature = temperature; self.topP = topP; self.seed = seed; self.maxTokens = maxTokens; self.schema = schema
    }
}

extension EvalSampleRequest {
    var sampling: SamplingParameters {
        SamplingParameters(temperature: Float(temperature), topP: Float(topP), seed: UInt64(bitPattern: Int64(seed)))
    }
}

public struct EvalSample: Sendable {
    public var text: String
    public var finishReason: String
    public var promptTokens: Int
    public var completionTokens: Int
    /// Of the prompt's tokens, those whose rows came from the prompt cache.
    public var cachedTokens = 0
    /// The max_completion_tokens actually used (the request's, or what the context left).
    public var maxTokens: Int
}

public enum EvalSampleError: Error, Equatable {
    /// The run was cancelled or the server is stopping: not the item's fault, so no output item is written.
    case interrupted
    /// The model is gone (deleted since the run was created): the whole run fails.
    case modelMissing(String)
    /// This item could not be sampled (its prompt is too long, the template refused it): the item errors.
    case failed(code: String, message: String)
}

/// Interrupts one run's wait: the run loop makes one per run, cancel and shutdown fire it.
public final class EvalInterrupt: @unchecked Sendable {
    // @unchecked Sendable: `fired` and `actions` are guarded by `lock`.
    private let lock = NSLock()
    private var fired = false
    private var actions: [@Sendable () -> Void] = []

    public init() {}

    public var isFired: Bool { lock.lock(); defer { lock.unlock() }; return fired }

    public func fire() {
        lock.lock()
        fired = true
        let run = actions
        actions = []
        lock.unlock()
        for action in run { action() }
    }

    /// Runs `action` when fired (at once if it already was).
    public func onFire(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if fired { lock.unlock(); action(); return }
        actions.append(action)
        lock.unlock()
    }
}

public protocol EvalSampler: Sendable {
    func sample(_ request: EvalSampleRequest, interrupt: EvalInterrupt) throws -> EvalSample
}

/// Samples on the generation thread, which holds the ComputeGate while it works: training parks at its next layer
/// boundary for each item and continues between items, as it does for chat requests.
public final class InferenceEvalSampler: EvalSampler {
    let registry: ModelRegistry
    let inference: InferenceService
    /// Shared with the chat endpoints: a grader's schema is compiled once per model, like a response_format.
    let grammars: GrammarCache

    public init(registry: ModelRegistry, inference: InferenceService, grammars: GrammarCache) {
        self.registry = registry
        self.inference = inference
        self.grammars = grammars
    }

    public func sample(_ r: EvalSampleRequest, interrupt: EvalInterrupt) throws -> EvalSample {
        switch try registry.served(r.model, project: r.project) {
        case nil: throw EvalSampleError.modelMissing(r.model)
        case .encoderDecoder(let model)?: return try sample(r, encoderDecoder: model, interrupt: interrupt)
        case .decoder(let model)?: return try sample(r, decoder: model, interrupt: interrupt)
        }
    }

    private func sample(_ r: EvalSampleRequest, decoder model: ResolvedModel, interrupt: EvalInterrupt) throws -> EvalSample {
        let prompt: [Int]
        if let plain = r.prompt {
            prompt = model.base.tokenize(plain: plain)
        } else {
            do {
                prompt = try model.base.tokenizeChat(r.messages.map { ChatMessage(role: $0.role, content: .string($0.content)) },
                                                     addGenerationPrompt: true)
            } catch let e as TemplateError {
                throw EvalSampleError.failed(code: "invalid_messages", message: "The model's chat template rejected the messages: \(e.message)")
            }
        }
        var constraint: OutputConstraint?
        if let schema = r.schema {
            do {
                // Keyed as the chat endpoints key a response_format schema, so both share one compiled grammar.
                let value = try TailorGrammar.JSONValue(parsing: schema)
                constraint = try grammars.constraint(key: "schema:" + value.pythonText, model: model.base) {
                    try JSONSchemaGrammar.compile(schema: value)
                }
            } catch {
                throw EvalSampleError.failed(code: "invalid_json_schema", message: "The grader's answer schema \(schema) could not be compiled: \(error)")
            }
        }
        let context = model.base.contextLength
        let wanted = r.maxTokens ?? min(EvalCompletionsPlan.defaultMaxTokens, context - prompt.count)
        guard prompt.count + max(wanted, 1) <= context else {
            throw EvalSampleError.failed(code: "context_length_exceeded", message: "The prompt has \(prompt.count) tokens and max_completion_tokens is \(wanted); together they exceed the model's context of \(context) tokens. Shorten the item or lower max_completion_tokens.")
        }
        let request = InferenceRequest(model: model, prompt: prompt, maxTokens: wanted, sampling: r.sampling, constraint: constraint,
                                       cacheScope: r.project)
        return try generate(memoryBytes: request.memoryBytes, maxTokens: wanted, interrupt: interrupt) { inference.submit(request, onEvent: $0) }
    }

    /// An encoder–decoder (T5) model reads one source text, as the chat endpoint gives it one: a plain prompt, or
    /// the system and developer messages then the last message, which must be the user's. It has no grammar, so a
    /// schema (a model grader's; refused when the eval is created) cannot be followed.
    private func sample(_ r: EvalSampleRequest, encoderDecoder model: ResolvedEncoderDecoder, interrupt: EvalInterrupt) throws -> EvalSample {
        guard r.schema == nil else {
            throw EvalSampleError.failed(code: "unsupported_model", message: "\(r.model) is an encoder-decoder (T5) model: it cannot answer to a JSON schema; use a decoder model as the grader.")
        }
        let text: String
        if let plain = r.prompt {
            text = plain
        } else {
            guard let last = r.messages.last, last.role == "user" else {
                throw EvalSampleError.failed(code: "invalid_messages", message: "An encoder-decoder (T5) model answers the last message, which must be a user message: its source text is the system messages then that message.")
            }
            let system = r.messages.dropLast().filter { $0.role == "system" || $0.role == "developer" }.map(\.content)
            text = ResolvedEncoderDecoder.sourceText(system: system, last: last.content)
        }
        let source = model.model.tokenizer.encode(text, addSpecial: true)
        let wanted = r.maxTokens ?? ResolvedEncoderDecoder.defaultMaxTokens
        let request = EncoderDecoderRequest(model: model, source: source, maxTokens: wanted, sampling: r.sampling)
        return try generate(memoryBytes: request.memoryBytes, maxTokens: wanted, interrupt: interrupt) { inference.submit(request, onEvent: $0) }
    }

    /// Submits a request of `memoryBytes` (refused above the generation budget) and waits for its answer, or for the
    /// run's interrupt.
    private func generate(memoryBytes: Int, maxTokens: Int, interrupt: EvalInterrupt,
                          _ submit: (@escaping @Sendable (InferenceEvent) -> Void) -> InferenceHandle) throws -> EvalSample {
        guard memoryBytes <= inference.memoryBudget else {
            throw EvalSampleError.failed(code: "request_too_large", message: "This item would hold \(memoryBytes >> 20) MB of attention cache, more than the \(inference.memoryBudget >> 20) MB this server gives generation; shorten the item or lower max_completion_tokens.")
        }
        let wait = Wait()
        let handle = submit { wait.handle($0) }
        interrupt.onFire { handle.cancel(); wait.abandon() }
        return try wait.result(maxTokens: maxTokens)
    }

    /// One generation's events, gathered until it completes, aborts, or the run is interrupted.
    private final class Wait: @unchecked Sendable {
        // @unchecked Sendable: all state is guarded by `condition`.
        private let condition = NSCondition()
        private var text = ""
        private var reason = FinishReason.stop
        private var usage: (Int, Int, Int)?
        private var ended = false

        func handle(_ event: InferenceEvent) {
            condition.lock(); defer { condition.unlock() }
            switch event {
            case let .text(_, piece, _): text += piece
            case let .finished(_, r): reason = r
            case let .completed(p, c, cached): usage = (p, c, cached); ended = true; condition.broadcast()
            case .aborted: ended = true; condition.broadcast()
            }
        }

        func abandon() { condition.lock(); ended = true; condition.broadcast(); condition.unlock() }

        func result(maxTokens: Int) throws -> EvalSample {
            condition.lock(); defer { condition.unlock() }
            while !ended { condition.wait() }
            // Aborted (the server is stopping) or abandoned (cancelled): the run resumes or ends; the item is not at fault.
            guard let (p, c, cached) = usage else { throw EvalSampleError.interrupted }
            return EvalSample(text: text, finishReason: reason.rawValue, promptTokens: p, completionTokens: c, cachedTokens: cached,
                              maxTokens: maxTokens)
        }
    }
}
