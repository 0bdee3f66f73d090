// The Unigram (T5) tokenizer against transformers, token for token, on the shared multilingual corpus: two small
// models trained by the sentencepiece trainer (Fixtures/t5, from Tests/reference/t5/make_unigram_fixtures.py),
// each read from spiece.model (checked against T5Tokenizer, i.e. SentencePiece) and from tokenizer.json
// (checked against T5TokenizerFast, the `tokenizers` pipeline).
import Foundation
import Testing
@testable import TailorEngine

struct UnigramTokenizerTests {
    struct Case { let name: String; let slow: [Int]; let fast: [Int]; let slowDecoded: String; let fastDecoded: String }
    struct Model { let vocabularySize: Int; let eos: Int; let unknown: Int; let padding: Int; let cases: [Case] }

    static func load() throws -> (corpus: [String: String], models: [String: Model]) {
        let root = try #require(Fixtures.json("t5/expected-unigram.json") as? [String: Any])
        let corpus = try #require(root["corpus"] as? [String: String])
        var models: [String: Model] = [:]
        for (name, value) in try #require(root["models"] as? [String: [String: Any]]) {
            let cases = (value["cases"] as? [[String: Any]] ?? []).map {
                Case(name: $0["name"] as! String, slow: $0["slow"] as! [Int], fast: $0["fast"] as! [Int],
                     slowDecoded: $0["slow_decoded"] as! String, fastDecoded: $0["fast_decoded"] as! String)
            }
            models[name] = Model(vocabularySize: value["vocabulary_size"] as! Int, eos: value["eos"] as! Int,
                                 unknown: value["unk"] as! Int, padding: value["pad"] as! Int, cases: cases)
        }
        return (corpus, models)
    }

    static let extraIDs = 4

    @Test(arguments: ["unigram", "unigram-bytes"])
    func sentencePieceModelMatchesT5Tokenizer(_ name: String) throws {
        let (corpus, models) = try Self.load()
        let model = try #require(models[name])
        let tokenizer = try Tokenizer(sentencePieceModel: Fixtures.url("t5/\(name)/spiece.model").path, extraIDs: Self.extraIDs)
        #expect(tokenizer.vocabularySize == model.vocabularySize)
        #expect(tokenizer.eos == model.eos && tokenizer.unknown == model.unknown && tokenizer.padding == model.padding)
        #expect(tokenizer.id(of: "<extra_id_0>") == model.vocabularySize - 1)
        var mismatches = 0
        for test in model.cases {
            let text = try #require(corpus[test.name])
            // T5Tokenizer appends EOS unless the text already ends with it.
            var ids = tokenizer.encode(text)
            if ids.last != model.eos { ids.append(model.eos) }
            if ids != test.slow { mismatches += 1 }
            expectSameTokens(ids, test.slow, tokenizer, "\(name) spiece.model \(test.name)")
            // T5Tokenizer.convert_tokens_to_string ends with Python's str.strip(); SentencePiece's own decoding,
            // which Tailor's is, keeps trailing spaces.
            let decoded = tokenizer.decode(test.slow, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(decoded == test.slowDecoded, "\(name) \(test.name): decode")
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: ["unigram", "unigram-bytes"])
    func tokenizerJSONMatchesT5TokenizerFast(_ name: String) throws {
        let (corpus, models) = try Self.load()
        let model = try #require(models[name])
        let tokenizer = try Tokenizer(huggingFaceDirectory: Fixtures.url("t5/\(name)").path)
        #expect(tokenizer.vocabularySize == model.vocabularySize)
        #expect(tokenizer.eos == model.eos && tokenizer.unknown == model.unknown && tokenizer.padding == model.padding)
        #expect(tokenizer.addEOS && !tokenizer.addBOS)
        for test in model.cases {
            let text = try #require(corpus[test.name])
            expectSameTokens(tokenizer.encode(text, addSpecial: true), test.fast, tokenizer, "\(name) tokenizer.json \(test.name)")
            #expect(tokenizer.decode(test.fast, skipSpecial: true) == test.fastDecoded, "\(name) \(test.name): decode")
        }
    }

    /// tokenizer.json in the layout older converters wrote for T5 (many hub checkpoints): Precompiled alone, then
    /// WhitespaceSplit and Metaspace with add_prefix_space, rewritten as make_unigram_fixtures.py rewrites it.
    @Test func legacyTokenizerJSONLayoutMatchesTokenizers() throws {
        try expectRewrittenTokenizerMatches(casesKey: "legacy_json", label: "legacy tokenizer.json") { json in
            let normalizers = try #require((json["normalizer"] as? [String: Any])?["normalizers"] as? [[String: Any]])
            json["normalizer"] = try #require(normalizers.first { $0["type"] as? String == "Precompiled" })
            json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "WhitespaceSplit"], ["type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": true]]]
        }
    }

    /// T5TokenizerFast(legacy=False) writes Metaspace's prepend_scheme "first": no space prefix after a special token.
    @Test func prependSchemeFirstMatchesT5TokenizerFast() throws {
        try expectRewrittenTokenizerMatches(casesKey: "prepend_first", label: "prepend_scheme first") { json in
            var pre = try #require(json["pre_tokenizer"] as? [String: Any])
            pre["prepend_scheme"] = "first"
            json["pre_tokenizer"] = pre
        }
    }

    /// The fixture's tokenizer.json changed by `rewrite`, loaded from a scratch directory, against the ids the
    /// fixture records under `casesKey` for every text of the corpus.
    private func expectRewrittenTokenizerMatches(casesKey: String, label: String,
                                                 _ rewrite: (inout [String: Any]) throws -> Void) throws {
        let root = try #require(Fixtures.json("t5/expected-unigram.json") as? [String: Any])
        let corpus = try #require(root["corpus"] as? [String: String])
        let cases = try #require(root[casesKey] as? [[String: Any]])
        var json = try #require(Fixtures.json("t5/unigram/tokenizer.json") as? [String: Any])
        try rewrite(&json)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JSONSerialization.data(withJSONObject: json).write(to: directory.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(at: Fixtures.url("t5/unigram/tokenizer_config.json"),
                                         to: directory.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try Tokenizer(huggingFaceDirectory: directory.path)
        #expect(cases.count == corpus.count)
        for test in cases {
            let name = try #require(test["name"] as? String)
            expectSameTokens(tokenizer.encode(try #require(corpus[name]), addSpecial: true), try #require(test["ids"] as? [Int]),
                             tokenizer, "\(label) \(name)")
        }
    }

    /// Byte fallback spells an unseen character as its UTF-8 bytes, and decoding puts the character back.
    @Test func byteFallbackRoundTripsUnseenCharacters() throws {
        let tokenizer = try Tokenizer(sentencePieceModel: Fixtures.url("t5/unigram-bytes/spiece.model").path, extraIDs: Self.extraIDs)
        let ids = tokenizer.encode("snow \u{2603}")
        let snowman = ids.suffix(3).map(tokenizer.tokenText)
        #expect(snowman == ["<0xE2>", "<0x98>", "<0x83>"])
        #expect(tokenizer.decode(ids) == "snow \u{2603}")
        let plain = try Tokenizer(sentencePieceModel: Fixtures.url("t5/unigram/spiece.model").path, extraIDs: Self.extraIDs)
        #expect(plain.encode("snow \u{2603}").last == plain.unknown)
    }

    /// Damaged spiece.model files (truncated, bytes overwritten) are TokenizerErrors or load as some vocabulary
    /// that still encodes and decodes: never a trap on a length, an offset into the rules or an id.
    @Test func damagedModelFilesAreErrorsNotTraps() throws {
        let original = try [UInt8](Data(contentsOf: Fixtures.url("t5/unigram-bytes/spiece.model")))
        var rng = SeededRandom(seed: 15)
        var rejected = 0, loaded = 0
        for round in 0..<120 {
            var bytes = original
            if round % 2 == 0 {
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            } else {
                for _ in 0..<8 { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            let path = NSTemporaryDirectory() + "tailor-spiece-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { unlink(path) }
            do {
                let tokenizer = try Tokenizer(sentencePieceModel: path, extraIDs: 2)
                let ids = tokenizer.encode("Caf\u{e9} na\u{ef}ve \u{2603}  x\t\ny \u{ff21} <extra_id_0>", addSpecial: true)
                _ = tokenizer.decode(ids)
                loaded += 1
            } catch is TokenizerError {
                rejected += 1
            }
        }
        #expect(rejected > 0 && loaded > 0, "both outcomes occur: \(rejected) rejected, \(loaded) loaded")
    }
}
