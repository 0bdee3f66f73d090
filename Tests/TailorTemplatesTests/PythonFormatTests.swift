// Python's spellings of floats, strings and JSON, compared with values CPython 3.11 printed.
import Testing
@testable import TailorTemplates

@Suite struct PythonFormatTests {
    @Test(arguments: [
        (0.1, "0.1"), (1e16, "1e+16"), (1e-5, "1e-05"), (123456789.123, "123456789.123"), (1.5e300, "1.5e+300"),
        (-2.5e-7, "-2.5e-07"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (100.0, "100.0"), (0.001, "0.001"), (12345678901234567.0, "1.2345678901234568e+16"),
        (9999999999999998.0, "9999999999999998.0"), (0.30000000000000004, "0.30000000000000004"), (-0.0, "-0.0"),
        (1e22, "1e+22"), (1152921504606846976.0, "1.152921504606847e+18"),
    ])
    func floatRepr(_ value: Double, _ python: String) {
        #expect(pythonFloatRepr(value) == python)
    }

    @Test func stringRepr() {
        #expect(pythonStringRepr("plain") == "'plain'")
        #expect(pythonStringRepr("it's") == "\"it's\"")
        #expect(pythonStringRepr("both ' and \"") == "'both \\' and \"'")
        #expect(pythonStringRepr("\u{0}\u{7f}\u{200b}😀\u{a0} ok") == "'\\x00\\x7f\\u200b😀\\xa0 ok'")
        #expect(pythonStringRepr("tab\tnew\nline\\") == "'tab\\tnew\\nline\\\\'")
    }

    @Test func reprOfContainers() {
        let dict = OrderedDict([("b", .int(1)), ("a", .list([.none, .bool(true), .double(2), .tuple([.string("x")])]))])
        #expect(Value.dict(dict).pythonRepr == "{'b': 1, 'a': [None, True, 2.0, ('x',)]}")
        #expect(Value.tuple([]).pythonRepr == "()")
        #expect(Value.undefined(Undefined(message: "x")).pythonString == "")
    }

    @Test func jsonDumps() throws {
        let value = Value.dict(OrderedDict([("a", .list([.int(1), .dict(OrderedDict([("b", .none)]))])),
                                            ("c", .string("é\u{7}"))]))
        #expect(try JSONDumper().dump(value) == "{\"a\": [1, {\"b\": null}], \"c\": \"é\\u0007\"}")
        #expect(try JSONDumper(ensureASCII: true, indent: "\t").dump(value)
                == "{\n\t\"a\": [\n\t\t1,\n\t\t{\n\t\t\t\"b\": null\n\t\t}\n\t],\n\t\"c\": \"\\u00e9\\u0007\"\n}")
        #expect(try JSONDumper(separators: (",", ":"), sortKeys: true).dump(value) == "{\"a\":[1,{\"b\":null}],\"c\":\"é\\u0007\"}")
        #expect(try JSONDumper(ensureASCII: true).dump(.string("😀")) == "\"\\ud83d\\ude00\"")
        #expect(throws: TemplateError.self) { try JSONDumper().dump(.generator([], kind: "generator")) }
    }

    @Test func equalityAndOrderFollowPython() throws {
        #expect(Value.int(1).pythonEquals(.double(1)))
        #expect(Value.bool(true).pythonEquals(.int(1)))
        #expect(!Value.list([.int(1)]).pythonEquals(.tuple([.int(1)])))
        #expect(Value.dict(OrderedDict([("a", .int(1)), ("b", .int(2))]))
            .pythonEquals(.dict(OrderedDict([("b", .int(2)), ("a", .int(1))]))))
        #expect(try Value.string("B").pythonLess(.string("a")))
        #expect(try Value.list([.int(1), .int(2)]).pythonLess(.list([.int(1), .int(3)])))
        #expect(throws: TemplateError.self) { try Value.int(1).pythonLess(.string("a")) }
    }
}
