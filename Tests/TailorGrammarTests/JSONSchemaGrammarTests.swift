// Per-feature checks of the schema compiler: each schema with instances it must accept and instances it must refuse,
// fed byte by byte (the mask side is in GrammarMatcherTests).
import Foundation
import Testing
@testable import TailorGrammar

@Suite struct JSONSchemaGrammarTests {
    @Test func freeJSONAllowsOneSpaceAfterSeparatorsOnly() throws {
        try expectValid("{}", ["{\"a\": [1, 2.5, -3e+2, true, null, {}]}", "{\"a\":[1,2]}", "\"x\"", "[]", "0"],
                        invalid: ["{\"a\":  1}", "{ \"a\": 1}", "[1 ,2]", "{\"a\": 1}\n", "01", "1.", "[1,]", "{\"a\"}", "tru"])
    }

    @Test func typesAndUnions() throws {
        try expectValid(#"{"type": ["string", "null"]}"#, ["\"a\"", "null"], invalid: ["1", "true", "{}"])
        try expectValid(#"{"type": "integer"}"#, ["0", "-12", "340"], invalid: ["1.5", "1e3", "\"1\"", "-", "00"])
        try expectValid(#"{"type": "boolean"}"#, ["true", "false"], invalid: ["null", "1"])
    }

    @Test func stringsAndEscapes() throws {
        try expectValid(#"{"type": "string"}"#, [#""a\"b""#, #""\u00e9\n""#, "\"日本\"", #""\ud83d\ude00""#, "\"😀\""],
                        invalid: ["\"a", "\"\n\"", #""\x""#, #""\ud83d""#, "\"a\"b\""])
        try expectValid(#"{"type": "string", "minLength": 2, "maxLength": 3}"#, ["\"ab\"", "\"日本語\"", #""\n\t""#],
                        invalid: ["\"a\"", "\"abcd\"", "\"😀\""])
    }

    @Test func objectsInSchemaOrderWithRequiredAndAdditional() throws {
        let s = #"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"], "additionalProperties": false}"#
        try expectValid(s, [#"{"a": 1, "b": "x"}"#, #"{"b": "x"}"#, #"{"a":1,"b":"x"}"#],
                        invalid: [#"{"a": 1}"#, #"{"b": "x", "a": 1}"#, #"{"b": "x", "c": 1}"#, "{}", #"{"a": "1", "b": "x"}"#])
        let open = #"{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}}"#
        try expectValid(open, [#"{"a": 1, "x": true}"#, #"{"x": false}"#, "{}", #"{"ab": true}"#],
                        invalid: [#"{"x": 1}"#, #"{"a": true}"#, #"{"a": 1, "a": true}"#])
    }

    @Test func arraysWithItemsPrefixAndCounts() throws {
        try expectValid(#"{"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}"#,
                        ["[1]", "[1, 2]"], invalid: ["[]", "[1, 2, 3]", "[\"a\"]"])
        try expectValid(#"{"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false, "type": "array"}"#,
                        ["[\"a\", 1]", "[\"a\"]", "[]"], invalid: ["[1]", "[\"a\", 1, 2]"])
        try expectValid(#"{"type": "array", "items": [{"const": 1}], "additionalItems": {"type": "null"}}"#,
                        ["[1, null, null]"], invalid: ["[2]", "[1, 2]"])
    }

    @Test func enumAndConst() throws {
        try expectValid(#"{"enum": ["red", 1.50, null, {"a": [1]}], "type": ["string", "number", "null", "object"]}"#,
                        ["\"red\"", "1.50", "null", #"{"a": [1]}"#, #"{"a":[1]}"#], invalid: ["\"blue\"", "1.5", #"{"a": [2]}"#])
        try expectValid(#"{"const": "a\"b"}"#, [#""a\"b""#], invalid: [#""ab""#])
    }

    @Test func anyOfOneOfAllOf() throws {
        try expectValid(#"{"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]}"#, ["1", "\"a\""], invalid: ["\"ab\"", "null"])
        let tagged = #"{"oneOf": [{"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]}, {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"]}]}"#
        try expectValid(tagged, [#"{"kind": "a", "x": 1}"#, #"{"kind": "b"}"#], invalid: [#"{"kind": "c"}"#])
        let all = #"{"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"a": {"minimum": 5}}}]}"#
        try expectValid(all, [#"{"a": 5}"#, #"{"a": 70}"#], invalid: [#"{"a": 4}"#, "{}"])
    }

    @Test func notOverTypesRemovesThem() throws {
        try expectValid(#"{"not": {"type": ["string", "object"]}}"#, ["1", "null", "[]"], invalid: ["\"a\"", "{}"])
        try expectValid(#"{"type": ["integer", "null"], "not": {"type": "number"}}"#, ["null"], invalid: ["1"])
        try expectValid(#"{"not": {}}"#, [], invalid: ["1", "null"])
    }

    @Test func patternPropertiesWithClosedObjects() throws {
        let s = #"{"type": "object", "properties": {"id": {"type": "integer"}}, "patternProperties": {"^x-[a-z]+$": {"type": "string"}}, "additionalProperties": false}"#
        try expectValid(s, [#"{"id": 1, "x-ab": "v"}"#, #"{"x-a": "v", "x-b": "w"}"#], invalid: [#"{"x-a": 1}"#, #"{"y": "v"}"#, #"{"x-A": "v"}"#])
        try expectValid(#"{"type": "object", "patternProperties": {"^a": {"description": "d"}}}"#, [#"{"ab": 1, "c": 2}"#], invalid: [])
    }

    @Test func patternPropertiesBesideOpenObjectsAndListedNames() throws {
        // Keys matching the pattern take its schema, others additionalProperties (here: anything).
        let open = #"{"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}}"#
        try expectValid(open, [#"{"ab": 1}"#, #"{"ab": 1, "A": "x", "a1": [], "c": 2}"#, "{}"], invalid: [#"{"ab": "x"}"#, #"{"A": 1, "b": "x"}"#])
        // A listed name matching the pattern owes both schemas; a required one that is not listed takes the pattern's.
        let listed = #"{"type": "object", "properties": {"n": {"minimum": 3}}, "required": ["m"], "patternProperties": {".*": {"type": "integer"}}}"#
        try expectValid(listed, [#"{"n": 3, "m": 1}"#, #"{"m": 1, "z": 4}"#], invalid: [#"{"n": 2, "m": 1}"#, #"{"n": "x", "m": 1}"#, #"{"m": "x"}"#, #"{"n": 3}"#, #"{"m": 1, "z": "x"}"#])
        // Others with a schema of their own.
        let split = #"{"type": "object", "patternProperties": {"^x": {"type": "string"}}, "additionalProperties": {"type": "boolean"}}"#
        try expectValid(split, [#"{"xa": "s", "y": true}"#, #"{"x": "s"}"#], invalid: [#"{"xa": true}"#, #"{"y": "s"}"#])
        #expect(matchesByTokens(try grammar(split), #"{"xa": "abc", "ab": true}"#))
        #expect(!matchesByTokens(try grammar(split), #"{"ab": "abc"}"#))
    }

    @Test func referencesIncludingRecursion() throws {
        let tree = ##"{"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"], "additionalProperties": false}}, "$ref": "#/$defs/node"}"##
        try expectValid(tree, [#"{"v": 1}"#, #"{"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}"#],
                        invalid: [#"{"v": 1, "kids": [{}]}"#, #"{"kids": []}"#])
        try expectValid(##"{"definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s"}}, "type": "object"}"##,
                        [#"{"a": "x"}"#], invalid: [#"{"a": 1}"#])
    }

    @Test func integerBounds() throws {
        try expectValid(#"{"type": "integer", "minimum": -15, "maximum": 120}"#, ["-15", "-9", "0", "7", "99", "120"],
                        invalid: ["-16", "121", "1000", "-100", "-0"])
        try expectValid(#"{"type": "integer", "exclusiveMinimum": 9}"#, ["10", "12345"], invalid: ["9", "0", "-3"])
        try expectValid(#"{"type": "integer", "maximum": 2.5, "minimum": 0.5}"#, ["1", "2"], invalid: ["0", "3"])
    }

    @Test func numberBounds() throws {
        try expectValid(#"{"type": "number", "minimum": 0, "maximum": 1}"#, ["0", "0.25", "1", "1.0", "0.0"],
                        invalid: ["1.01", "-0.5", "2", "1e-3"])
        try expectValid(#"{"type": "number", "minimum": 0}"#, ["0", "3.5e+10", "7"], invalid: ["-1", "-0.1"])
        try expectValid(#"{"type": "number", "exclusiveMaximum": 0}"#, ["-1", "-0.5", "-2e+3"], invalid: ["0", "-0", "-0.0", "1", "-0e5"])
    }

    /// Number texts around the interesting places, each with its value scaled by 1000 (all have ≤ 3 decimals).
    static let numberTexts: [(String, Int)] = {
        var out: [(String, Int)] = []
        for whole in [0, 1, 2, 4, 10, 12, 20, 78, 79, 90, 91, 459, 460] {
            for (frac, milli) in [("", 0), (".0", 0), (".00", 0), (".009", 9), (".01", 10), (".1", 100), (".25", 250), (".255", 255),
                                  (".4", 400), (".5", 500), (".55", 550), (".551", 551), (".67", 670), (".670", 670), (".671", 671), (".999", 999)] {
                let v = whole * 1000 + milli
                out.append(("\(whole)\(frac)", v))
                if v != 0 { out.append(("-\(whole)\(frac)", -v)) }
            }
        }
        return out
    }()

    @Test func decimalBoundsAgreeWithArithmetic() throws {
        // (minimum, exclusive, maximum, exclusive) in thousandths; nil: none.
        let cases: [(Int?, Bool, Int?, Bool)] = [(-90_500, false, 90_250, false), (10, false, nil, false), (nil, false, -500, true),
            (1500, false, 1500, false), (10_400, false, 78_550, false), (-459_670, false, nil, false), (100, true, 1, false),
            (-12_255, true, -12_250, true), (4_009, true, 4_670, false), (0, true, 250, true)]
        func text(_ m: Int) -> String { let a = abs(m); return (m < 0 ? "-" : "") + "\(a / 1000).\(String(format: "%03d", a % 1000))" }
        for (lo, loEx, hi, hiEx) in cases {
            var parts: [String] = [#""type": "number""#]
            if let lo { parts.append("\"\(loEx ? "exclusiveMinimum" : "minimum")\": \(text(lo))") }
            if let hi { parts.append("\"\(hiEx ? "exclusiveMaximum" : "maximum")\": \(text(hi))") }
            let g = try grammar("{" + parts.joined(separator: ", ") + "}")
            for (t, v) in Self.numberTexts {
                var ok = true
                if let lo { ok = ok && (loEx ? v > lo : v >= lo) }
                if let hi { ok = ok && (hiEx ? v < hi : v <= hi) }
                #expect(matches(g, t) == ok, "\(parts) on \(t)")
            }
        }
    }

    @Test func multipleOfAgreesWithArithmetic() throws {
        for (d, milli, type) in [("0.01", 10, "number"), ("0.5", 500, "number"), ("4", 4000, "integer"), ("10", 10_000, "integer"),
                                 ("1.0", 1000, "number"), ("0.25", 250, "number"), ("3", 3000, "number"), ("0.001", 1, "number")] {
            let g = try grammar(#"{"type": "\#(type)", "multipleOf": \#(d)}"#)
            for (t, v) in Self.numberTexts {
                let isInteger = !t.contains(".")
                let ok = v % milli == 0 && (type == "number" || isInteger)
                #expect(matches(g, t) == ok, "multipleOf \(d) (\(type)) on \(t)")
            }
        }
        try expectValid(#"{"type": "integer", "multipleOf": 4, "minimum": 16, "maximum": 40}"#, ["16", "24", "40"], invalid: ["12", "18", "44", "-16"])
        try expectValid(#"{"type": "number", "multipleOf": 0.01, "minimum": 0}"#, ["0", "12.5", "3.14"], invalid: ["-1", "3.141", "1e2"])
    }

    @Test func requiredNamesWithoutPropertiesComeInTheirListedOrder() throws {
        // Was alphabetical, which refused valid instances written in the schema's own order.
        try expectValid(#"{"type": "object", "required": ["version", "action", "action_ts"]}"#,
                        [#"{"version": 1, "action": "a", "action_ts": 2}"#], invalid: [#"{"version": 1, "action": "a"}"#])
    }

    @Test func minPropertiesOneMeansNotEmpty() throws {
        try expectValid(#"{"type": "object", "minProperties": 1}"#, [#"{"a": 1}"#, #"{"a": 1, "b": []}"#], invalid: ["{}"])
        try expectValid(#"{"type": "object", "properties": {"a": {}, "b": {}}, "additionalProperties": false, "minProperties": 1}"#,
                        [#"{"a": 1}"#, #"{"b": 2}"#, #"{"a": 1, "b": 2}"#], invalid: ["{}", #"{"c": 1}"#])
        try expectValid(#"{"type": "object", "properties": {"a": {}}, "required": ["a"], "minProperties": 1}"#, [#"{"a": 1}"#], invalid: ["{}"])
    }

    @Test func largeLengthBoundsCountInBlocks() throws {
        func str(_ n: Int) -> String { "\"" + String(repeating: "é", count: n / 2) + String(repeating: "a", count: n - n / 2) + "\"" }
        try expectValid(#"{"type": "string", "maxLength": 12001}"#, [str(0), str(999), str(1000), str(1001), str(12000), str(12001)],
                        invalid: [str(12002), str(13000)])
        try expectValid(#"{"type": "string", "minLength": 11000, "maxLength": 12001}"#, [str(11000), str(11999), str(12001)],
                        invalid: [str(0), str(10999), str(12002)])
        try expectValid(#"{"type": "string", "minLength": 10001}"#, [str(10001), str(10050)], invalid: [str(10000), str(5)])
        let g = try grammar(#"{"type": "string", "maxLength": 65535}"#)
        #expect(matchesByTokens(g, #""abcdefgh日本""#))
    }

    @Test func patternsAreSearchesUnlessAnchored() throws {
        try expectValid(#"{"type": "string", "pattern": "^[a-z]{2,3}-\\d+$"}"#, ["\"ab-1\"", "\"xyz-42\""], invalid: ["\"a-1\"", "\"ab-\"", "\"AB-1\""])
        try expectValid(#"{"type": "string", "pattern": "ab"}"#, ["\"xxabyy\"", "\"ab\""], invalid: ["\"a b\""])
        try expectValid(#"{"type": "string", "pattern": "^a\"?$"}"#, [#""a\"""#, "\"a\""], invalid: ["\"a\"\""])
    }

    @Test func patternOrFormatWithLengthBounds() throws {
        try expectValid(#"{"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 3}"#, ["\"ab\"", "\"abc\""],
                        invalid: ["\"a\"", "\"abcd\"", "\"a1\""])
        try expectValid(#"{"type": "string", "pattern": "^é+$", "maxLength": 2}"#, ["\"éé\""], invalid: ["\"ééé\""])
        try expectValid(#"{"type": "string", "format": "date", "maxLength": 9}"#, [], invalid: ["\"2024-01-01\""])
    }

    @Test func formats() throws {
        try expectValid(#"{"type": "string", "format": "date"}"#, ["\"2024-02-29\"", "\"2023-12-31\"", "\"2000-02-29\""],
                        invalid: ["\"2023-02-29\"", "\"1900-02-29\"", "\"2023-04-31\"", "\"2023-13-01\"", "\"23-01-01\""])
        try expectValid(#"{"type": "string", "format": "date-time"}"#, ["\"2024-01-02T03:04:05Z\"", "\"2024-01-02T23:59:59.123+05:30\""],
                        invalid: ["\"2024-01-02T24:00:00Z\"", "\"2024-01-02 03:04:05Z\"", "\"2024-01-02T03:04:05\""])
        try expectValid(#"{"type": "string", "format": "uuid"}"#, ["\"123e4567-e89b-12d3-a456-426614174000\""], invalid: ["\"123e4567e89b12d3a456426614174000\""])
        try expectValid(#"{"type": "string", "format": "email"}"#, ["\"a.b+c@example.com\""], invalid: ["\"a@\"", "\"@b.com\"", "\"a..b@c.com\"", "\"a b@c.com\""])
        try expectValid(#"{"type": "string", "format": "uri"}"#, ["\"https://example.com/a?b=c#d\"", "\"urn:isbn:123\""], invalid: ["\"example.com\"", "\"http://a b\""])
    }
}
