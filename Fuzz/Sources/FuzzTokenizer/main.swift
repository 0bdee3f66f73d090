// Tokenizer encode/decode on arbitrary bytes, for a byte-level BPE vocabulary (GPT-2 style, tiny-bpe-*.gguf) and a
// SentencePiece one with byte fallback (tiny-spm*.gguf), both from Tests/TailorEngineTests/Fixtures/vocab; llama.cpp's
// real GPT-2 and LLaMA SentencePiece vocabularies too when `make vocab` has put them in models/vocab; and the
// Unigram (T5) ones of Fixtures/t5, from spiece.model and from tokenizer.json (these normalise, so only ranges are checked).
// Checks: no crash; every id in range; byte-level BPE and SentencePiece (without special-token parsing, where the
// text has no U+2581 and no special or user-defined token) spell the text exactly with their token bytes and decode back to it; decoding arbitrary ids
// (out of range, negative) does not crash.
//
// Input layout: byte 0 picks the vocabulary; the rest is the text (invalid UTF-8 becomes U+FFFD, as it would in a
// request) and, read as little-endian 16-bit numbers minus 8, a list of ids to decode.
import FuzzSupport
import Foundation
@testable import TailorEngine

let repositoryRoot: String = ProcessInfo.processInfo.environment["TAILOR_ROOT"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

struct Loaded { let name: String; let tokenizer: Tokenizer; let sentencePiece: Bool; var normalizes = false }

let tokenizers: [Loaded] = {
    let fixtures = repositoryRoot + "/Tests/TailorEngineTests/Fixtures/vocab/"
    var paths: [(String, Bool)] = [("tiny-bpe-gpt2.gguf", false), ("tiny-bpe-llama3.gguf", false), ("tiny-bpe-qwen2.gguf", false),
                                   ("tiny-spm.gguf", true), ("tiny-spm-no-prefix.gguf", true)].map { (fixtures + $0.0, $0.1) }
    for (name, spm) in [("ggml-vocab-gpt-2.gguf", false), ("ggml-vocab-llama-spm.gguf", true)] {
        let path = repositoryRoot + "/models/vocab/" + name
        if FileManager.default.fileExists(atPath: path) { paths.append((path, spm)) }
    }
    let unigram = repositoryRoot + "/Tests/TailorEngineTests/Fixtures/t5/"
    do {
        return try paths.map { path, spm in
            Loaded(name: path, tokenizer: try Tokenizer(gguf: try GGUFFile(path: path)), sentencePiece: spm)
        } + [
            Loaded(name: "unigram spiece.model", tokenizer: try Tokenizer(sentencePieceModel: unigram + "unigram/spiece.model", extraIDs: 4),
                   sentencePiece: false, normalizes: true),
            Loaded(name: "unigram-bytes spiece.model", tokenizer: try Tokenizer(sentencePieceModel: unigram + "unigram-bytes/spiece.model", extraIDs: 4),
                   sentencePiece: false, normalizes: true),
            Loaded(name: "unigram-bytes tokenizer.json", tokenizer: try Tokenizer(huggingFaceDirectory: unigram + "unigram-bytes"),
                   sentencePiece: false, normalizes: true),
        ]
    } catch {
        fatalError("cannot load the fuzzed vocabularies: \(error); set TAILOR_ROOT to the repository")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let loaded = tokenizers[Int(input[0]) % tokenizers.count]
    let t = loaded.tokenizer
    let text = String(decoding: input[1...], as: UTF8.self)

    for (addSpecial, parseSpecial) in [(false, false), (true, true), (false, true)] {
        let ids = t.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
        require(ids.allSatisfy { (0..<t.vocabularySize).contains($0) }, "\(loaded.name): an id out of range")
        _ = t.decode(ids)
        _ = t.decode(ids, skipSpecial: true)
        if !addSpecial && !parseSpecial && !loaded.normalizes {
            if !loaded.sentencePiece {
                require(ids.flatMap(t.tokenBytes) == Array(text.utf8), "\(loaded.name): token bytes do not spell \(text.debugDescription)")
                require(t.decode(ids) == text, "\(loaded.name): decode(encode(\(text.debugDescription))) = \(t.decode(ids).debugDescription)")
            } else if !text.unicodeScalars.contains("\u{2581}") && !ids.contains(where: t.isSpecial) {
                // As the reference tests: llama.cpp adds a space prefix after a special or user-defined token.
                let prefix = t.addSpacePrefix && !text.isEmpty ? " " : ""
                let spelled = ids.flatMap(t.tokenBytes)
                require(spelled == Array((prefix + text).utf8),
                             "\(loaded.name): token bytes \(String(decoding: spelled, as: UTF8.self).debugDescription) do not spell \(text.debugDescription)")
            }
        }
    }
    // Arbitrary ids, including negative and past the vocabulary.
    var ids: [Int] = []
    var i = 1
    while i + 1 < input.count {
        ids.append(Int(UInt16(input[i]) | UInt16(input[i + 1]) << 8) - 8)
        i += 2
    }
    _ = t.decode(ids)
    _ = t.decode(ids, skipSpecial: true)
    for id in ids.prefix(16) { _ = t.tokenBytes(id); _ = t.tokenText(id); _ = t.isSpecial(id) }
    return 0
}
