// Every limit and timeout answered with its status, an OpenAI-style JSON error, Connection: close,
// and then a clean close: 400, 408, 413 (declared and chunked), 431, idle keep-alive, HTTP/1.0.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct LimitsTests {
    /// Checks the shape every framework error shares, and that the server then closes the connection.
    private func expectError(_ response: RawResponse, status: Int, code: String, client: RawClient,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.headers["Content-Type"] == "application/json", sourceLocation: sourceLocation)
        #expect(response.headers["Connection"] == "close", sourceLocation: sourceLocation)
        #expect(response.headers["x-request-id"]?.hasPrefix("req_") == true, sourceLocation: sourceLocation)
        let error = try response.errorObject()
        #expect(error["code"] as? String == code, sourceLocation: sourceLocation)
        #expect(error["type"] as? String == "invalid_request_error", sourceLocation: sourceLocation)
        #expect(error["param"] is NSNull, sourceLocation: sourceLocation)
        #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(client.waitForClose(), "the server should close after the error", sourceLocation: sourceLocation)
    }

    @Test func oversizedHeaderBlockGets431() throws {
        let server = try TestServer { $0.maxHeaderBytes = 1024 } respond: { _ in .text("never") }
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n")
        try expectError(try client.readResponse(), status: 431, code: "request_header_fields_too_large", client: client)
    }

    @Test func manySmallHeadersOverTheLimitGet431() throws {
        let server = try TestServer { $0.maxHeaderBytes = 1024 } respond: { _ in .text("never") }
        let client = try server.client()
        var request = "GET / HTTP/1.1\r\nHost: t\r\n"
        for index in 0..<100 { request += "X-\(index): v\r\n" }
        try client.send(request + "\r\n")
        try expectError(try client.readResponse(), status: 431, code: "request_header_fields_too_large", client: client)
    }

    @Test func headersJustUnderTheLimitAreAccepted() throws {
        let server = try TestServer { $0.maxHeaderBytes = 1024 } respond: { _ in .text("ok") }
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Pad: \(String(repeating: "a", count: 900))\r\n\r\n")
        #expect(try client.readResponse().status == 200)
    }

    @Test func declaredBodyOverTheLimitGets413BeforeItIsSent() throws {
        let handled = Counter()
        let server = try TestServer(responder: TestResponder(prepare: { _ in .buffer(limit: 100) }) { _ in
            handled.increment()
            return .text("never")
        })
        let client = try server.client()
        // Only the head is sent: the answer must not wait for a body the server will never read.
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        try expectError(try client.readResponse(), status: 413, code: "request_too_large", client: client)
        #expect(handled.value == 0)
    }

    @Test func bodyOverTheLimitWhileTheClientIsStillSendingGets413() throws {
        let server = try TestServer(responder: TestResponder(prepare: { _ in .buffer(limit: 1000) }) { _ in .text("never") })
        let client = try server.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n")
        // Keep sending after the server has decided; the response must still arrive intact (no reset).
        let sender = Thread {
            let chunk = [UInt8](repeating: 120, count: 65536)
            for _ in 0..<45 { if (try? client.send(chunk)) == nil { break } }
        }
        sender.start()
        try expectError(try client.readResponse(), status: 413, code: "request_too_large", client: client)
    }

    @Test func chunkedBodyThatGrowsPastTheLimitGets413MidWay() throws {
        let server = try TestServer(responder: TestResponder(prepare: { _ in .buffer(limit: 1000) }) { _ in .text("never") })
        let client = try server.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = "190\r\n" + String(repeating: "z", count: 400) + "\r\n"
        try client.send(chunk + chunk)
        try client.send(chunk)
        try expectError(try client.readResponse(), status: 413, code: "request_too_large", client: client)
    }

    @Test func configuredBufferCapWinsOverALargerDisposition() throws {
        let server = try TestServer(configure: { $0.maxBufferedBodyBytes = 10 },
                                    responder: TestResponder(prepare: { _ in .buffer(limit: 1 << 20) }) { _ in .text("never") })
        let client = try server.client()
        try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
        try expectError(try client.readResponse(), status: 413, code: "request_too_large", client: client)
    }

    @Test(arguments: [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    ])
    func malformedRequestsGet400(_ request: String) throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send(request)
        try expectError(try client.readResponse(), status: 400, code: "bad_request", client: client)
    }

    @Test func unknownMajorVersionGets505() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("GET / HTTP/9.9\r\n\r\n")
        try expectError(try client.readResponse(), status: 505, code: "http_version_not_supported", client: client)
    }

    @Test func slowHeaderBlockGets408() throws {
        let server = try TestServer { $0.headerTimeout = 0.3 } respond: { _ in .text("never") }
        let client = try server.client()
        let started = Date()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n")
        try expectError(try client.readResponse(), status: 408, code: "request_timeout", client: client)
        #expect(Date().timeIntervalSince(started) >= 0.25)
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        let server = try TestServer(configure: { $0.idleTimeout = 0.3 }, respond: echoResponder)
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let started = Date()
        #expect(client.waitForClose())
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.25 && waited < 3)
    }

    @Test func busyKeepAliveConnectionOutlivesTheIdleTimeout() throws {
        let server = try TestServer(configure: { $0.idleTimeout = 0.4 }, respond: echoResponder)
        let client = try server.client()
        for _ in 0..<8 {
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            Thread.sleep(forTimeInterval: 0.15)
        }
    }

    @Test func http10WithoutKeepAliveCloses() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("GET /old HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.text == "GET /old 0")
        #expect(response.headers["Connection"] == "close")
        #expect(client.waitForClose())
    }

    @Test func http10WithKeepAliveStaysOpen() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        for _ in 0..<2 {
            try client.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.headers["Connection"] == "keep-alive")
        }
    }

    @Test func connectionCloseRequestIsHonoured() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().headers["Connection"] == "close")
        #expect(client.waitForClose())
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
