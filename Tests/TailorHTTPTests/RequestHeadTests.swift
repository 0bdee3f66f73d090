// The request head's derived fields: path, percent-decoded segments, form-decoded query; and HTTPHeaders.
import Testing
@testable import TailorHTTP

@Suite struct RequestHeadTests {
    @Test func queryIsFormDecoded() {
        let head = HTTPRequestHead(method: "GET", target: "/v1/fine_tuning/jobs?limit=20&after=ftjob-1&metadata%5Bteam%5D=a+b&empty=&flag&x=%E2%9C%93")
        #expect(head.path == "/v1/fine_tuning/jobs")
        #expect(head.queryValue("limit") == "20")
        #expect(head.queryValue("after") == "ftjob-1")
        #expect(head.queryValue("metadata[team]") == "a b")
        #expect(head.queryValue("empty") == "")
        #expect(head.queryValue("flag") == "")
        #expect(head.queryValue("x") == "✓")
        #expect(head.queryValue("missing") == nil)
        #expect(head.query.map(\.name) == ["limit", "after", "metadata[team]", "empty", "flag", "x"])
    }

    @Test func pathSegmentsArePercentDecodedOneByOne() {
        let head = HTTPRequestHead(method: "GET", target: "/v1/models/ft%3Amodel%3Ax/a+b/%2F%zz?q=1")
        #expect(head.pathSegments == ["v1", "models", "ft:model:x", "a+b", "/%zz"])
        #expect(head.path == "/v1/models/ft%3Amodel%3Ax/a+b/%2F%zz")
    }

    @Test func absoluteFormTargetsKeepOnlyThePath() {
        let head = HTTPRequestHead(method: "GET", target: "http://example.com/v1/models?x=1")
        #expect(head.path == "/v1/models")
        #expect(head.queryValue("x") == "1")
    }

    @Test func invalidUTF8DecodesToReplacementCharacters() {
        #expect(percentDecode("%FF%FEok", plusIsSpace: false) == "\u{FFFD}\u{FFFD}ok")
    }

    @Test func headersAreCaseInsensitiveAndOrdered() {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        headers.add("Vary", "Accept")
        headers.add("vary", "Origin")
        #expect(headers["content-type"] == "application/json")
        #expect(headers.values("VARY") == ["Accept", "Origin"])
        headers.set("Vary", "*")
        #expect(headers.values("vary") == ["*"])
        #expect(headers.map(\.name) == ["Content-Type", "Vary"])
        headers.remove("CONTENT-TYPE")
        #expect(headers["Content-Type"] == nil && headers.count == 1)
        headers.add("Connection", "keep-alive, Upgrade")
        #expect(headers.hasToken("upgrade", in: "connection"))
        #expect(!headers.hasToken("close", in: "connection"))
    }

    @Test func errorBodyHasAllFourKeys() throws {
        let response = HTTPResponse.error(status: 400, message: "bad \"quote\"\n", code: nil, param: "model")
        guard case .bytes(let bytes) = response.body else { Issue.record("bytes expected"); return }
        #expect(String(decoding: bytes, as: UTF8.self) ==
                #"{"error":{"message":"bad \"quote\"\n","type":"invalid_request_error","param":"model","code":null}}"#)
        #expect(response.headers["Content-Type"] == "application/json")
    }
}
