// The special-token splitter's ordering and strip rules, which the corpus only touches in passing.
import Testing
@testable import TailorEngine

private func split(_ text: String, _ specials: [SpecialToken], parseSpecial: Bool = true) -> [String] {
    let utf8 = Array(text.utf8)
    return utf8.withUnsafeBufferPointer { buffer in
        SpecialTokenSplitter.split(buffer, specials: specials, parseSpecial: parseSpecial).map {
            switch $0 {
            case .text(let range): "text:" + String(decoding: utf8[range], as: UTF8.self)
            case .token(let id): "token:\(id)"
            }
        }
    }
}

private func special(_ id: Int32, _ text: String, _ attributes: TokenAttributes = .control) -> SpecialToken {
    SpecialToken(id: id, utf8: Array(text.utf8), attributes: attributes)
}

@Suite struct SpecialTokenSplitterTests {
    @Test func longerTokensClaimTheirTextFirst() {
        // "bcd" is tried before "ab", so "ab" no longer matches: llama.cpp's order, not leftmost-longest.
        #expect(split("abcd", [special(2, "bcd"), special(1, "ab")]) == ["text:a", "token:2"])
        #expect(split("<|a|><|a|>x<|a|>", [special(7, "<|a|>")]) == ["token:7", "token:7", "text:x", "token:7"])
    }

    @Test func plainParsingKeepsUserDefinedTokensOnly() {
        let specials = [special(1, "<ctl>"), special(2, "<usr>", .userDefined)]
        #expect(split("a<ctl>b<usr>c", specials, parseSpecial: false) == ["text:a<ctl>b", "token:2", "text:c"])
        #expect(split("a<ctl>b<usr>c", specials) == ["text:a", "token:1", "text:b", "token:2", "text:c"])
    }

    @Test func stripFlagsEatWhitespaceBesideTheToken() {
        #expect(split("a \n<|end|> \t b", [special(3, "<|end|>", [.control, .rightStrip])]) == ["text:a \n", "token:3", "text:b"])
        #expect(split("a \n<|end|> b", [special(3, "<|end|>", [.control, .leftStrip])]) == ["text:a", "token:3", "text: b"])
        #expect(split("<|end|>   ", [special(3, "<|end|>", [.control, .rightStrip])]) == ["token:3"])
    }

    @Test func emptyTextHasNoFragments() {
        #expect(split("", [special(1, "<s>")]).isEmpty)
    }
}
