// The encoder–decoder requests on the generation thread (InferenceService owns one and calls it from its loop only):
// a request's source is encoded once (its prefill, which also gives the first token), then every active choice
// decodes one token per step over its own T5DecoderCache, greedy or sampled through the shared Sampler, its text
// released through TextStream (stop sequences, whole UTF-8 characters) exactly as a decoder's is.
import Foundation
import TailorEngine

final class EncoderDecoderBatch {
    final class Job: GeneratingRequest {
        let request: EncoderDecoderRequest
        let handle: InferenceHandle
        let onEvent: @Sendable (InferenceEvent) -> Void
        let submitted = Date()
        var unfinished: Int
        var completionTokens = 0
        init(_ r: EncoderDecoderRequest, _ h: InferenceHandle, _ e: @escaping @Sendable (InferenceEvent) -> Void) {
            request = r; handle = h; onEvent = e; unfinished = r.n
        }
        var promptTokenCount: Int { request.source.count }
        var cachedPromptTokens: Int { 0 }
    }

    final class Sequence: GeneratingChoice {
        let job: Job
        let choice: Int
        let cache: T5DecoderCache
        var sampler: Sampler
        var stream: TextStream
        var generated = 0
        var lastToken: Int
        /// No token has given text yet (its leading space is dropped, as decode drops it).
        var first = true
        var pendingLogprobs: [GeneratedTokenInfo] = []
        var done = false
        init(job: Job, choice: Int, cache: T5DecoderCache) {
            self.job = job; self.choice = choice; self.cache = cache
            lastToken = job.request.model.model.config.decoderStartToken
            var p = job.request.sampling
            p.seed = p.seed &+ UInt64(choice)
            sampler = Sampler(p)
            stream = TextStream(stops: job.request.stop)
        }
    }

    /// Admitted, not encoded yet.
    var encoding: [Job] = []
    var active: [Sequence] = []

    var isIdle: Bool { encoding.isEmpty && active.isEmpty }
    var runningJobs: [Job] {
        var seen = Set<ObjectIdentifier>()
        return (encoding + active.map(\.job)).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    func dropCancelled() {
        encoding.removeAll { $0.handle.isCancelled }
        active.removeAll { $0.done || $0.job.handle.isCancelled }
    }

    /// Encodes the oldest waiting source and starts its choices (each decodes its first token from the start
    /// token here). Returns the job, for time-to-first-token.
    func encodeNext() -> Job? {
        guard !encoding.isEmpty else { return nil }
        let job = encoding.removeFirst()
        let r = job.request, model = r.model.model
        let states = model.encode(r.source)
        for choice in 0..<r.n {
            let s = Sequence(job: job, choice: choice, cache: T5DecoderCache(model: model, encoderStates: states, capacity: r.maxTokens + 1))
            if r.maxTokens == 0 { s.finish(.length); continue }
            step(s)
            if !s.done { active.append(s) }
        }
        return job
    }

    /// One token for every active choice. Returns how many tokens were decoded.
    func decodeStep() -> Int {
        let running = active
        for s in running { step(s) }
        active.removeAll { $0.done }
        return running.count
    }

    /// Decodes `s`'s last token and samples the next.
    private func step(_ s: Sequence) {
        let r = s.job.request, model = r.model.model, tokenizer = model.tokenizer
        let logits = model.decode([s.lastToken], cache: s.cache)
        let token = logits.withUnsafeBufferPointer { s.sampler.sample($0) }
        if let k = r.logprobs {
            let lp = logits.withUnsafeBufferPointer { TokenLogprob(logits: $0, chosen: token, topCount: k) }
            func info(_ t: Int) -> (String, [UInt8]) { let b = tokenizer.tokenBytes(t); return (String(decoding: b, as: UTF8.self), b) }
            let (text, bytes) = info(token)
            s.pendingLogprobs.append(GeneratedTokenInfo(token: text, bytes: bytes, logprob: lp.logprob,
                                                        top: lp.top.map { let (t, b) = info($0.token); return (t, b, $0.logprob) }))
        }
        if token == model.config.eos { s.finish(.stop); return }
        s.lastToken = token
        let bytes = tokenizer.generatedPiece(token, first: s.first)
        if bytes != nil { s.first = false }
        s.emit(bytes, maxTokens: r.maxTokens)
    }

    /// Forgets everything (the server is stopping); returns the jobs that had not completed.
    func drain() -> [Job] {
        let jobs = runningJobs
        encoding.removeAll()
        active.removeAll()
        return jobs
    }
}
