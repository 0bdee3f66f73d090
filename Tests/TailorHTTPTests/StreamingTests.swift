// Chunked and SSE responses: chunks arrive as written, finish() keeps the connection usable, and a client
// that vanishes makes write() return false and onClose fire promptly.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct StreamingTests {
    @Test func chunksArriveAsTheyAreWritten() throws {
        let gate = DispatchSemaphore(value: 0)
        let server = try TestServer { request in
            if request.head.path == "/after" { return .text("after") }
            return HTTPResponse(headers: ["Content-Type": "text/plain"], body: .stream { stream in
                for index in 0..<3 {
                    stream.write("part \(index)")
                    // The next chunk waits for the test to have seen this one: proof that it was not buffered.
                    _ = gate.wait(timeout: .now() + 5)
                }
                stream.finish()
            })
        }
        let client = try server.client()
        try client.send("GET /s HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readHead()
        #expect(head.headers["Transfer-Encoding"] == "chunked")
        #expect(head.headers["Content-Length"] == nil)
        for index in 0..<3 {
            #expect(try client.readChunk().map { String(decoding: $0, as: UTF8.self) } == "part \(index)")
            gate.signal()
        }
        #expect(try client.readChunk() == nil)
        try client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "after", "keep-alive continues after finish()")
    }

    @Test func serverSentEventsAreFramed() throws {
        let closed = DispatchSemaphore(value: 0)
        let server = try TestServer { _ in
            .eventStream { stream in
                stream.onClose { closed.signal() }
                stream.writeEvent(data: #"{"delta":"Hel"}"#)
                stream.writeEvent(data: "two\nlines", event: "note", id: "7")
                stream.writeComment()
                stream.writeEvent(data: "[DONE]")
                stream.finish()
            }
        }
        let client = try server.client()
        try client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
        let response = try client.readResponse()
        #expect(response.headers["Content-Type"] == "text/event-stream")
        #expect(response.headers["Cache-Control"] == "no-cache")
        #expect(response.text == "data: {\"delta\":\"Hel\"}\n\nevent: note\nid: 7\ndata: two\ndata: lines\n\n: ping\n\ndata: [DONE]\n\n")
        #expect(closed.wait(timeout: .now() + 5) == .success, "onClose runs once finish() has gone out")
    }

    @Test func disconnectMidStreamStopsTheWriterPromptly() throws {
        let closedAt = Locked<Date?>(nil)
        let writesFailed = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let server = try TestServer { _ in
            .eventStream { stream in
                stream.onClose { closedAt.set(Date()) }
                started.signal()
                var index = 0
                // A token stream that would run for minutes if nobody stopped it.
                while stream.write("data: token \(index)\n\n") {
                    index += 1
                    Thread.sleep(forTimeInterval: 0.01)
                    if index > 6000 { break }
                }
                #expect(stream.isClosed)
                writesFailed.signal()
            }
        }
        let client = try server.client()
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        #expect(started.wait(timeout: .now() + 5) == .success)
        _ = try client.readChunk()
        let disconnected = Date()
        client.abort()
        #expect(writesFailed.wait(timeout: .now() + 2) == .success, "write() must return false soon after the client left")
        let closed = try #require(closedAt.get())
        #expect(closed.timeIntervalSince(disconnected) < 1)
    }

    @Test func aSlowReaderBlocksTheWriterInsteadOfGrowingMemory() throws {
        let maxAhead = Locked(0)
        let totalWritten = Locked(0)
        let server = try TestServer { _ in
            HTTPResponse(body: .stream { stream in
                let chunk = [UInt8](repeating: 7, count: 64 * 1024)
                for _ in 0..<400 {
                    guard stream.write(chunk) else { return }
                    totalWritten.update { $0 += chunk.count }
                }
                stream.finish()
            })
        }
        let client = try server.client(timeout: 30)
        try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        var received = 0
        while let chunk = try client.readChunk() {
            received += chunk.count
            maxAhead.update { $0 = max($0, totalWritten.get() - received) }
            if received < 4 << 20 { Thread.sleep(forTimeInterval: 0.002) }
        }
        #expect(received == 400 * 64 * 1024)
        // In flight: the stream's 1 MiB budget plus what kernel socket buffers hold on both sides.
        #expect(maxAhead.get() < 16 << 20)
    }

    @Test func offerNeverWaitsAndWhenWritableResumesOnceTheClientCatchesUp() throws {
        let sawFull = DispatchSemaphore(value: 0)
        let server = try TestServer { _ in
            HTTPResponse(body: .stream { stream in
                let chunk = [UInt8](repeating: 7, count: 64 * 1024)
                let sent = Locked(0)
                @Sendable func pump() {
                    while sent.get() < 400 {
                        switch stream.offer(chunk) {
                        case .sent: sent.update { $0 += 1 }
                        case .full:
                            sawFull.signal()
                            stream.whenWritable(pump)
                            return
                        case .closed: return
                        }
                    }
                    stream.finish()
                }
                pump()
            })
        }
        let client = try server.client(timeout: 30)
        try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        // Nothing read yet: the writer hears "full" instead of waiting for the client.
        #expect(sawFull.wait(timeout: .now() + 20) == .success)
        var received = 0
        while let chunk = try client.readChunk() { received += chunk.count }
        #expect(received == 400 * 64 * 1024)
    }

    @Test func headRequestForAStreamSendsHeadersOnly() throws {
        let ran = Counter()
        let server = try TestServer { _ in
            HTTPResponse(body: .stream { stream in
                ran.increment()
                stream.finish()
            })
        }
        let client = try server.client()
        try client.send("HEAD /s HTTP/1.1\r\nHost: t\r\n\r\nGET /s HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse(bodyExpected: false).headers["Transfer-Encoding"] == "chunked")
        #expect(try client.readResponse().body.isEmpty)
        #expect(ran.value == 1)
    }

    @Test func http10StreamEndsByClosing() throws {
        let server = try TestServer { _ in
            HTTPResponse(body: .stream { stream in
                stream.write("one ")
                stream.write("two")
                stream.finish()
            })
        }
        let client = try server.client()
        try client.send("GET /s HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.headers["Transfer-Encoding"] == nil)
        #expect(response.text == "one two")
    }
}
