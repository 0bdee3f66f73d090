// Loads the tokenizer fixtures (Fixtures/vocab, written by Tests/reference/tokenizer/make_fixtures.py) and finds the
// GGUF files they refer to. The comparisons print the first differing token with both texts.
import Foundation
import Testing
@testable import TailorEngine

struct ReferenceCase: Decodable {
    let name: String
    let ids: [Int]
    /// With parse_special off, where that differs.
    let plain: [Int]?
    /// With add_special on, where that is not BOS + ids + EOS as the model's flags say.
    let added: [Int]?
    /// llama_detokenize with special tokens rendered, where that is not the text itself.
    let decoded: String?
    /// llama_detokenize with remove_special and without rendering control tokens, where that differs from `decoded`.
    let decoded_skip_special: String?
    /// Set where llama.cpp's own tokens do not spell the text (the vocabulary lacks a byte).
    let lossy: Bool?
}

struct Reference: Decodable {
    let vocabulary: String
    let pre: String
    let decode_checked: Bool
    let vocabulary_size: Int
    let bos: Int?
    let eos: Int?
    let add_bos: Bool
    let add_eos: Bool
    let end_of_generation: [Int]
    let special_ranges: [[Int]]
    let pieces: [String: String]
    let cases: [ReferenceCase]
}

enum VocabFixtures {
    static let directory: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/vocab")

    static let corpus: [String: String] = {
        struct Entry: Decodable { let name: String; let text: String }
        let entries = try! JSONDecoder().decode([Entry].self, from: Data(contentsOf: directory.appendingPathComponent("corpus.json")))
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.text) })
    }()

    static func reference(_ name: String) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: directory.appendingPathComponent("expected-\(name).json")))
    }

    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    /// The package root, for the git-ignored models/ directory.
    static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static let skipModelTests = ProcessInfo.processInfo.environment["TAILOR_SKIP_MODEL_TESTS"] == "1"

    static var smolLM2Path: String {
        ProcessInfo.processInfo.environment["TAILOR_TEST_MODEL"]
            ?? repository.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    static func llamaCppVocabPath(_ name: String) -> String {
        let directory = ProcessInfo.processInfo.environment["TAILOR_TEST_VOCAB_DIR"]
            ?? repository.appendingPathComponent("models/vocab").path
        return (directory as NSString).appendingPathComponent("ggml-vocab-\(name).gguf")
    }

    /// A model file that must be present unless TAILOR_SKIP_MODEL_TESTS=1 (then the test is disabled instead).
    static func requireFile(_ path: String, howToGetIt: String) throws -> String {
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: \(howToGetIt), or set TAILOR_SKIP_MODEL_TESTS=1 to skip the tests that need it")
        return path
    }

    /// Special token ids as the fixture lists them in runs.
    static func specialIds(_ reference: Reference) -> Set<Int> {
        Set(reference.special_ranges.flatMap { $0[0]...$0[1] })
    }
}

/// Records an issue naming the first position where `got` and `want` differ, with both tokens' texts.
func expectSameTokens(_ got: [Int], _ want: [Int], _ tokenizer: Tokenizer, _ context: @autoclosure () -> String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    guard got != want else { return }
    let i = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    func describe(_ ids: [Int]) -> String {
        i < ids.count ? "\(ids[i]) \(tokenizer.tokenText(ids[i]).debugDescription)" : "end of list"
    }
    let message = "\(context()): first difference at token \(i): got \(describe(got)), want \(describe(want)) "
        + "(\(got.count) tokens, want \(want.count))"
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
}

extension Array where Element == UInt8 {
    init?(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}
