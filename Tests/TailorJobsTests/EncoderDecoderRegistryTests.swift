// What the registry serves for a job of an encoder–decoder base: a full fine-tuning's checkpoint (a Hugging Face T5
// directory, as T5Trainer writes it) is loaded as a model of its own — its weights are the checkpoint's, not the
// base's — and kept in the cache under its directory.
import Foundation
import Logging
import Testing
import TailorEngine
import TailorStore
@testable import TailorJobs

struct EncoderDecoderRegistryTests {
    @Test func aFullCheckpointIsServedAsItsOwnModel() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../TailorEngineTests/Fixtures/t5").standardized
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-registry-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let baseDir = root.appendingPathComponent("tiny-flan"), checkpoint = root.appendingPathComponent("ckpt")
        for dir in [baseDir, checkpoint] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        for (sub, file) in [("tiny-flan", "config.json"), ("tiny-flan", "model.safetensors"), ("unigram", "tokenizer.json"),
                            ("unigram", "tokenizer_config.json")] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("\(sub)/\(file)"), to: baseDir.appendingPathComponent(file))
        }
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let store = try Store.open(dataDirectory: root.appendingPathComponent("data").path, logger: quiet)
        defer { try? store.close() }
        let registry = try ModelRegistry(store: store, modelPaths: [baseDir.path], logger: quiet)
        let base = try #require(registry.encoderDecoder(named: "tiny-flan"))
        #expect(registry.encoderDecoderDirectory(named: "tiny-flan") == baseDir.path)

        // A "trained" model: every weight moved, written as a full checkpoint is (weights and the base's companions).
        let full = try T5FullParameters(directory: baseDir.path, config: base.config)
        for i in 0..<full.count { full.values[i] += 0.05 * Float(sin(Double(i))) }
        for (name, data) in T5FullParameters.companions(of: baseDir.path) {
            try data.write(to: checkpoint.appendingPathComponent(name))
        }
        try full.writeSafetensors(to: checkpoint.appendingPathComponent("model.safetensors").path)

        let served = try registry.encoderDecoder(base, at: checkpoint.path)
        var arrays: [[Float]] = []
        _ = served.weights.map(served.config) { _, array, _, _ in arrays.append(array) }
        #expect(arrays.count == full.tensors.count)
        for (t, array) in zip(full.tensors, arrays) {
            #expect(array == Array(UnsafeBufferPointer(start: full.values + t.offset, count: t.count)), "\(t.name)")
        }
        let prompt = "summarize: the house is wonderful and large"
        #expect(served.generate(prompt, maxTokens: 12).tokens != base.generate(prompt, maxTokens: 12).tokens)
        // Cached under its directory: the same model again, until evicted.
        #expect(try registry.encoderDecoder(base, at: checkpoint.path) === served)
        registry.evictAdapter(at: checkpoint.path)
        #expect(try registry.encoderDecoder(base, at: checkpoint.path) !== served)
    }
}
