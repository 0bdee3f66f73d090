// The word splitters and code point flags on hand-worked cases, one per branch of the regexes they stand for.
// The corpus comparisons in TokenizerReferenceTests cover them against llama.cpp at scale.
import Testing
@testable import TailorEngine

private func words(_ text: String, _ steps: [SplitStep]) -> [String] {
    let utf8 = Array(text.utf8)
    return utf8.withUnsafeBufferPointer { buffer in
        let scalars = ScalarText(buffer)
        return scalars.split(steps).map {
            String(decoding: utf8[scalars.byteOffsets[$0.lowerBound]..<scalars.byteOffsets[$0.upperBound]], as: UTF8.self)
        }
    }
}

@Suite struct WordSplitterTests {
    @Test func gpt2LeavesTheLastSpaceToTheNextWord() {
        #expect(words("Hello  world", [.gpt2]) == ["Hello", " ", " world"])
        #expect(words("x   ", [.gpt2]) == ["x", "   "])
        #expect(words(" 42 !!", [.gpt2]) == [" 42", " !!"])
    }

    @Test func gpt2ContractionsAreLowerCaseOnly() {
        #expect(words("I'm it's we'll", [.gpt2]) == ["I", "'m", " it", "'s", " we", "'ll"])
        #expect(words("IT'S", [.gpt2]) == ["IT", "'", "S"])
    }

    @Test func llama3FoldsContractionsAndGroupsDigitsByThree() {
        #expect(words("IT'S", [.llama3]) == ["IT", "'S"])
        #expect(words("1234567", [.llama3]) == ["123", "456", "7"])
        #expect(words("a\n\n b", [.llama3]) == ["a", "\n\n", " b"])
        #expect(words("(x)\r\n", [.llama3]) == ["(x", ")\r\n"])
    }

    @Test func qwen2TakesOneDigitAtATime() {
        #expect(words("v123", [.qwen2]) == ["v", "1", "2", "3"])
    }

    @Test func qwen35KeepsCombiningMarksInWords() {
        #expect(words("e\u{301}t\u{e9}", [.qwen35]) == ["e\u{301}t\u{e9}"])
        #expect(words("\u{915}\u{93F}", [.qwen2]) == ["\u{915}", "\u{93F}"])
    }

    @Test func smolLMIsolatesEveryNumberBeforeGPT2() {
        #expect(words(" 42x", [.eachNumber, .gpt2]) == [" ", "4", "2", "x"])
        #expect(words("\u{663}\u{664}", [.eachNumber, .gpt2]) == ["\u{663}", "\u{664}"]) // Arabic-Indic digits
    }

    @Test func llamaCppDefaultListRunsFourSteps() {
        #expect(words("a...b 12345", PreTokenizer.llamaCppDefault) == ["a", "...", "b", " ", "123", "45"])
        #expect(words("`x`", [.punctuationRuns(backtick: true)]) == ["`", "x", "`"])
        #expect(words("`x`", [.punctuationRuns(backtick: false)]) == ["`x`"])
    }

    @Test func flagsFollowLlamaCppsUnicode15Table() {
        #expect(CodepointFlags(0x41) == .letter)
        #expect(CodepointFlags(0xE9) == .letter)
        #expect(CodepointFlags(0x301) == .mark)
        #expect(CodepointFlags(0x20) == [.separator, .whitespace])
        #expect(CodepointFlags(0x3000) == [.separator, .whitespace])
        #expect(CodepointFlags(0x0A) == [.control, .whitespace])
        #expect(CodepointFlags(0x1F600) == .symbol)
        #expect(CodepointFlags(0xE000) == .control)
        #expect(CodepointFlags(0x1C89) == .undefined) // Cyrillic, new in Unicode 16: unassigned for llama.cpp
        #expect(CodepointFlags(0x0378) == .undefined)
    }
}
