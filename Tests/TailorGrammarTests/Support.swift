// Helpers for the grammar tests: compile a schema from text, and check instances byte by byte or token by token
// (where every step also checks the mask against what the matcher really accepts).
import Testing
@testable import TailorGrammar

/// One token per byte: matching over it is matching the grammar's byte language itself.
let byteVocabulary = TokenVocabulary(tokens: (0..<256).map { [UInt8($0)] }, endOfGeneration: [])

/// A small hand-made vocabulary: every byte, JSON punctuation runs, words, and multi-byte UTF-8 pieces (whole
/// characters and characters split across tokens). Id 0 is the end-of-generation token, id 1 a control token.
let handVocabulary: TokenVocabulary = {
    var toks: [[UInt8]] = [Array("<eos>".utf8), Array("<|im_start|>".utf8)]
    toks += (0..<256).map { [UInt8($0)] }
    for s in ["{\"", "\":", "\": ", "\", \"", ", ", "\"}", "}}", "]}", "\"]", "true", "false", "null", "name", "age",
              " \"", "12", "345", "0.5", "e+", "-1", "é", "日本", "€", "😀", "\\n", "\\\"", "\\u00", "ab", "abc", "2024-", "01-",
              "\"name", "\"ab", "\"日本", "abcdefgh", "   ", "é\""] {
        toks.append(Array(s.utf8))
    }
    toks.append([0xE2, 0x82])          // the first two bytes of "€"
    toks.append([0xAC, 0x22])          // the last byte of "€" and a quote
    toks.append([0xF0, 0x9F])          // the start of an emoji
    return TokenVocabulary(tokens: toks, special: [1], endOfGeneration: [0])
}()

func grammar(_ schema: String) throws -> CompiledGrammar { try JSONSchemaGrammar.compile(schemaText: schema) }

/// Whether `text` is a complete instance, fed one byte at a time.
func matches(_ g: CompiledGrammar, _ text: String) -> Bool {
    let m = GrammarMatcher(grammar: g, vocabulary: byteVocabulary)
    for b in text.utf8 where !m.accept(bytes: [b]) { return false }
    return m.isAccepting
}

func expectValid(_ schema: String, _ valid: [String], invalid: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let g = try grammar(schema)
    for v in valid { #expect(matches(g, v), "should accept \(v)", sourceLocation: sourceLocation) }
    for v in invalid { #expect(!matches(g, v), "should refuse \(v)", sourceLocation: sourceLocation) }
}

/// Greedy longest-match tokenization over a vocabulary's byte strings (ids 2… in the hand vocabulary).
func greedyTokens(_ text: String, _ v: TokenVocabulary) -> [Int] {
    let bytes = Array(text.utf8)
    var i = 0, out: [Int] = []
    while i < bytes.count {
        var best = -1, bestLen = 0
        for id in 0..<v.size where id >= 2 {
            let t = v.bytes(of: id)
            if t.count > bestLen, i + t.count <= bytes.count, Array(bytes[i..<(i + t.count)]) == t { best = id; bestLen = t.count }
        }
        out.append(best); i += bestLen
    }
    return out
}

/// Feeds `text` token by token; before each token checks that every token's mask bit equals whether the matcher
/// accepts that token's bytes there. Returns whether the text was accepted as a complete instance.
func matchesByTokens(_ g: CompiledGrammar, _ text: String, _ v: TokenVocabulary = handVocabulary,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    let split = matchesByTokens(g, text, v, splitSubtree: 0, sourceLocation: sourceLocation)
    let whole = matchesByTokens(g, text, v, splitSubtree: Int.max, sourceLocation: sourceLocation)
    #expect(split == whole, sourceLocation: sourceLocation)
    return whole
}

/// The same with string-content tokens allowed in bulk wherever a state decides them by length (0), or never
/// (Int.max: every token walked byte by byte, the reference).
func matchesByTokens(_ g: CompiledGrammar, _ text: String, _ v: TokenVocabulary, splitSubtree: Int,
                     sourceLocation: SourceLocation) -> Bool {
    let m = GrammarMatcher(grammar: g, vocabulary: v)
    m.splitSubtree = splitSubtree
    let probe = GrammarMatcher(grammar: g, vocabulary: v)
    var prefix: [UInt8] = []
    for id in greedyTokens(text, v) {
        let mask = m.allowedTokens()
        for t in 0..<v.size {
            probe.reset()
            _ = probe.accept(bytes: prefix)
            let expected = t == 0 ? m.isAccepting : (t == 1 ? false : probe.accept(bytes: v.bytes(of: t)))
            let bit = mask[t >> 6] & (1 << UInt64(t & 63)) != 0
            #expect(bit == expected, "token \(t) \(v.bytes(of: t)) after \(String(decoding: prefix, as: UTF8.self))", sourceLocation: sourceLocation)
        }
        guard mask[id >> 6] & (1 << UInt64(id & 63)) != 0 else { return false }
        #expect(m.accept(token: id), sourceLocation: sourceLocation)
        prefix += v.bytes(of: id)
    }
    return m.isAccepting
}
