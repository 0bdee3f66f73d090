// TemplateValue and its JSON reader: key order survives, numbers keep Python's int/float split, errors point
// at the line and column of the bad JSON.
import Foundation
import Testing
@testable import TailorTemplates

@Suite struct TemplateValueTests {
    @Test func jsonKeepsKeyOrder() throws {
        let value = try TemplateValue(json: #"{"zeta": 1, "alpha": {"y": [true, null], "b": 2.5}, "mid": "x"}"#)
        guard case .dict(let dict) = value, case .dict(let inner)? = dict["alpha"] else {
            Issue.record("not a dict: \(value)")
            return
        }
        #expect(dict.keys == ["zeta", "alpha", "mid"])
        #expect(inner.keys == ["y", "b"])
        #expect(inner["b"] == .double(2.5))
        #expect(dict["zeta"] == .int(1))
    }

    @Test func repeatedKeyKeepsFirstPositionAndLastValue() throws {
        guard case .dict(let dict) = try TemplateValue(json: #"{"a": 1, "b": 2, "a": 3}"#) else { return }
        #expect(dict.keys == ["a", "b"])
        #expect(dict["a"] == .int(3))
    }

    @Test func numbersAndEscapes() throws {
        #expect(try TemplateValue(json: "[1, -2, 1.0, 1e3, 3E-2]")
                == .array([.int(1), .int(-2), .double(1), .double(1000), .double(0.03)]))
        #expect(try TemplateValue(json: #""a\"b\\c\/d\n\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\né😀"))
        #expect(try TemplateValue(json: "  \"plain\"  ") == "plain")
    }

    @Test(arguments: [
        ("{\"a\": 1,\n  \"b\" 2}", 2, 7),
        ("[1, 2", 1, 6),
        ("{\"a\": tru}", 1, 7),
        ("\"unterminated", 1, 14),
        ("[1] 2", 1, 5),
    ])
    func malformedJSONIsLocated(_ text: String, _ line: Int, _ column: Int) {
        do {
            _ = try TemplateValue(json: text)
            Issue.record("parsed malformed JSON \(text.debugDescription)")
        } catch let error as TemplateError {
            #expect(error.kind == .json)
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.description.hasSuffix("send well-formed JSON"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func foundationObjects() throws {
        let object = try JSONSerialization.jsonObject(with: Data(#"{"b": [1, 2.5, true, null], "a": "x"}"#.utf8))
        #expect(try TemplateValue(jsonObject: object)
                == ["a": "x", "b": [.int(1), .double(2.5), .bool(true), .none]])
        guard case .dict(let dict) = try TemplateValue(jsonObject: object) else { return }
        #expect(dict.keys == ["a", "b"], "Foundation dictionaries have no order, so keys come sorted")
    }

    @Test func equalityIsPythons() {
        #expect(TemplateValue.int(1) == .double(1.0))
        #expect(TemplateValue.bool(true) == .int(1))
        #expect(TemplateValue.string("1") != .int(1))
        let ab: TemplateValue = ["a": 1, "b": 2]
        let ba: TemplateValue = ["b": 2, "a": 1]
        #expect(ab == ba)
    }

    @Test func dictionaryEditsKeepOrder() {
        var dict: TemplateDictionary = ["a": 1, "b": 2, "c": 3]
        dict["b"] = 20
        dict["d"] = 4
        dict["a"] = nil
        #expect(dict.keys == ["b", "c", "d"])
        #expect(Array(dict.map(\.value)) == [20, 3, 4])
        for index in 0..<40 { dict["k\(index)"] = .int(index) }
        #expect(dict["k33"] == 33)
        #expect(dict.count == 43)
    }
}
