// The attacks of the hardening review, each against a real server on loopback: header forms RFC 9112 forbids,
// control characters in ids, bodies trickled a byte at a time, clients that leave mid-request, pipelines ending
// in Connection: close, and writes to a socket the client has closed.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct HardeningTests {
    private func expect400(_ server: TestServer, _ request: String, code: String = "bad_request",
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try server.client()
        try client.send(request)
        let response = try client.readResponse()
        #expect(response.status == 400, "\(request.debugDescription) got \(response.status)", sourceLocation: sourceLocation)
        #expect(try response.errorObject()["code"] as? String == code, sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        // A proxy that frames by Content-Length while we frame by chunks is how requests are smuggled.
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : t\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A\t: 1\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n\ttwo\r\n\r\n",
    ])
    func headerFormsRFC9112ForbidsGet400(_ request: String) throws {
        let server = try TestServer(respond: echoResponder)
        try expect400(server, request)
    }

    @Test func obsoleteFoldingSplitAcrossReadsIsStillSeen() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        try client.send(" two\r\n\r\n")
        #expect(try client.readResponse().status == 400)
    }

    @Test func http10WithoutHostAndBodyBytesThatLookLikeFoldingAreFine() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n\n  x")
        #expect(try client.readResponse().text == "POST /b 4 \n  x")
        let old = try server.client()
        try old.send("GET /old HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().status == 200)
    }

    @Test(arguments: ["/v1/files/file-abc%00xyz/content", "/v1/models/ft%00", "/a%0Ab", "/v1/files?after=x%00y"])
    func controlCharactersInIdsAreRefused(_ target: String) throws {
        let hits = Counter()
        let server = try TestServer { _ in hits.increment(); return .text("served") }
        try expect400(server, "GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n", code: "invalid_path")
        #expect(hits.value == 0, "the handler saw \(target)")
    }

    @Test func aBodyTrickledAByteAtATimeIsCutOffAfterTheGracePeriod() throws {
        let server = try TestServer(configure: {
            $0.bodyGracePeriod = 0.5
            $0.minimumBodyBytesPerSecond = 1000
            $0.idleTimeout = 30
        }, respond: echoResponder)
        let client = try server.client(timeout: 10)
        try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        let started = Date()
        // Each byte comes well within the idle timeout: only the overall rate can end this.
        while Date().timeIntervalSince(started) < 1.5, (try? client.send("x")) != nil {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try client.readResponse().status == 408)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func aBodyAtAnHonestRateIsRead() throws {
        let server = try TestServer(configure: {
            $0.bodyGracePeriod = 0.5
            $0.minimumBodyBytesPerSecond = 1000
        }, respond: echoResponder)
        let client = try server.client()
        try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\n\r\n")
        for _ in 0..<4 {
            try client.send(String(repeating: "y", count: 1000))
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try client.readResponse().status == 200)
    }

    @Test func aHandlerIsToldWhenItsClientLeaves() throws {
        let started = DispatchSemaphore(value: 0)
        let told = DispatchSemaphore(value: 0)
        let server = try TestServer { request in
            request.disconnect.onDisconnect { told.signal() }
            started.signal()
            // Stands in for a long generation: it ends when the client is gone (or after 10 s, failing the test).
            _ = told.wait(timeout: .now() + 10)
            told.signal()
            return .text("too late")
        }
        let client = try server.client()
        try client.send("POST /work HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
        #expect(started.wait(timeout: .now() + 5) == .success)
        client.abort()
        #expect(told.wait(timeout: .now() + 5) == .success, "the handler was not told that its client left")
    }

    @Test func aHalfClosedClientWithOneKeepAliveRequestCountsAsGone() throws {
        let told = DispatchSemaphore(value: 0)
        let server = try TestServer { request in
            request.disconnect.onDisconnect { told.signal() }
            _ = told.wait(timeout: .now() + 10)
            told.signal()
            return .text("too late")
        }
        let client = try server.client()
        try client.send("GET /work HTTP/1.1\r\nHost: t\r\n\r\n")
        client.shutdownWrite()
        #expect(told.wait(timeout: .now() + 5) == .success)
    }

    @Test func aHandlerWhoseClientStaysIsNotTold() throws {
        let fired = Counter()
        let server = try TestServer { request in
            request.disconnect.onDisconnect { fired.increment() }
            Thread.sleep(forTimeInterval: 0.1)
            return .text("done")
        }
        let client = try server.client()
        try client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "done")
        client.abort()
        Thread.sleep(forTimeInterval: 0.2)
        #expect(fired.value == 0)
    }

    /// Also from a client that shuts its sending side down once it has sent everything (nc -N, many scripts).
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func aPipelineEndingInConnectionCloseGetsEveryAnswer(inline: Bool, halfClose: Bool) throws {
        let responder = TestResponder(inline: { _ in inline }, respond: echoResponder)
        let server = try TestServer(responder: responder)
        let client = try server.client()
        try client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        if halfClose { client.shutdownWrite() }
        #expect(try client.readResponse().text == "GET /1 0")
        #expect(try client.readResponse().text == "GET /2 0")
        let last = try client.readResponse()
        #expect(last.text == "GET /3 0")
        #expect(last.headers["Connection"] == "close")
        #expect(client.waitForClose())
    }

    @Test func writingToAClientThatClosedDoesNotKillTheProcess() throws {
        // Large enough that the first write cannot take it all: the rest goes out after the client has reset.
        let big = [UInt8](repeating: 0x61, count: 8 << 20)
        let server = try TestServer { _ in .init(status: 200, headers: [:], body: .bytes(big)) }
        for _ in 0..<4 {
            let client = try server.client()
            try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            client.abort()
        }
        // SIGPIPE's default action would have ended this test process by now.
        let client = try server.client()
        try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().body.count == big.count)
    }
}
