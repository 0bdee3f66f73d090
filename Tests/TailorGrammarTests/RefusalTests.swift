// What the compiler refuses: every refusal names the keyword and its JSON pointer, so nothing is enforced partially.
import Testing
@testable import TailorGrammar

@Suite struct RefusalTests {
    func refusal(_ schema: String) -> GrammarError? {
        do { _ = try grammar(schema); return nil } catch let e as GrammarError { return e } catch { return nil }
    }

    @Test(arguments: [
        (#"{"not": {"minimum": 3}}"#, "not", "#/not"),
        (#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)\\1"}}}"#, "pattern", "#/properties/a/pattern"),
        (#"{"type": "string", "pattern": "(?=a)"}"#, "pattern", "#/pattern"),
        (#"{"type": "string", "format": "ipv6"}"#, "format", "#/format"),
        (#"{"type": "array", "uniqueItems": true}"#, "uniqueItems", "#/uniqueItems"),
        (#"{"type": "integer", "multipleOf": 123457}"#, "multipleOf", "#/multipleOf"),
        (#"{"type": "string", "minLength": 10000000000}"#, "minLength", "#/minLength"),
        (#"{"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}"#, "oneOf", "#/oneOf"),
        (##"{"$ref": "other.json#/a"}"##, "$ref", "#/$ref"),
        (#"{"type": "object", "patternProperties": {"^x": {"type": "string"}, "^y": {"type": "integer"}}}"#, "patternProperties", "#/patternProperties"),
        // Merging a $ref with siblings must not drop a keyword it cannot enforce.
        (##"{"$ref": "#/$defs/d", "type": "object", "$defs": {"d": {"patternProperties": {"^x": {"type": "string"}, "^y": {}}}}}"##, "patternProperties", "#/patternProperties"),
        (#"{"type": "object", "properties": {"xa": {}}, "patternProperties": {"^x": {"type": "string"}}, "maxProperties": 3}"#, "maxProperties", "#/maxProperties"),
        (#"{"type": "object", "minProperties": 2}"#, "minProperties", "#/minProperties"),
        (#"{"type": "object", "properties": {"a": {"type": "string", "maxLength": 9000}}}"#, "maxLength", "#/properties/a/maxLength"),
        (##"{"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}, "$ref": "#/$defs/a"}"##, "$ref", "#"),
        // Inside a nested $id, "#/$defs/b" means that subschema's own $defs, not the root's.
        (##"{"type": "object", "properties": {"p": {"$id": "http://x/p", "$defs": {"b": {"type": "integer"}}, "$ref": "#/$defs/b"}}, "$defs": {"b": {"type": "string"}}}"##, "$id", "#/properties/p/$id"),
    ])
    func refusesNamingKeywordAndPointer(schema: String, keyword: String, pointer: String) {
        let e = refusal(schema)
        #expect(e?.keyword == keyword, "\(String(describing: e))")
        #expect(e?.pointer == pointer, "\(String(describing: e))")
    }

    @Test func aRootOrRefFreeIdIsFine() throws {
        try expectValid(##"{"$id": "http://x/root", "type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}, "$defs": {"n": {"type": "integer"}}}"##,
                        [#"{"n": 1}"#], invalid: [#"{"n": "1"}"#])
        try expectValid(#"{"type": "object", "properties": {"p": {"$id": "http://x/p", "type": "boolean"}}}"#, [#"{"p": true}"#], invalid: [#"{"p": 1}"#])
    }

    @Test func annotationsAndUnknownKeywordsAreIgnored() throws {
        try expectValid(#"{"title": "t", "description": "d", "examples": [1], "default": 2, "$schema": "x", "x-vendor": 1, "type": "integer"}"#,
                        ["3"], invalid: ["\"3\""])
    }

    @Test func errorMessageSaysWhatToDo() {
        let e = refusal(#"{"not": {"const": 1}}"#)
        #expect(e?.description.contains("'not'") == true)
        #expect(e?.description.contains("remove or simplify") == true)
    }
}
