// The JSON Schema subset items are checked against: what conforms, the first violation's wording, and the keywords
// refused when an eval is created because Tailor would not check them.
import Foundation
import Testing
@testable import TailorEval

@Suite struct ItemSchemaTests {
    private func any(_ text: String) -> Any { try! JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) }
    private func schema(_ text: String) throws -> ItemSchema { try ItemSchema(any(text) as! [String: Any]) }

    @Test func checksTheCommonKeywords() throws {
        let s = try schema(#"""
            {"type":"object","properties":{"q":{"type":"string","minLength":1},"n":{"type":"integer","minimum":0},
             "tag":{"enum":["a","b"]},"list":{"type":"array","items":{"type":"number"},"maxItems":2}},
             "required":["q"],"additionalProperties":false}
            """#)
        #expect(s.violation(any(#"{"q":"hi","n":3,"tag":"a","list":[1,2.5]}"#)) == nil)
        #expect(s.violation(any(#"{"n":3}"#)) == "item is missing the required field 'q'")
        #expect(s.violation(any(#"{"q":5}"#)) == "item.q must be string, not integer")
        #expect(s.violation(any(#"{"q":""}"#)) == "item.q must be at least 1 characters")
        #expect(s.violation(any(#"{"q":"x","n":1.5}"#)) == "item.n must be integer, not number")
        #expect(s.violation(any(#"{"q":"x","n":-1}"#)) == "item.n must be at least 0")
        #expect(s.violation(any(#"{"q":"x","tag":"c"}"#)) == "item.tag must be one of a, b")
        #expect(s.violation(any(#"{"q":"x","list":[1,"2"]}"#)) == "item.list[1] must be number, not string")
        #expect(s.violation(any(#"{"q":"x","list":[1,2,3]}"#)) == "item.list must have at most 2 items")
        #expect(s.violation(any(#"{"q":"x","extra":1}"#)) == "item has the field 'extra', which the schema does not allow")
        #expect(s.declaredFields == ["q", "n", "tag", "list"])
        #expect(try schema(#"{"type":"object"}"#).declaredFields == nil)
        #expect(try schema(#"{"type":"object","properties":{"ok":{"type":"boolean"}}}"#).violation(any(#"{"ok":1}"#))
                == "item.ok must be boolean, not integer")
    }

    @Test func refusesKeywordsItCannotCheck() {
        #expect(throws: SchemaError.self) { try schema(#"{"type":"object","oneOf":[{"required":["a"]}]}"#) }
        #expect(throws: SchemaError.self) { try schema(##"{"type":"object","properties":{"a":{"$ref":"#/x"}}}"##) }
        #expect(throws: SchemaError.self) { try schema(#"{"type":"thing"}"#) }
        do {
            _ = try schema(#"{"type":"object","properties":{"a":{"anyOf":[]}}}"#)
            Issue.record("anyOf was accepted")
        } catch {
            #expect("\(error)".contains("'anyOf' at /properties/a"))
        }
        #expect((try? schema(#"{"type":"object","title":"t","description":"d","properties":{"d":{"type":"string","format":"date"}}}"#)) != nil)
    }
}
