// The matcher at token level: masks agree with what accept() does for every token at every step (over a hand-made
// vocabulary with multi-byte and split UTF-8 tokens), end-of-generation only where complete, special ids never.
import Testing
@testable import TailorGrammar

@Suite struct GrammarMatcherTests {
    let person = #"{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}, "required": ["name", "age"], "additionalProperties": false}"#

    @Test func masksMatchAcceptanceTokenByToken() throws {
        let g = try grammar(person)
        #expect(matchesByTokens(g, #"{"name": "José €😀 日本", "age": 12345}"#))
        #expect(matchesByTokens(g, #"{"name":"a\n\"b","age":0}"#))
        #expect(!matchesByTokens(g, #"{"name": "x", "age": -1}"#))
        #expect(!matchesByTokens(g, #"{"age": 1, "name": "x"}"#))
    }

    @Test func extraKeysAndFreeStringsUseTheSplitMasks() throws {
        let g = try grammar(#"{"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": {"type": "string"}}"#)
        #expect(matchesByTokens(g, #"{"name": "ab", "nab": "\n", "x": "日本"}"#))
        #expect(!matchesByTokens(g, #"{"name": "ab", "name": "x"}"#))
    }

    @Test func lengthBoundedStringsAllowContentTokensByLength() throws {
        let g = try grammar(#"{"type": "string", "minLength": 2, "maxLength": 5}"#)
        #expect(matchesByTokens(g, #""abcab""#))
        #expect(matchesByTokens(g, #""日本é""#))
        #expect(!matchesByTokens(g, #""abcabc""#))
        #expect(!matchesByTokens(g, #""a""#))
        #expect(!matchesByTokens(g, #""abcdefgh""#))
        // Longer than any token: every content token is allowed at the start, by length further on.
        let long = try grammar(#"{"type": "string", "maxLength": 30}"#)
        #expect(matchesByTokens(long, "\"" + String(repeating: "abcdefgh", count: 3) + "abc\""))
        #expect(!matchesByTokens(long, "\"" + String(repeating: "abcdefgh", count: 4) + "\""))
    }

    @Test func keysAndValuesOpeningWithAQuoteTokenAreDecidedByLength() throws {
        let g = try grammar(#"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 2}, "abc": {"type": "string"}}, "additionalProperties": {"type": "string", "maxLength": 3}}"#)
        #expect(matchesByTokens(g, #"{"name":"ab","abc":"abcdefgh","ab":"日本é"}"#))
        #expect(matchesByTokens(g, #"{"name": "日本", "nam": "abc"}"#))
        #expect(!matchesByTokens(g, #"{"name":"abc"}"#))
        #expect(!matchesByTokens(g, #"{"abx":"abcd"}"#))
        #expect(!matchesByTokens(g, #"{"name":"ab","name":"ab"}"#))
    }

    @Test func patternsAndEnumsInsideStringsAreWalked() throws {
        let g = try grammar(#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-c]+$"}, "b": {"enum": ["abc", "abcdefgh", "日本"]}}}"#)
        #expect(matchesByTokens(g, #"{"a": "abcab", "b": "abcdefgh"}"#))
        #expect(matchesByTokens(g, #"{"b": "日本"}"#))
        #expect(!matchesByTokens(g, #"{"a": "abcd"}"#))
        #expect(!matchesByTokens(g, #"{"b": "abcdef"}"#))
    }

    @Test func splitUTF8TokensOnlyWhereTheCharacterCompletes() throws {
        let g = try grammar(#"{"type": "string", "maxLength": 1}"#)
        #expect(matchesByTokens(g, "\"€\""))
        #expect(!matchesByTokens(g, "\"€€\""))
        #expect(matchesByTokens(g, "\"😀\""))
    }

    @Test func endOfGenerationOnlyWhenCompleteAndSpecialNever() throws {
        let g = try grammar(#"{"type": "integer"}"#)
        let m = GrammarMatcher(grammar: g, vocabulary: handVocabulary)
        var mask = m.allowedTokens()
        #expect(mask[0] & 1 == 0)              // <eos> before anything
        #expect(mask[0] & 2 == 0)              // the control token
        #expect(!m.accept(token: 0))
        #expect(m.accept(bytes: Array("12".utf8)))
        mask = m.allowedTokens()
        #expect(mask[0] & 1 == 1)
        #expect(m.isAccepting && !m.isTerminated)
        #expect(m.accept(token: 0))
        m.reset()
        #expect(!m.isAccepting)
    }

    @Test func refusedTokenLeavesStateUnchanged() throws {
        let g = try grammar(#"{"enum": ["abc", "abd"]}"#)
        let m = GrammarMatcher(grammar: g, vocabulary: byteVocabulary)
        #expect(m.accept(bytes: Array("\"ab".utf8)))
        #expect(!m.accept(bytes: Array("x".utf8)))
        #expect(m.accept(bytes: Array("d\"".utf8)))
        #expect(m.isTerminated)
    }

    @Test func vocabularyTrieKeepsDuplicateSpellings() throws {
        let v = TokenVocabulary(tokens: [[0x61], [0x61], [0x61, 0x62], []], endOfGeneration: [])
        let g = try grammar(#"{"const": "ab"}"#)
        let m = GrammarMatcher(grammar: g, vocabulary: v)
        _ = m.accept(bytes: [0x22])
        let mask = m.allowedTokens()
        #expect(mask[0] == 0b0111)
    }

    @Test func deepRecursionStaysCorrect() throws {
        let g = try grammar(##"{"$defs": {"l": {"type": "array", "items": {"$ref": "#/$defs/l"}}}, "$ref": "#/$defs/l"}"##)
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(matches(g, deep))
        #expect(!matches(g, deep + "]"))
    }
}
