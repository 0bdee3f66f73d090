// Requests served together give each the text it gets alone: seeded sampling over the default model, some with LoRA
// adapters, prefilled and decoded in shared batches (LoRA rows grouped per adapter and run in parallel, the draws in
// parallel) against the same requests one at a time.
import Foundation
import Logging
import Testing
import TailorEngine
@testable import TailorJobs

struct BatchedServingTests {
    static func modelPath() throws -> String? {
        if ProcessInfo.processInfo.environment["TAILOR_SKIP_MODEL_TESTS"] == "1" { return nil }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = ProcessInfo.processInfo.environment["TAILOR_TEST_MODEL"] ?? root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        try #require(FileManager.default.fileExists(atPath: path), "the default model is missing at \(path): run `make models`")
        return path
    }

    final class Texts: @unchecked Sendable {
        // @unchecked Sendable: guarded by `condition`.
        let condition = NSCondition()
        var texts: [Int: String] = [:], done: Set<Int> = []
        func handle(_ request: Int, _ e: InferenceEvent) {
            condition.lock(); defer { condition.broadcast(); condition.unlock() }
            switch e {
            case let .text(_, t, _): texts[request, default: ""] += t
            case .completed, .aborted: done.insert(request)
            case .finished: break
            }
        }
        func wait(for count: Int) -> Bool {
            condition.lock(); defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(300)
            while done.count < count { if !condition.wait(until: deadline) { return false } }
            return true
        }
    }

    @Test func requestsServedTogetherGetTheTextTheyGetAlone() throws {
        guard let path = try Self.modelPath() else { return }
        let lm = try LanguageModel(path: path)
        lm.transformer.prepareForInference()
        let adapters = [1, 2].map { LoRAParameters.randomAdapter(model: lm.transformer.config, seed: $0, std: 0.02) }
        let plan: [Int?] = [0, nil, 0, 1, 1, nil, 0, 1]
        let questions = ["My tablet will not charge. What should I do?", "Tell me a story about a lighthouse.",
                         "How do I reset my watch?", "Write a haiku about rain."]
        let requests = plan.enumerated().map { i, a in
            InferenceRequest(model: ResolvedModel(id: a.map { "a\($0)" } ?? lm.name, kind: a == nil ? .base : .fineTuned, base: lm,
                                                  adapter: a.map { adapters[$0] }, created: 0, ownedBy: "test"),
                             prompt: lm.tokenize(rendered: try! lm.renderChat([.user(questions[i % 4])], addGenerationPrompt: true)),
                             maxTokens: 20, sampling: SamplingParameters(temperature: 1, seed: UInt64(40 + i)))
        }
        // No prompt cache: the requests served together must be prefilled together, not found in the cache.
        let service = InferenceService(gate: ComputeGate(), logger: Logger(label: "test"), promptCacheBytes: 0)
        service.start()
        defer { service.stop() }
        let alone = Texts()
        for (i, r) in requests.enumerated() {
            _ = service.submit(r) { alone.handle(i, $0) }
            #expect(alone.wait(for: i + 1))
        }
        let together = Texts()
        for (i, r) in requests.enumerated() { _ = service.submit(r) { together.handle(i, $0) } }
        #expect(together.wait(for: requests.count))
        for i in requests.indices {
            #expect(together.texts[i] == alone.texts[i], "request \(i): \(together.texts[i] ?? "") vs \(alone.texts[i] ?? "")")
        }
        #expect(Set(alone.texts.values).count >= 6, "seeds and adapters give different texts")
    }
}
