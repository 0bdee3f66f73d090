// Request bodies (buffered, spooled to disk, rejected early, 100-continue) and response bodies
// (bytes, files, HEAD, 204/304) over real sockets.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct BodyTests {
    @Test func largeUploadIsSpooledToAFileNotMemory() throws {
        let seen = Locked<(path: String, count: Int, sum: UInt64, existedDuringHandler: Bool)?>(nil)
        let server = try TestServer(responder: TestResponder(prepare: { _ in .spool(limit: 64 << 20) }) { request in
            guard case .file(let path, let count) = request.body else { return .text("not a file", contentType: "text/plain") }
            let data = FileManager.default.contents(atPath: path) ?? Data()
            seen.set((path, count, data.reduce(0) { $0 &+ UInt64($1) }, FileManager.default.fileExists(atPath: path)))
            return .text("\(count)")
        })
        let client = try server.client(timeout: 30)
        let size = 24 << 20
        try client.send("POST /v1/files HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n")
        var expectedSum: UInt64 = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<(size >> 20) {
            for offset in stride(from: 0, to: chunk.count, by: 4096) { chunk[offset] = UInt8(truncatingIfNeeded: index &+ offset) }
            expectedSum = chunk.reduce(expectedSum) { $0 &+ UInt64($1) }
            try client.send(chunk)
        }
        let response = try client.readResponse()
        #expect(response.text == "\(size)")
        let record = try #require(seen.get())
        #expect(record.count == size)
        #expect(record.sum == expectedSum)
        #expect(record.existedDuringHandler)
        #expect(record.path.hasPrefix(server.spoolDirectory))
        #expect(!FileManager.default.fileExists(atPath: record.path), "the spool file is removed after the handler")
    }

    @Test func spoolLimitAnswers413AndLeavesNoFileBehind() throws {
        let server = try TestServer(responder: TestResponder(prepare: { _ in .spool(limit: 1000) }) { _ in .text("never") })
        let client = try server.client()
        try client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        try client.send("400\r\n" + String(repeating: "q", count: 1024) + "\r\n")
        #expect(try client.readResponse().status == 413)
        #expect(client.waitForClose())
        #expect(server.spooledFiles().isEmpty)
    }

    @Test func rejectionWithoutABodyKeepsTheConnection() throws {
        let server = try TestServer(responder: TestResponder(prepare: { head in
            head.path == "/secret" ? .reject(.error(status: 401, message: "no key", code: "invalid_api_key")) : .buffer(limit: 100)
        }, respond: echoResponder))
        let client = try server.client()
        try client.send("GET /secret HTTP/1.1\r\nHost: t\r\n\r\nGET /open HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.status == 401)
        #expect(first.headers["Connection"] == nil)
        #expect(try client.readResponse().text == "GET /open 0")
    }

    @Test func rejectionOfAnUploadAnswersWithoutReadingItAndCloses() throws {
        let server = try TestServer(responder: TestResponder(prepare: { _ in
            .reject(.error(status: 401, message: "no key", code: "invalid_api_key"))
        }, respond: echoResponder))
        let client = try server.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 500000000\r\nExpect: 100-continue\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 401, "no 100 Continue for a body that will not be read")
        #expect(response.headers["Connection"] == "close")
        #expect(client.waitForClose())
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() throws {
        let server = try TestServer(respond: echoResponder)
        let client = try server.client()
        try client.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        try client.send("hello")
        #expect(try client.readResponse().text == "POST /e 5 hello")
    }

    @Test func fileResponseIsStreamedAndOptionallyDeleted() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/payload.bin"
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        FileManager.default.createFile(atPath: path, contents: Data(payload))
        let server = try TestServer { request in
            HTTPResponse(headers: ["Content-Type": "application/octet-stream"],
                         body: .file(path: path, deleteAfterSending: request.head.path == "/last"))
        }
        let client = try server.client()
        try client.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.body == payload)
        #expect(FileManager.default.fileExists(atPath: path))
        try client.send("HEAD /first HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readResponse(bodyExpected: false)
        #expect(head.headers["Content-Length"] == "\(payload.count)")
        try client.send("GET /last HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().body == payload)
        try client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 500, "the file is gone after /last")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func headGetsHeadersWithoutABody() throws {
        let server = try TestServer { _ in .text("twelve bytes") }
        let client = try server.client()
        try client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readResponse(bodyExpected: false)
        #expect(head.headers["Content-Length"] == "12")
        // If HEAD had carried a body, this would read it as the next status line and fail.
        #expect(try client.readResponse().text == "twelve bytes")
    }

    @Test func noContentAndNotModifiedCarryNoBody() throws {
        let server = try TestServer { request in
            HTTPResponse(status: request.head.path == "/204" ? 204 : 304, body: .bytes(Array("ignored".utf8)))
        }
        let client = try server.client()
        try client.send("GET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.status == 204 && first.headers["Content-Length"] == nil)
        #expect(try client.readResponse().status == 304)
    }

    @Test func handlerHeadersCannotForgeFramingOrInjectLines() throws {
        let server = try TestServer { _ in
            HTTPResponse(headers: ["Content-Length": "999", "X-Evil": "a\r\nSet-Cookie: x=1", "x-request-id": "fake"],
                         body: .bytes(Array("ok".utf8)))
        }
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.text == "ok")
        #expect(response.headers["Set-Cookie"] == nil)
        #expect(response.headers["x-request-id"] != "fake")
        #expect(response.headers.values("Content-Length") == ["2"])
    }
}

/// A value shared between a handler thread and the test.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}
