// Encoder–decoder requests on the generation thread: the streamed pieces of every choice join to the text that
// T5Model.generate decodes (greedy, so every choice is the same), usage counts the source and the generated tokens,
// a stop sequence ends a choice, a request still queued when the service stops gets `.aborted`, and shutdown()
// returns only once the generation thread has ended (every request already answered).
import Foundation
import Logging
import Testing
import TailorEngine
@testable import TailorJobs

struct EncoderDecoderInferenceTests {
    /// The tiny Flan-T5 fixture with its Unigram tokenizer, as a user's directory has them side by side.
    static func model() throws -> T5Model {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../TailorEngineTests/Fixtures/t5").standardized
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (sub, file) in [("tiny-flan", "config.json"), ("tiny-flan", "model.safetensors"), ("unigram", "tokenizer.json"),
                            ("unigram", "tokenizer_config.json")] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("\(sub)/\(file)"), to: dir.appendingPathComponent(file))
        }
        return try T5Model(directory: dir.path)
    }

    final class Events: @unchecked Sendable {
        let condition = NSCondition()
        var texts: [Int: String] = [:]
        var reasons: [Int: FinishReason] = [:]
        var usage: (Int, Int)?
        var aborted = false
        func handle(_ e: InferenceEvent) {
            condition.lock(); defer { condition.broadcast(); condition.unlock() }
            switch e {
            case let .text(i, t, _): texts[i, default: ""] += t
            case let .finished(i, r): reasons[i] = r
            case let .completed(p, c, _): usage = (p, c)
            case .aborted: aborted = true
            }
        }
        func wait() -> Bool {
            condition.lock(); defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(120)
            while usage == nil && !aborted { if !condition.wait(until: deadline) { return false } }
            return true
        }
    }

    static func request(_ model: T5Model, _ text: String, n: Int = 1, maxTokens: Int = 12, stop: [String] = []) -> EncoderDecoderRequest {
        let served = ResolvedEncoderDecoder(id: "tiny-flan", kind: .base, baseName: "tiny-flan", model: model, created: 0, ownedBy: "tailor")
        return EncoderDecoderRequest(model: served, source: model.tokenizer.encode(text, addSpecial: true), n: n,
                                     maxTokens: maxTokens, sampling: .greedy, stop: stop)
    }

    @Test func choicesStreamTheGreedyTextWithUsageAndStops() throws {
        let model = try Self.model()
        let service = InferenceService(gate: ComputeGate(), logger: Logger(label: "test"))
        service.start()
        defer { service.stop() }
        for text in ["Hello world", "summarize: the house is wonderful and large"] {
            let want = model.generate(text, maxTokens: 12)
            let events = Events()
            _ = service.submit(Self.request(model, text, n: 2)) { events.handle($0) }
            #expect(events.wait())
            #expect(events.texts[0] == want.text && events.texts[1] == want.text, "\(events.texts) vs \(want.text)")
            #expect(events.reasons[0] == want.finishReason)
            #expect(events.usage?.0 == model.tokenizer.encode(text, addSpecial: true).count)
            #expect(events.usage?.1 == 2 * want.tokens.count)
            // A stop sequence inside the text ends it there.
            let chars = Array(want.text)
            try #require(chars.count > 6, "the greedy text \(want.text) is too short to hold a stop sequence")
            let stop = String(chars[3..<6])
            let stopped = Events()
            _ = service.submit(Self.request(model, text, stop: [stop])) { stopped.handle($0) }
            #expect(stopped.wait())
            let cut = want.text.range(of: stop)!.lowerBound
            #expect(stopped.texts[0, default: ""] == String(want.text[..<cut]) && stopped.reasons[0] == .stop)
        }
    }

    @Test func aQueuedRequestIsAbortedWhenTheServiceStops() throws {
        let model = try Self.model()
        let service = InferenceService(gate: ComputeGate(), logger: Logger(label: "test"))
        let events = Events()
        _ = service.submit(Self.request(model, "Hello world")) { events.handle($0) }
        service.stop()
        service.start()
        #expect(events.wait())
        #expect(events.aborted && events.usage == nil)
    }

    /// The server exits right after shutdown(): a step still running then would compute while the process tears down
    /// (a SIGSEGV at exit once, in CI). So every request is answered, and the thread gone, when shutdown() returns.
    @Test func shutdownReturnsOnceTheGenerationThreadHasEnded() throws {
        let model = try Self.model()
        let service = InferenceService(gate: ComputeGate(), logger: Logger(label: "test"))
        service.start()
        var all: [Events] = []
        for i in 0..<8 {
            let events = Events()
            _ = service.submit(Self.request(model, "summarize: request \(i) of many, long enough to take a while", n: 4,
                                            maxTokens: 400)) { events.handle($0) }
            all.append(events)
        }
        service.shutdown()
        for (i, events) in all.enumerated() {
            events.condition.lock()
            #expect(events.aborted || events.usage != nil, "request \(i) was not answered when shutdown() returned")
            events.condition.unlock()
        }
        let late = Events()
        _ = service.submit(Self.request(model, "Hello world")) { late.handle($0) }
        #expect(late.aborted, "a request after shutdown is refused at once")
    }
}
