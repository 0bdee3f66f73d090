// Tiny random T5 checkpoints (Fixtures/t5/tiny-t5: ReLU, tied head; tiny-flan: gated-GELU, untied head, more
// decoder than encoder layers) against transformers' T5ForConditionalGeneration on the same weights
// (Tests/reference/t5/make_model_fixtures.py): encoder states, teacher-forced decoder logits (in one call and one
// token at a time through the cache) and greedy outputs. Tolerance: max |Tailor − transformers| ≤ 1e-4 · max(1, max |reference|).
import Foundation
import Testing
@testable import TailorEngine

struct T5ModelTests {
    struct Source { let text: String; let ids: [Int]; let encoder: [Float]; let greedy: [Int] }
    struct Pair { let source: [Int]; let decoderIDs: [Int]; let logits: [Float] }

    static func reference(_ name: String) throws -> (sources: [Source], pairs: [Pair]) {
        let root = try #require(Fixtures.json("t5/reference-model.json") as? [String: Any])
        let model = try #require((root["models"] as? [String: Any])?[name] as? [String: Any])
        func floats(_ v: Any?) -> [Float] { (v as? [NSNumber] ?? []).map(\.floatValue) }
        let sources = (model["sources"] as? [[String: Any]] ?? []).map {
            Source(text: $0["text"] as! String, ids: $0["ids"] as! [Int], encoder: floats($0["encoder"]), greedy: $0["greedy"] as! [Int])
        }
        let pairs = (model["pairs"] as? [[String: Any]] ?? []).map {
            Pair(source: $0["source"] as! [Int], decoderIDs: $0["decoder_ids"] as! [Int], logits: floats($0["logits"]))
        }
        return (sources, pairs)
    }

    /// A Hugging Face directory as a user has it: the checkpoint's files and the tokenizer's, side by side.
    /// tiny-t5 gets tokenizer.json (the fast tokenizer), tiny-flan spiece.model alone (the SentencePiece path).
    static func load(_ name: String) throws -> T5Model {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenizerFiles = name == "tiny-t5" ? ["tokenizer.json", "tokenizer_config.json"] : ["spiece.model", "tokenizer_config.json"]
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.url("t5/\(name)/\(file)"), to: directory.appendingPathComponent(file))
        }
        for file in tokenizerFiles {
            try FileManager.default.copyItem(at: Fixtures.url("t5/unigram/\(file)"), to: directory.appendingPathComponent(file))
        }
        return try T5Model(directory: directory.path)
    }

    static func expectClose(_ got: [Float], _ want: [Float], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(context): \(got.count) values, want \(want.count)", sourceLocation: sourceLocation)
        guard got.count == want.count else { return }
        let scale = max(1, want.map(abs).max() ?? 0)
        var worst = 0, diff: Float = 0
        for i in got.indices where abs(got[i] - want[i]) > diff { diff = abs(got[i] - want[i]); worst = i }
        #expect(diff <= 1e-4 * scale, "\(context): max diff \(diff) at \(worst) (got \(got[worst]), want \(want[worst])), scale \(scale)",
                sourceLocation: sourceLocation)
    }

    @Test func configsReadBothLayouts() throws {
        let t5 = try T5Config(directory: Fixtures.url("t5/tiny-t5").path)
        #expect(t5.activation == .relu && !t5.gated && t5.tiedEmbeddings && t5.decoderLayers == 2)
        let flan = try T5Config(directory: Fixtures.url("t5/tiny-flan").path)
        #expect(flan.activation == .geluNew && flan.gated && !flan.tiedEmbeddings && flan.decoderLayers == 3 && flan.encoderLayers == 2)
        #expect(flan.buckets == 8 && flan.maxDistance == 20 && flan.decoderStartToken == 0 && flan.eos == 1)
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func encoderMatchesTransformers(_ name: String) throws {
        let model = try Self.load(name)
        let (sources, _) = try Self.reference(name)
        #expect(sources.contains { $0.ids.count > 2 * model.config.maxDistance }, "a source reaches the capped buckets")
        for source in sources {
            #expect(model.tokenizer.encode(source.text, addSpecial: true) == source.ids, "\(name): source ids of \(source.text)")
            Self.expectClose(model.encode(source.ids), source.encoder, "\(name) encoder, \(source.ids.count) tokens")
        }
        // A batch gives each source's states as alone (transformers ran them padded, with a mask).
        let batch = model.encode(batch: sources.map(\.ids))
        for (states, source) in zip(batch, sources) { Self.expectClose(states, source.encoder, "\(name) batch encoder") }
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func decoderLogitsMatchTransformers(_ name: String) throws {
        let model = try Self.load(name)
        let (_, pairs) = try Self.reference(name)
        let V = model.config.vocabSize
        for pair in pairs {
            let states = model.encode(pair.source)
            let cache = T5DecoderCache(model: model, encoderStates: states, capacity: pair.decoderIDs.count)
            Self.expectClose(model.decode(pair.decoderIDs, cache: cache, allLogits: true), pair.logits, "\(name) teacher-forced logits")
            // The same through the cache: a prefix in one call, then one token at a time.
            cache.reset()
            let split = pair.decoderIDs.count / 3
            var logits = model.decode(Array(pair.decoderIDs[..<split]), cache: cache, allLogits: true)
            for id in pair.decoderIDs[split...] { logits += model.decode([id], cache: cache) }
            Self.expectClose(logits, pair.logits, "\(name) cached logits")
            #expect(cache.count == pair.decoderIDs.count && logits.count == pair.decoderIDs.count * V)
        }
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func greedyMatchesTransformers(_ name: String) throws {
        let model = try Self.load(name)
        let (sources, _) = try Self.reference(name)
        for source in sources {
            let result = model.generate(source: source.ids, maxTokens: 12)
            let want = source.greedy.last == model.config.eos ? Array(source.greedy.dropLast()) : source.greedy
            #expect(result.tokens == want, "\(name): greedy from \(source.text.prefix(30))")
            #expect(result.finishReason == (source.greedy.last == model.config.eos ? .stop : .length))
            #expect(result.text == model.tokenizer.decode(want, skipSpecial: true))
        }
        #expect(Set(sources.flatMap(\.greedy)).count > 3, "the reference greedy outputs vary")
    }

    @Test func sampledGenerationIsSeeded() throws {
        let model = try Self.load("tiny-flan")
        let (sources, _) = try Self.reference("tiny-flan")
        let hot = SamplingParameters(temperature: 1.5, seed: 7)
        let a = model.generate(source: sources[0].ids, maxTokens: 12, sampling: hot)
        let b = model.generate(source: sources[0].ids, maxTokens: 12, sampling: hot)
        #expect(a.tokens == b.tokens)
        let other = model.generate(source: sources[0].ids, maxTokens: 12, sampling: SamplingParameters(temperature: 1.5, seed: 8))
        let greedy = model.generate(source: sources[0].ids, maxTokens: 12)
        #expect(other.tokens != a.tokens || greedy.tokens != a.tokens, "sampling at temperature 1.5 moves away from one path")
        #expect(model.generate(source: sources[0].ids, maxTokens: 0).tokens.isEmpty)
    }

    @Test func unknownArchitectureNamesTheSupportedOnes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-umt5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"model_type": "umt5", "d_model": 8}"#.utf8).write(to: directory.appendingPathComponent("config.json"))
        #expect(throws: ModelFileError.self) { try T5Config(directory: directory.path) }
    }
}
