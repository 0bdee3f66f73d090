// JSONL records as T5 pairs: mapped fields, EOS on both sides, truncation that keeps EOS last (as transformers'
// truncation=True does), and problems reported with their line.
import Foundation
import Testing
@testable import TailorEngine

struct T5DatasetTests {
    static func jsonl(_ records: [[String: Any]]) throws -> Data {
        Data(try records.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
            .joined(separator: "\n").utf8)
    }

    @Test func mappedFieldsBecomePairsWithEOS() throws {
        let model = try T5ModelTests.load("tiny-t5")
        let tok = model.tokenizer, eos = try #require(tok.eos)
        let records = (0..<3).map { ["document": "summarize: the house number \($0) is wonderful", "summary": "house \($0)", "id": $0] as [String: Any] }
        let (examples, issues) = T5Dataset.prepare(try Self.jsonl(records), tokenizer: tok,
                                                   mapping: FieldMapping(input: "document", target: "summary"), minimumExamples: 3)
        #expect(issues.isEmpty)
        #expect(examples.count == 3)
        #expect(examples[1].source == tok.encode("summarize: the house number 1 is wonderful", addSpecial: true))
        #expect(examples[1].target == tok.encode("house 1", addSpecial: true) && examples[1].target.last == eos)

        let cut = T5Dataset.prepare(try Self.jsonl(records), tokenizer: tok,
                                    mapping: FieldMapping(input: "document", target: "summary", maxSourceTokens: 4, maxTargetTokens: 2),
                                    minimumExamples: 1).examples
        #expect(cut[0].source.count == 4 && cut[0].source.last == eos && Array(cut[0].source.prefix(3)) == Array(examples[0].source.prefix(3)))
        #expect(cut[0].target.count == 2 && cut[0].target.last == eos)
    }

    @Test func problemsNameTheirLine() throws {
        let model = try T5ModelTests.load("tiny-t5")
        let data = try Self.jsonl([["document": "a", "summary": "b"], ["document": "a", "sumary": "b"], ["document": "a", "summary": ""]])
        let (_, issues) = T5Dataset.prepare(data, tokenizer: model.tokenizer, mapping: FieldMapping(input: "document", target: "summary"))
        #expect(issues.map(\.line) == [2, 3])
        #expect(issues.first?.description.contains("\"summary\"") == true)
        let few = T5Dataset.prepare(try Self.jsonl([["prompt": "a", "completion": "b"]]), tokenizer: model.tokenizer)
        #expect(few.issues.map(\.code) == [.tooFewExamples])
    }
}
