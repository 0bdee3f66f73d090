// Live-socket tests of request framing: keep-alive, pipelining, chunked bodies, HEAD, 100-continue,
// and the error statuses for malformed, oversized and slow requests.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct ConnectionTests {
    @Test func answersAGetWithLengthAndRequestID() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "GET /hello?x=1 0")
        #expect(response.headers["Content-Length"] == "16")
        let id = try #require(response.headers["x-request-id"])
        #expect(id.hasPrefix("req_") && id.count == 28)
        #expect(response.headers["Connection"] == nil)
    }

    @Test func keepAliveServesManyRequestsWithDistinctIDs() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        var ids = Set<String>()
        for index in 0..<20 {
            try client.send("GET /n/\(index) HTTP/1.1\r\nHost: t\r\nx-request-id: mine\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.text == "GET /n/\(index) 0")
            ids.insert(response.headers["x-request-id"] ?? "")
        }
        #expect(ids.count == 20)
        #expect(!ids.contains("mine"))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        // Handlers finish in reverse order of arrival; responses must still come back in request order.
        let server = try TestServer { request in
            let delay = Double(10 - (Int(request.head.pathSegments.last ?? "0") ?? 0)) * 0.01
            Thread.sleep(forTimeInterval: delay)
            return echoResponder(request)
        }
        let client = try server.client()
        var batch = ""
        for index in 0..<10 {
            batch += "POST /p/\(index) HTTP/1.1\r\nHost: t\r\nContent-Length: \(String(index).count)\r\n\r\n\(index)"
        }
        try client.send(batch)
        for index in 0..<10 {
            let response = try client.readResponse()
            #expect(response.text == "POST /p/\(index) \(String(index).count) \(index)")
        }
    }

    @Test func thousandsOfPipelinedInlineRequestsAreAnsweredInOrder() throws {
        // Inline answers are produced while the previous ones are being parsed; this would exhaust the stack
        // if each response started parsing the next request recursively.
        let server = try TestServer(responder: TestResponder(inline: { _ in true }, respond: echoResponder))
        let client = try server.client(timeout: 20)
        let count = 3000
        let batch = (0..<count).map { "GET /i/\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
        let sender = Thread { try? client.send(batch) }
        sender.start()
        for index in 0..<count {
            let response = try client.readResponse()
            guard response.text == "GET /i/\(index) 0" else {
                Issue.record("response \(index) was \(response.text)")
                return
            }
        }
    }

    @Test func handlersRunOnHandlerThreadsUnlessInline() throws {
        let server = try TestServer(responder: TestResponder(inline: { $0.path == "/healthz" }) { _ in
            .text(currentThreadName())
        })
        let client = try server.client()
        try client.send("GET /work HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        let pooled = try client.readResponse().text
        #expect(pooled.hasPrefix("tailor-http-"), "ran on \(pooled)")
        #expect(try client.readResponse().text == "test-http-loop")
    }

    @Test func slowHandlersDoNotBlockOtherConnections() throws {
        let release = DispatchSemaphore(value: 0)
        let server = try TestServer(responder: TestResponder(inline: { $0.path == "/healthz" }) { request in
            if request.head.path == "/slow" { _ = release.wait(timeout: .now() + 5) }
            return .text("done")
        })
        let slow = try server.client()
        try slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        let fast = try server.client()
        for _ in 0..<5 {
            try fast.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try fast.readResponse().text == "done")
        }
        release.signal()
        #expect(try slow.readResponse().text == "done")
    }

    @Test func manyConcurrentClientsGetTheirOwnAnswers() throws {
        let server = try TestServer { request in
            if case .bytes(let bytes) = request.body { return .text(String(decoding: bytes.reversed(), as: UTF8.self)) }
            return .text("")
        }
        let failures = Counter()
        let group = DispatchGroup()
        for clientIndex in 0..<16 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let client = try? server.client() else { failures.increment(); return }
                for requestIndex in 0..<50 {
                    let body = "c\(clientIndex)-r\(requestIndex)"
                    let reply = try? { () throws -> String in
                        try client.send("POST /rev HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                        return try client.readResponse().text
                    }()
                    if reply != String(body.reversed()) { failures.increment() }
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(failures.value == 0)
    }

    @Test func chunkedRequestBodyIsReassembled() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.text == "POST /c 11 hello world")
        try client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "GET /after 0")
    }
}
