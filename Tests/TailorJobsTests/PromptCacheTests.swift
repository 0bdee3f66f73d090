// The prompt cache over the default model: a prompt that repeats a cached one (whole, or in whole chunks) is answered
// with exactly the tokens and log-probabilities a service without the cache gives, and reports what it reused;
// identical prompts arriving together are prefilled once; adapters and projects never share rows; entries go over the budget
// least recently used first, and with their adapter.
import Foundation
import Logging
import Testing
@testable import TailorEngine
@testable import TailorJobs

struct PromptCacheTests {
    /// What a request's client saw: every choice's text and log-probabilities, and the usage.
    final class Answer: @unchecked Sendable {
        // @unchecked Sendable: guarded by `condition`.
        let condition = NSCondition()
        var text = "", logprobs: [Float] = [], usage: (prompt: Int, completion: Int, cached: Int)?, aborted = false
        func handle(_ e: InferenceEvent) {
            condition.lock(); defer { condition.broadcast(); condition.unlock() }
            switch e {
            case let .text(_, t, lps): text += t; logprobs += lps.map(\.logprob)
            case let .completed(p, c, cached): usage = (p, c, cached)
            case .aborted: aborted = true
            case .finished: break
            }
        }
        func wait() -> Bool {
            condition.lock(); defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(300)
            while usage == nil && !aborted { if !condition.wait(until: deadline) { return false } }
            return usage != nil
        }
    }

    struct Setup {
        let lm: LanguageModel
        let adapters: [LoRAAdapter]
        func model(_ adapter: Int?) -> ResolvedModel {
            ResolvedModel(id: adapter.map { "a\($0)" } ?? lm.name, kind: adapter == nil ? .base : .fineTuned, base: lm,
                          adapter: adapter.map { adapters[$0] }, created: 0, ownedBy: "test")
        }
        func request(_ prompt: [Int], adapter: Int?, seed: UInt64, maxTokens: Int = 8, scope: String = "p") -> InferenceRequest {
            InferenceRequest(model: model(adapter), prompt: prompt, maxTokens: maxTokens,
                             sampling: SamplingParameters(temperature: 1, seed: seed), logprobs: 2, cacheScope: scope)
        }
        func chat(_ text: String) -> [Int] { lm.tokenize(rendered: try! lm.renderChat([.user(text)], addGenerationPrompt: true)) }
    }

    static func setup() throws -> Setup? {
        guard let path = try BatchedServingTests.modelPath() else { return nil }
        let lm = try LanguageModel(path: path)
        lm.transformer.prepareForInference()
        return Setup(lm: lm, adapters: [1, 2].map { LoRAParameters.randomAdapter(model: lm.transformer.config, seed: $0, std: 0.02) })
    }

    static func service(cacheBytes: Int, chunk: Int = 256) -> InferenceService {
        let s = InferenceService(gate: ComputeGate(), logger: Logger(label: "test"), promptCacheBytes: cacheBytes, prefillChunk: chunk)
        s.start()
        return s
    }

    static func ask(_ service: InferenceService, _ r: InferenceRequest) -> Answer {
        let a = Answer()
        _ = service.submit(r) { a.handle($0) }
        #expect(a.wait())
        return a
    }

    static func expectSame(_ a: Answer, _ b: Answer, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.text == b.text, "\(what): \(a.text) vs \(b.text)", sourceLocation: sourceLocation)
        #expect(a.logprobs == b.logprobs, "\(what): log-probabilities differ", sourceLocation: sourceLocation)
        #expect(!a.logprobs.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func aRepeatedPromptIsAnsweredFromTheCacheExactlyAsWithout() throws {
        guard let s = try Self.setup() else { return }
        let cached = Self.service(cacheBytes: 64 << 20), plain = Self.service(cacheBytes: 0)
        defer { cached.stop(); plain.stop() }
        let prompt = s.chat("My tablet will not charge. What should I do?")
        let first = Self.ask(cached, s.request(prompt, adapter: 0, seed: 7))
        let again = Self.ask(cached, s.request(prompt, adapter: 0, seed: 7))
        let other = Self.ask(cached, s.request(prompt, adapter: 0, seed: 8))
        #expect(first.usage?.cached == 0)
        #expect(again.usage?.cached == prompt.count && again.usage?.prompt == prompt.count)
        #expect(other.usage?.cached == prompt.count)
        let reference = Self.ask(plain, s.request(prompt, adapter: 0, seed: 7))
        #expect(reference.usage?.cached == 0)
        Self.expectSame(first, reference, "first")
        Self.expectSame(again, reference, "repeated")
        Self.expectSame(other, Self.ask(plain, s.request(prompt, adapter: 0, seed: 8)), "another seed")
        #expect(cached.currentStats.cachedPromptTokens == 2 * prompt.count)
        #expect(plain.currentStats.cachedPromptTokens == 0)
    }

    /// With chunks of 16 tokens, a prompt that shares 40 tokens with a cached one starts from its first 32 rows and
    /// computes the rest, to the same bits as a prefill from the start.
    @Test func aSharedPrefixIsReusedInWholeChunks() throws {
        guard let s = try Self.setup() else { return }
        let cached = Self.service(cacheBytes: 64 << 20, chunk: 16), plain = Self.service(cacheBytes: 0, chunk: 16)
        defer { cached.stop(); plain.stop() }
        let text = s.lm.tokenize(plain: "The customer wrote that the charger was warm to the touch, that the cable had frayed near the "
                                 + "plug after a month of use, that the outlet worked for a lamp, and that the little light")
        try #require(text.count >= 40)
        let a = Array(text.prefix(40)) + s.lm.tokenize(plain: " on the tablet never came on at all.")
        let b = Array(text.prefix(40)) + s.lm.tokenize(plain: " blinked twice and then went dark for good.")
        _ = Self.ask(cached, s.request(a, adapter: 1, seed: 3))
        let reused = Self.ask(cached, s.request(b, adapter: 1, seed: 3))
        #expect(reused.usage?.cached == 32)
        Self.expectSame(reused, Self.ask(plain, s.request(b, adapter: 1, seed: 3)), "prefix reused")
        // A prompt that ends inside the cached one's rows still computes its last token (for its logits).
        let short = Array(a.prefix(32))
        let inside = Self.ask(cached, s.request(short, adapter: 1, seed: 5))
        #expect(inside.usage?.cached == 16)
        Self.expectSame(inside, Self.ask(plain, s.request(short, adapter: 1, seed: 5)), "prefix of a cached prompt")
        // Shorter than a chunk in common: nothing reused.
        let brief = Array(text.prefix(10)) + s.lm.tokenize(plain: " was fine.")
        #expect(Self.ask(cached, s.request(brief, adapter: 1, seed: 5)).usage?.cached == 0)
    }

    @Test func adaptersTheBaseAndProjectsNeverShareRows() throws {
        guard let s = try Self.setup() else { return }
        let cached = Self.service(cacheBytes: 64 << 20), plain = Self.service(cacheBytes: 0)
        defer { cached.stop(); plain.stop() }
        let prompt = s.chat("Write a haiku about rain.")
        _ = Self.ask(cached, s.request(prompt, adapter: 0, seed: 1))
        for adapter in [1, nil] as [Int?] {
            let answer = Self.ask(cached, s.request(prompt, adapter: adapter, seed: 1))
            #expect(answer.usage?.cached == 0, "adapter \(String(describing: adapter))")
            Self.expectSame(answer, Self.ask(plain, s.request(prompt, adapter: adapter, seed: 1)), "adapter \(String(describing: adapter))")
        }
        let elsewhere = Self.ask(cached, s.request(prompt, adapter: 0, seed: 1, scope: "q"))
        #expect(elsewhere.usage?.cached == 0, "another project's rows were reused")
        #expect(Self.ask(cached, s.request(prompt, adapter: 0, seed: 1)).usage?.cached == prompt.count)
    }

    /// Four requests with one prompt, submitted at once: one prefill, three answered from its rows, each with the
    /// text it gets alone.
    @Test func identicalPromptsArrivingTogetherArePrefilledOnce() throws {
        guard let s = try Self.setup() else { return }
        let cached = Self.service(cacheBytes: 64 << 20), plain = Self.service(cacheBytes: 0)
        defer { cached.stop(); plain.stop() }
        let prompt = s.chat("How do I reset my watch?")
        let requests = (0..<4).map { s.request(prompt, adapter: 0, seed: UInt64(20 + $0)) }
        let together = requests.map { _ in Answer() }
        for (r, a) in zip(requests, together) { _ = cached.submit(r) { a.handle($0) } }
        for a in together { #expect(a.wait()) }
        #expect(together.map { $0.usage?.cached ?? -1 }.sorted() == [0, prompt.count, prompt.count, prompt.count])
        for (r, a) in zip(requests, together) { Self.expectSame(a, Self.ask(plain, r), "seed \(r.sampling.seed)") }
        #expect(Set(together.map(\.text)).count > 1, "the seeds give different texts")
    }

    /// With chunks of 16, three prompts that share 40 tokens, submitted at once: the first is prefilled from the start,
    /// the others start from its first 32 rows (a prompt's whole chunk never shares a forward with an earlier prompt's,
    /// so they are prefilled after it), each to the bits it gets alone.
    @Test func aSharedPrefixArrivingTogetherIsPrefilledOnce() throws {
        guard let s = try Self.setup() else { return }
        let cached = Self.service(cacheBytes: 64 << 20, chunk: 16), plain = Self.service(cacheBytes: 0, chunk: 16)
        defer { cached.stop(); plain.stop() }
        let text = s.lm.tokenize(plain: "Rules for the support bot: answer in one short paragraph, quote the manual's section, never "
                                 + "promise a refund, always ask for the device's serial number before anything else, and end by "
                                 + "asking whether the answer helped.")
        try #require(text.count >= 40)
        let prompts = [" My phone is cracked.", " The charger hums.", " Where is the serial?"].map { Array(text.prefix(40)) + s.lm.tokenize(plain: $0) }
        let requests = prompts.enumerated().map { i, p in s.request(p, adapter: 1, seed: UInt64(60 + i)) }
        let together = requests.map { _ in Answer() }
        for (r, a) in zip(requests, together) { _ = cached.submit(r) { a.handle($0) } }
        for a in together { #expect(a.wait()) }
        #expect(together.map { $0.usage?.cached ?? -1 } == [0, 32, 32])
        for (r, a) in zip(requests, together) { Self.expectSame(a, Self.ask(plain, r), "seed \(r.sampling.seed)") }
    }

    @Test func entriesGoLeastRecentlyUsedFirstAndWithTheirAdapter() throws {
        guard let s = try Self.setup() else { return }
        let prompts = ["one", "two", "three"].map { s.chat("Say \($0).") }
        let cfg = s.lm.transformer.config
        let entry = KVCache.bytes(cfg, positions: prompts[0].count, halfPrecision: true) + cfg.vocabSize * 4
        let cache = PromptCache(budget: 2 * entry + entry / 2, chunk: 256)   // two entries fit, not three
        let rows = KVCache(config: cfg, capacity: 64, halfPrecision: true)
        rows.count = prompts.map(\.count).max()!
        let logits = [Float](repeating: 0, count: cfg.vocabSize)
        var adapter: LoRAAdapter? = LoRAParameters.randomAdapter(model: cfg, seed: 9, std: 0.02)
        cache.insert(base: s.lm, adapter: adapter, prompt: prompts[0], rows: rows, logits: logits)
        cache.insert(base: s.lm, adapter: adapter, prompt: prompts[1], rows: rows, logits: logits)
        #expect(cache.lookup(base: s.lm, adapter: adapter, prompt: prompts[0])?.positions == prompts[0].count)   // now the newer
        cache.insert(base: s.lm, adapter: adapter, prompt: prompts[2], rows: rows, logits: logits)
        #expect(cache.count == 2 && cache.bytes <= cache.budget)
        #expect(cache.lookup(base: s.lm, adapter: adapter, prompt: prompts[1]) == nil, "the least recently used went")
        #expect(cache.lookup(base: s.lm, adapter: adapter, prompt: prompts[0]) != nil)
        #expect(cache.lookup(base: s.lm, adapter: nil, prompt: prompts[0]) == nil, "the base does not see an adapter's rows")
        adapter = nil   // unloaded: its entries are dropped at the next insert
        cache.insert(base: s.lm, adapter: nil, prompt: prompts[1], rows: rows, logits: logits)
        #expect(cache.count == 1 && cache.lookup(base: s.lm, adapter: nil, prompt: prompts[1]) != nil)
        // An entry larger than the whole budget is not kept.
        let tiny = PromptCache(budget: entry / 2, chunk: 256)
        tiny.insert(base: s.lm, adapter: nil, prompt: prompts[0], rows: rows, logits: logits)
        #expect(tiny.count == 0)
    }
}
