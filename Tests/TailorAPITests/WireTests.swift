// The API's wire basics: OpenAI's error body and the JSON writer every response goes through.
import Foundation
import Testing
import TailorHTTP
@testable import TailorAPI

@Suite struct ErrorBodyTests {
    static func body(_ e: APIError) throws -> [String: Any] {
        guard case .bytes(let b) = e.response.body else { throw APIError(.server, "not a byte body") }
        let object = try JSONSerialization.jsonObject(with: Data(b)) as? [String: Any]
        return try #require(object?["error"] as? [String: Any])
    }

    @Test func everyKeyIsPresentAndNullWhenUnknown() throws {
        let e = try Self.body(APIError(.notFound, "No such file: 'file-x'"))
        #expect(Set(e.keys) == ["message", "type", "param", "code"])
        #expect(e["message"] as? String == "No such file: 'file-x'")
        #expect(e["type"] as? String == "invalid_request_error")
        #expect(e["param"] is NSNull && e["code"] is NSNull)
    }

    @Test func kindsMapToStatusAndType() throws {
        let cases: [(APIError.Kind, Int, String)] = [(.badRequest, 400, "invalid_request_error"), (.unauthorized, 401, "invalid_request_error"),
                                                     (.forbidden, 403, "permission_error"), (.notFound, 404, "invalid_request_error"),
                                                     (.methodNotAllowed, 405, "invalid_request_error"), (.tooLarge, 413, "invalid_request_error"),
                                                     (.unavailable, 503, "server_error"), (.server, 500, "server_error")]
        for (kind, status, type) in cases {
            let e = APIError(kind, "x")
            #expect(e.response.status == status)
            #expect(try Self.body(e)["type"] as? String == type)
        }
        let missing = try Self.body(APIError.missing("model"))
        #expect(missing["param"] as? String == "model" && missing["code"] as? String == "missing_required_parameter")
    }
}

@Suite struct JSONValueTests {
    @Test func stringsAreEscapedAndRoundTrip() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} emoji 🧵 accents é"
        let v = JSONValue.object([("s", .string(text)), ("n", .null), ("b", true), ("i", 42), ("d", .double(0.5)), ("w", .double(3))])
        let out = v.serialized
        #expect(!out.contains("\n") && !out.contains("\u{7}") && !out.contains("\u{0}"))
        let back = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(back["s"] as? String == text)
        #expect(back["n"] is NSNull && back["b"] as? Bool == true && back["i"] as? Int == 42 && back["d"] as? Double == 0.5)
        #expect(out.contains(#""w":3.0"#))   // a float stays a float on the wire (loss values, learning rates)
        #expect(JSONValue.parse(out)["s"] == .string(text))
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(JSONValue.array([.double(.nan), .double(.infinity)]).serialized == "[null,null]")
        #expect(JSONValue.parse("not json") == .null)
    }
}

@Suite struct JSONNumberTests {
    /// Foundation reads long decimals as NSDecimalNumber, whose doubleValue is off (0.9999999999999999 → 1.0).
    @Test func longDecimalsParseExactly() throws {
        #expect(JSONValue.parse("0.9999999999999999") == .double(0.9999999999999999))
        #expect(JSONValue.parse(#"{"x":1.9999999999999998}"#)["x"] == .double(1.9999999999999998))
        let body = RequestBody(fields: try #require(try JSONSerialization.jsonObject(with: Data(#"{"t":1.9999999999999998}"#.utf8)) as? [String: Any]))
        #expect(try body.number("t", in: 0...2) == 1.9999999999999998)
    }
}
