// Tailor's tokenizer against llama.cpp, token for token, on the whole corpus: committed tiny vocabularies, the
// SmolLM2 GGUF, and llama.cpp's own test vocabularies of real models (Llama 3, Qwen2, GPT-2, LLaMA SPM, ...).
import Foundation
import Testing
@testable import TailorEngine

/// Every property the fixture records for `reference`, checked on `tokenizer`.
func checkAgainstReference(_ tokenizer: Tokenizer, _ reference: Reference, sourceLocation: SourceLocation = #_sourceLocation) {
    let name = reference.vocabulary
    #expect(tokenizer.vocabularySize == reference.vocabulary_size, "\(name): vocabulary size", sourceLocation: sourceLocation)
    #expect(tokenizer.bos == reference.bos, "\(name): BOS", sourceLocation: sourceLocation)
    #expect(tokenizer.eos == reference.eos, "\(name): EOS", sourceLocation: sourceLocation)
    #expect(tokenizer.addBOS == reference.add_bos, "\(name): add_bos", sourceLocation: sourceLocation)
    #expect(tokenizer.addEOS == reference.add_eos, "\(name): add_eos", sourceLocation: sourceLocation)
    #expect(tokenizer.endOfTurnTokens == Set(reference.end_of_generation), "\(name): end-of-generation set", sourceLocation: sourceLocation)
    let special = VocabFixtures.specialIds(reference)
    let mine = Set((0..<tokenizer.vocabularySize).filter(tokenizer.isSpecial))
    #expect(mine == special, "\(name): special tokens, only mine: \(mine.subtracting(special).sorted().prefix(10)), only llama.cpp's: \(special.subtracting(mine).sorted().prefix(10))",
            sourceLocation: sourceLocation)

    for (id, hex) in reference.pieces {
        let id = Int(id)!
        let want = withoutUnknownByteMarkers([UInt8](hex: hex)!, tokenText: tokenizer.tokenText(id))
        #expect(tokenizer.tokenBytes(id) == want, "\(name): bytes of token \(id) \(tokenizer.tokenText(id).debugDescription)",
                sourceLocation: sourceLocation)
    }

    let isSentencePiece = reference.pre == "llama"
    for test in reference.cases {
        let text = VocabFixtures.corpus[test.name]!
        let ids = tokenizer.encode(text)
        expectSameTokens(ids, test.ids, tokenizer, "\(name) \(test.name)", sourceLocation: sourceLocation)
        expectSameTokens(tokenizer.encode(text, parseSpecial: false), test.plain ?? test.ids, tokenizer,
                         "\(name) \(test.name) without parsing special tokens", sourceLocation: sourceLocation)
        let wrapped = (reference.add_bos ? [reference.bos!] : []) + test.ids + (reference.add_eos ? [reference.eos!] : [])
        expectSameTokens(tokenizer.encode(text, addSpecial: true), test.added ?? wrapped, tokenizer,
                         "\(name) \(test.name) with BOS/EOS", sourceLocation: sourceLocation)

        if reference.decode_checked {
            let decoded = test.decoded ?? text
            #expect(tokenizer.decode(test.ids) == decoded, "\(name) \(test.name): decode", sourceLocation: sourceLocation)
            #expect(tokenizer.decode(test.ids, skipSpecial: true) == test.decoded_skip_special ?? decoded,
                    "\(name) \(test.name): decode skipping special tokens", sourceLocation: sourceLocation)
        }
        // Byte-level BPE spells every text exactly; SentencePiece adds the space prefix, and after a special token
        // llama.cpp adds another one, so only texts without special tokens round-trip there.
        if test.lossy != true && (!isSentencePiece || !test.ids.contains(where: tokenizer.isSpecial)) {
            let prefix = isSentencePiece && tokenizer.addSpacePrefix && !text.isEmpty ? " " : ""
            #expect(test.ids.flatMap(tokenizer.tokenBytes) == Array((prefix + text).utf8),
                    "\(name) \(test.name): token bytes spell the text", sourceLocation: sourceLocation)
            #expect(tokenizer.decode(test.ids) == text, "\(name) \(test.name): decode(encode(text)) round trip", sourceLocation: sourceLocation)
        }
    }
}

/// A byte-level token holding characters outside GPT-2's byte table (Command-R has emoji) comes out of llama.cpp
/// as "[UNK_BYTE_0x<the character's UTF-8 in hex><token text>]" per such character; Tailor gives the character's
/// own bytes, as Hugging Face does. This undoes llama.cpp's markers so the rest of the piece is still compared.
func withoutUnknownByteMarkers(_ piece: [UInt8], tokenText: String) -> [UInt8] {
    let marker = Array("[UNK_BYTE_0x".utf8), tail = Array(tokenText.utf8) + [UInt8(ascii: "]")]
    var out: [UInt8] = [], i = 0
    while i < piece.count {
        guard piece[i...].starts(with: marker) else { out.append(piece[i]); i += 1; continue }
        func hexByte(_ at: Int) -> UInt8 { UInt8(String(decoding: piece[at..<at + 2], as: UTF8.self), radix: 16)! }
        let lead = hexByte(i + marker.count)
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        for k in 0..<length { out.append(hexByte(i + marker.count + 2 * k)) }
        i += marker.count + 2 * length + tail.count
    }
    return out
}

@Suite struct TokenizerReferenceTests {
    /// Trained by make_fixtures.py and committed: these always run.
    @Test(arguments: ["tiny-bpe-gpt2", "tiny-bpe-smollm", "tiny-bpe-llama3", "tiny-bpe-qwen2", "tiny-bpe-default",
                      "tiny-spm", "tiny-spm-no-prefix"])
    func tinyVocabularyMatchesLlamaCpp(name: String) throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: VocabFixtures.path("\(name).gguf")))
        checkAgainstReference(tokenizer, try VocabFixtures.reference(name))
    }

    @Test(.enabled(if: !VocabFixtures.skipModelTests))
    func smolLM2MatchesLlamaCpp() throws {
        let path = try VocabFixtures.requireFile(VocabFixtures.smolLM2Path,
                                                 howToGetIt: "set TAILOR_TEST_MODEL to the SmolLM2-135M-Instruct Q4_1 GGUF")
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        checkAgainstReference(tokenizer, try VocabFixtures.reference("smollm2"))
        #expect(tokenizer.encode("<|im_start|>user\nHi<|im_end|>").first == 1)
        #expect(tokenizer.id(of: "<|im_end|>") == 2)
        #expect(tokenizer.padding == 2 && tokenizer.unknown == 0)
    }

    /// llama.cpp's vocab-only GGUFs of real tokenizers, fetched into models/vocab by make_fixtures.py.
    @Test(.enabled(if: !VocabFixtures.skipModelTests),
          arguments: ["gpt-2", "llama-bpe", "qwen2", "qwen35", "command-r", "falcon", "aquila", "llama-spm", "phi-3"])
    func realVocabularyMatchesLlamaCpp(name: String) throws {
        let path = try VocabFixtures.requireFile(VocabFixtures.llamaCppVocabPath(name),
                                                 howToGetIt: "run Tests/reference/tokenizer/make_fixtures.py (it takes them from the llama-cpp-python sdist) or set TAILOR_TEST_VOCAB_DIR")
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        checkAgainstReference(tokenizer, try VocabFixtures.reference(name))
    }
}
