// The generation thread: one thread owns the models' inference contexts and every KV cache. Requests are queued to
// it and answered as tokens come. Decode steps of all active sequences on the same base model run as one batch
// (rows with different LoRA adapters side by side); long prompts are prefilled in chunks between decode steps so
// running streams keep flowing; a prompt that repeats a recent one starts from its cached rows (PromptCache).
// Encoder–decoder (T5) requests take their turn on the same thread after each decoder step (EncoderDecoderBatch).
// While it has work it holds the ComputeGate, which parks training.
import Foundation
import Logging
import TailorGrammar
import TailorEngine

public struct InferenceRequest: Sendable {
    public var model: ResolvedModel
    public var prompt: [Int]
    public var n: Int
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stop: [String]
    /// nil: no log-probabilities; k: the chosen token's and the k most likely alternatives'.
    public var logprobs: Int?
    /// Set: every choice's text must match this grammar (structured outputs); tokens it forbids are never sampled.
    public var constraint: OutputConstraint?
    /// Who may share cached prompts with this request: requests of the same scope (the caller's project, as OpenAI
    /// shares prompt caches only within an organization), so that no one can time another project's prompts.
    public var cacheScope: String
    public init(model: ResolvedModel, prompt: [Int], n: Int = 1, maxTokens: Int, sampling: SamplingParameters,
                stop: [String] = [], logprobs: Int? = nil, constraint: OutputConstraint? = nil, cacheScope: String = "") {
        self.model = model; self.prompt = prompt; self.n = n; self.maxTokens = maxTokens; self.sampling = sampling
        self.stop = stop; self.logprobs = logprobs; self.constraint = constraint; self.cacheScope = cacheScope
    }

    /// The KV caches it reserves: every choice holds prompt + max tokens positions.
    public var memoryBytes: Int { n * KVCache.bytes(model.base.transformer.config, positions: prompt.count + maxTokens, halfPrecision: true) }
}

public struct GeneratedTokenInfo: Sendable {
    public var token: String
    public var bytes: [UInt8]
    public var logprob: Float
    public var top: [(token: String, bytes: [UInt8], logprob: Float)]
}

public enum InferenceEvent: Sendable {
    /// New final text of one choice, with the log-probabilities of the tokens that produced it (when asked).
    case text(choice: Int, text: String, logprobs: [GeneratedTokenInfo])
    case finished(choice: Int, reason: FinishReason)
    /// After every choice has finished; `cachedTokens` of the prompt's came from the prompt cache.
    case completed(promptTokens: Int, completionTokens: Int, cachedTokens: Int)
    /// The service dropped the request unfinished (the server is stopping); no other event follows.
    case aborted(reason: String)
}

public final class InferenceHandle: @unchecked Sendable {
    // @unchecked Sendable: `cancelled` is only read and written under `lock`.
    private let lock = NSLock()
    private var cancelled = false
    /// Stops generating for this request at the next step (the client went away).
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}

public struct InferenceStats: Sendable {
    public var activeSequences = 0
    /// Requests whose prompt is being read (prefilled); their sequences are not active yet.
    public var prefillingRequests = 0
    public var queuedRequests = 0
    public var generatedTokens = 0
    public var promptTokens = 0
    /// Of `promptTokens`, those whose rows came from the prompt cache.
    public var cachedPromptTokens = 0
    public var lastTimeToFirstToken: Double?
    public var lastDecodeTokensPerSecond: Double?
}

/// Receives one observation per prefilled request and per decode step, on the generation thread (keep it cheap).
public protocol InferenceObserver: Sendable {
    /// `cachedTokens` of the `promptTokens` came from the prompt cache.
    func inference(timeToFirstToken seconds: Double, promptTokens: Int, cachedTokens: Int)
    func inference(decoded tokens: Int, seconds: Double)
}

public final class InferenceService: @unchecked Sendable {
    // @unchecked Sendable: `pending`, `stats`, `stopping` and `stopDeadline` are guarded by `condition`; everything
    // else belongs to the generation thread.
    private final class Job: GeneratingRequest {
        let request: InferenceRequest
        let handle: InferenceHandle
        let onEvent: @Sendable (InferenceEvent) -> Void
        let submitted = Date()
        var prefilled = 0
        var cache: KVCache?
        /// Prompt tokens whose rows came from the prompt cache.
        var cachedPromptTokens = 0
        var unfinished: Int
        var completionTokens = 0
        init(_ r: InferenceRequest, _ h: InferenceHandle, _ e: @escaping @Sendable (InferenceEvent) -> Void) {
            request = r; handle = h; onEvent = e; unfinished = r.n
        }
        var promptTokenCount: Int { request.prompt.count }

        /// Asks for the same rows as `other`: the same prompt over the same base and adapter.
        func repeats(_ other: Job) -> Bool {
            request.model.base === other.request.model.base && request.model.adapter === other.request.model.adapter
                && request.cacheScope == other.request.cacheScope && request.prompt == other.request.prompt
        }
    }

    private final class Sequence: GeneratingChoice {
        let job: Job
        let choice: Int
        let cache: KVCache
        var sampler: Sampler
        var stream: TextStream
        var generated = 0
        var lastToken = 0
        var pendingLogprobs: [GeneratedTokenInfo] = []
        var done = false
        /// Where this choice's text is in its grammar, when the request constrains the output.
        let matcher: GrammarMatcher?
        init(job: Job, choice: Int, cache: KVCache) {
            self.job = job; self.choice = choice; self.cache = cache
            matcher = job.request.constraint.map { GrammarMatcher(grammar: $0.grammar, vocabulary: $0.vocabulary) }
            var p = job.request.sampling
            p.seed = p.seed &+ UInt64(choice)
            sampler = Sampler(p)
            stream = TextStream(stops: job.request.stop)
        }
    }

    public let gate: ComputeGate
    let logger: Logger
    /// Bytes of KV cache the running requests may reserve together. A request is admitted when its reservation fits
    /// beside the running ones (or nothing runs), so many large requests queue instead of exhausting memory; one
    /// larger than the whole budget must be refused before it is submitted (see `memoryBytes`).
    public let memoryBudget: Int
    /// Prompt tokens prefilled per iteration: bounds how long a long prompt holds back the other streams' next token.
    public let prefillChunk: Int
    /// Recent prompts' rows, for prompts that repeat them (the generation thread's).
    private let promptCache: PromptCache
    private let condition = NSCondition()
    private var pending: [Job] = []
    private var stopping = false
    /// When running requests are dropped once stopping has begun.
    private var stopDeadline = Date.distantFuture
    private var stats = InferenceStats()
    private var contexts: [String: InferenceContext] = [:]
    private var prefilling: [Job] = []
    private var active: [Sequence] = []
    /// Encoder–decoder requests waiting for room (guarded by `condition`), and those running (the thread's).
    private var pendingEncoderDecoder: [EncoderDecoderBatch.Job] = []
    private let encoderDecoder = EncoderDecoderBatch()
    private var thread: Thread?
    /// The generation thread is between start() and the end of its loop (guarded by `condition`).
    private var running = false

    let observer: (any InferenceObserver)?

    /// Half the machine's memory by default: the rest is the model, training and the page cache's.
    public static var defaultMemoryBudget: Int { Int(ProcessInfo.processInfo.physicalMemory / 2) }
    /// 256 MiB of cached prompts by default: ~11,000 prompt tokens of the default model's rows (23 KiB each in f16).
    public static let defaultPromptCacheBytes = 256 << 20

    /// `promptCacheBytes`: what recent prompts' rows may hold for prompts that repeat them (0: no prompt cache),
    /// beside `memoryBudget`.
    public init(gate: ComputeGate, logger: Logger, observer: (any InferenceObserver)? = nil,
                memoryBudget: Int = InferenceService.defaultMemoryBudget,
                promptCacheBytes: Int = InferenceService.defaultPromptCacheBytes, prefillChunk: Int = 256) {
        self.gate = gate
        self.logger = logger
        self.observer = observer
        self.memoryBudget = memoryBudget
        self.prefillChunk = max(1, prefillChunk)
        promptCache = PromptCache(budget: promptCacheBytes, chunk: self.prefillChunk)
    }

    public func start() {
        condition.lock(); running = true; condition.unlock()
        let t = Thread { [self] in
            self.loop()
            condition.lock(); running = false; condition.broadcast(); condition.unlock()
        }
        t.name = "tailor-generate"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// The server is stopping: new requests are refused at once, running ones get `grace` seconds to finish, then
    /// every request still here gets `.aborted` and the generation thread ends. Safe from any thread, more than once.
    public func stop(grace: TimeInterval = 0) {
        condition.lock()
        stopping = true
        stopDeadline = min(stopDeadline, Date().addingTimeInterval(grace))
        condition.broadcast()
        condition.unlock()
    }

    /// Stops (see `stop`), then waits for the generation thread to end: nothing computes after this returns, so the
    /// process can exit without a step still running while the libraries it calls are torn down.
    public func shutdown(grace: TimeInterval = 0) {
        stop(grace: grace)
        condition.lock()
        while running { condition.wait() }
        condition.unlock()
    }

    static let stoppingReason = "The server is shutting down and stopped this generation; send the request again once it is back."

    public func submit(_ request: InferenceRequest, onEvent: @escaping @Sendable (InferenceEvent) -> Void) -> InferenceHandle {
        enqueue(onEvent) { pending.append(Job(request, $0, onEvent)) }
    }

    /// Queues an encoder–decoder request; its events are those of a decoder's.
    public func submit(_ request: EncoderDecoderRequest, onEvent: @escaping @Sendable (InferenceEvent) -> Void) -> InferenceHandle {
        enqueue(onEvent) { pendingEncoderDecoder.append(EncoderDecoderBatch.Job(request, $0, onEvent)) }
    }

    /// Adds a request to its queue (`append`, under the lock) and wakes the generation thread; a stopping service
    /// aborts it at once instead.
    private func enqueue(_ onEvent: @Sendable (InferenceEvent) -> Void, _ append: (InferenceHandle) -> Void) -> InferenceHandle {
        let handle = InferenceHandle()
        condition.lock()
        guard !stopping else {
            condition.unlock()
            onEvent(.aborted(reason: Self.stoppingReason))
            return handle
        }
        append(handle)
        stats.queuedRequests = pending.count + pendingEncoderDecoder.count
        condition.broadcast()
        condition.unlock()
        return handle
    }

    public var currentStats: InferenceStats {
        condition.lock(); defer { condition.unlock() }
        return stats
    }

    // MARK: the generation thread

    private func loop() {
        var holdingGate = false
        while true {
            condition.lock()
            while idle && !stopping {
                if holdingGate { gate.endInference(); holdingGate = false }
                condition.wait()
            }
            if stopping && (Date() >= stopDeadline || idle) {
                condition.unlock()
                break
            }
            admitPending()
            condition.unlock()
            if !holdingGate { gate.beginInference(); holdingGate = true }

            prefilling.removeAll { $0.handle.isCancelled }
            if !prefilling.isEmpty { prefillStep() }
            active.removeAll { $0.done || $0.job.handle.isCancelled }
            if !active.isEmpty { decodeStep() }
            active.removeAll { $0.done || $0.job.handle.isCancelled }
            encoderDecoderStep()
            condition.lock()
            stats.activeSequences = active.count + encoderDecoder.active.count
            stats.prefillingRequests = prefilling.count + encoderDecoder.encoding.count
            condition.unlock()
        }
        abortEverything()
        if holdingGate { gate.endInference() }
    }

    /// Nothing queued or running (call with `condition` locked).
    private var idle: Bool {
        pending.isEmpty && prefilling.isEmpty && active.isEmpty && pendingEncoderDecoder.isEmpty && encoderDecoder.isIdle
    }

    /// The encoder–decoder requests' turn: one source encoded, then one token for each running choice.
    private func encoderDecoderStep() {
        encoderDecoder.dropCancelled()
        if let job = encoderDecoder.encodeNext() {
            let ttft = Date().timeIntervalSince(job.submitted)
            condition.lock()
            stats.promptTokens += job.request.source.count
            stats.lastTimeToFirstToken = ttft
            condition.unlock()
            observer?.inference(timeToFirstToken: ttft, promptTokens: job.request.source.count, cachedTokens: 0)
        }
        guard !encoderDecoder.active.isEmpty else { return }
        let started = Date()
        let produced = encoderDecoder.decodeStep()
        let seconds = Date().timeIntervalSince(started)
        condition.lock()
        stats.generatedTokens += produced
        stats.lastDecodeTokensPerSecond = Double(produced) / max(seconds, 1e-9)
        condition.unlock()
        observer?.inference(decoded: produced, seconds: seconds)
    }

    /// Moves waiting requests, oldest first, into prefilling while their KV reservations fit the budget beside the
    /// running ones'; the first that does not fit waits (and those behind it, so a large request is not starved).
    /// Call with `condition` locked.
    private func admitPending() {
        var running = Set<ObjectIdentifier>()
        var inUse = 0
        for job in prefilling + active.map(\.job) where running.insert(ObjectIdentifier(job)).inserted {
            inUse += job.request.memoryBytes
        }
        for job in encoderDecoder.runningJobs { running.insert(ObjectIdentifier(job)); inUse += job.request.memoryBytes }
        while let next = pending.first, running.isEmpty || inUse + next.request.memoryBytes <= memoryBudget {
            pending.removeFirst()
            prefilling.append(next)
            running.insert(ObjectIdentifier(next))
            inUse += next.request.memoryBytes
        }
        while let next = pendingEncoderDecoder.first, running.isEmpty || inUse + next.request.memoryBytes <= memoryBudget {
            pendingEncoderDecoder.removeFirst()
            encoderDecoder.encoding.append(next)
            running.insert(ObjectIdentifier(next))
            inUse += next.request.memoryBytes
        }
        stats.queuedRequests = pending.count + pendingEncoderDecoder.count
    }

    /// Ends every request still here with `.aborted`, once each, so no handler waits for ever.
    private func abortEverything() {
        condition.lock()
        let queued = pending
        pending.removeAll()
        let queuedEncoderDecoder = pendingEncoderDecoder
        pendingEncoderDecoder.removeAll()
        stats = InferenceStats(generatedTokens: stats.generatedTokens, promptTokens: stats.promptTokens)
        condition.unlock()
        var seen = Set<ObjectIdentifier>()
        for job in queued + prefilling + active.map(\.job) where !job.handle.isCancelled && seen.insert(ObjectIdentifier(job)).inserted {
            job.onEvent(.aborted(reason: Self.stoppingReason))
        }
        prefilling.removeAll()
        active.removeAll()
        for job in queuedEncoderDecoder + encoderDecoder.drain() where !job.handle.isCancelled {
            job.onEvent(.aborted(reason: Self.stoppingReason))
        }
    }

    private func context(for model: LanguageModel) -> InferenceContext {
        if let c = contexts[model.name] { return c }
        let c = InferenceContext(model: model.transformer, maxRows: max(prefillChunk, 64))
        contexts[model.name] = c
        return c
    }

    /// The next chunk of each waiting prompt over the oldest one's base model, oldest first, in one forward while
    /// they fit in `prefillChunk` rows (always at least the oldest's); prompts whose last chunk ran join the decode
    /// batch. A prompt's chunks are the same whoever shares the forward (each starts at a multiple of
    /// `prefillChunk`), and the context picks each chunk's kernel by its own length, so a prompt's logits do not
    /// depend on which other requests arrived with it — nor on whether its first chunks came from the prompt cache.
    private func prefillStep() {
        let base = prefilling[0].request.model.base
        var batch: [Job] = [], rows: [ForwardRow] = [], cached: [(Job, [Float])] = []
        for (index, job) in prefilling.enumerated() where job.request.model.base === base {
            let r = job.request
            if job.cache == nil {
                if let hit = promptCache.lookup(base: base, adapter: r.model.adapter, scope: r.cacheScope, prompt: r.prompt) {
                    job.cache = hit.rows.clone(capacity: r.prompt.count + r.maxTokens, positions: hit.positions)
                    job.prefilled = hit.positions
                    job.cachedPromptTokens = hit.positions
                    if let logits = hit.logits { cached.append((job, logits)); continue }
                } else if promptCache.isEnabled, prefilling[..<index].contains(where: { $0.repeats(job) }) {
                    // The same prompt is being prefilled: take its rows from the cache once it is done. (A prompt that
                    // shares whole chunks with an earlier one waits for them anyway: its first chunk fills a forward's
                    // rows, so it never fits beside the earlier prompt's next one.)
                    continue
                }
            }
            let end = min(r.prompt.count, job.prefilled + prefillChunk)
            guard batch.isEmpty || rows.count + end - job.prefilled <= prefillChunk else { break }
            if job.cache == nil {
                job.cache = KVCache(config: base.transformer.config, capacity: r.prompt.count + r.maxTokens, halfPrecision: true)
            }
            let sequence = batch.count
            rows += (job.prefilled..<end).map {
                ForwardRow(token: r.prompt[$0], position: $0, sequence: sequence, adapter: r.model.adapter,
                           wantsLogits: $0 == r.prompt.count - 1)
            }
            batch.append(job)
        }
        for (job, logits) in cached { startDecoding(job, logits: logits) }
        guard !batch.isEmpty else { return }
        let logits = context(for: base).forward(rows, caches: batch.map { $0.cache! })
        let V = base.transformer.config.vocabSize
        var finished = 0
        for job in batch {
            let r = job.request
            job.prefilled = min(r.prompt.count, job.prefilled + prefillChunk)
            guard job.prefilled == r.prompt.count else { continue }
            let first = Array(logits[(finished * V)..<((finished + 1) * V)])
            finished += 1
            promptCache.insert(base: base, adapter: r.model.adapter, scope: r.cacheScope, prompt: r.prompt, rows: job.cache!, logits: first)
            startDecoding(job, logits: first)
        }
    }

    /// A prompt is read (prefilled, or found in the prompt cache) and `logits` are its last row's: its choices
    /// sample their first tokens and join the decode batch.
    private func startDecoding(_ job: Job, logits first: [Float]) {
        let r = job.request
        prefilling.removeAll { $0 === job }
        condition.lock()
        stats.promptTokens += r.prompt.count
        stats.cachedPromptTokens += job.cachedPromptTokens
        condition.unlock()
        let cache = job.cache!
        for choice in 0..<r.n {
            let c = choice == 0 ? cache : cache.clone(capacity: r.prompt.count + r.maxTokens)
            let s = Sequence(job: job, choice: choice, cache: c)
            first.withUnsafeBufferPointer { accept(s, logits: $0) }
            if !s.done { active.append(s) }
        }
        let ttft = Date().timeIntervalSince(job.submitted)
        condition.lock(); stats.lastTimeToFirstToken = ttft; condition.unlock()
        observer?.inference(timeToFirstToken: ttft, promptTokens: r.prompt.count, cachedTokens: job.cachedPromptTokens)
    }

    /// One token for every active sequence, batched per base model.
    private func decodeStep() {
        let started = Date()
        var byModel: [String: [Sequence]] = [:]
        for s in active { byModel[s.job.request.model.base.name, default: []].append(s) }
        var produced = 0
        for (_, seqs) in byModel {
            let ctx = context(for: seqs[0].job.request.model.base)
            let rows = seqs.enumerated().map { i, s in
                ForwardRow(token: s.lastToken, position: s.cache.count, sequence: i, adapter: s.job.request.model.adapter, wantsLogits: true)
            }
            let logits = ctx.forward(rows, caches: seqs.map(\.cache))
            let V = seqs[0].job.request.model.base.transformer.config.vocabSize
            // The unconstrained draws in parallel (each sequence's own sampler and stream of random numbers, so the
            // same tokens as one by one); then, in order, what streams and ends.
            let free = seqs.indices.filter { seqs[$0].matcher == nil }
            var drawn = [Int](repeating: -1, count: seqs.count)
            drawn.withUnsafeMutableBufferPointer { out in
                parallelFor(free.count) { j in
                    let i = free[j]
                    out[i] = seqs[i].sampler.sample(UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)]))
                }
            }
            for (i, s) in seqs.enumerated() {
                accept(s, logits: UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)]), drawn: drawn[i] >= 0 ? drawn[i] : nil)
            }
            produced += seqs.count
        }
        let seconds = Date().timeIntervalSince(started)
        condition.lock()
        stats.generatedTokens += produced
        stats.lastDecodeTokensPerSecond = Double(produced) / max(seconds, 1e-9)
        condition.unlock()
        observer?.inference(decoded: produced, seconds: seconds)
    }

    /// Samples the next token of `s` from `logits` (or takes `drawn`, already sampled from them), streams what became
    /// final, and ends the sequence when it stops.
    private func accept(_ s: Sequence, logits: UnsafeBufferPointer<Float>, drawn: Int? = nil) {
        let r = s.job.request, tokenizer = r.model.base.tokenizer
        let token: Int
        if let matcher = s.matcher {
            // Complete, and nothing may follow: the choice ends here rather than sample a token the grammar forbids.
            if matcher.isTerminated { s.finish(.stop); return }
            var masked = Array(logits)
            let allowed = matcher.allowedTokens()
            for i in masked.indices where allowed[i >> 6] & (1 << UInt64(i & 63)) == 0 { masked[i] = -.infinity }
            token = masked.withUnsafeBufferPointer { s.sampler.sample($0) }
            guard masked[token] > -.infinity, tokenizer.endOfTurnTokens.contains(token) || matcher.accept(token: token) else {
                // Only when no token at all was allowed (a grammar the vocabulary cannot spell): stop, not break the text.
                s.finish(.stop)
                return
            }
        } else {
            token = drawn ?? s.sampler.sample(logits)
        }
        if let k = r.logprobs {
            let lp = TokenLogprob(logits: logits, chosen: token, topCount: k)
            func info(_ t: Int) -> (String, [UInt8]) { let b = tokenizer.tokenBytes(t); return (String(decoding: b, as: UTF8.self), b) }
            let (text, bytes) = info(token)
            s.pendingLogprobs.append(GeneratedTokenInfo(token: text, bytes: bytes, logprob: lp.logprob,
                                                        top: lp.top.map { let (t, b) = info($0.token); return (t, b, $0.logprob) }))
        }
        if tokenizer.endOfTurnTokens.contains(token) {
            s.finish(.stop)
            return
        }
        s.lastToken = token
        s.emit(tokenizer.tokenBytes(token), maxTokens: r.maxTokens)
    }
}
