// EventFeed over a real socket: pushed items are written in order, a quiet stream gets keep-alive
// comments and its idle check, and a client that leaves ends the writer's loop promptly.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct EventFeedTests {
    @Test func itemsInOrderThenKeepAlivesThenTheEndIdleDecides() throws {
        let server = try TestServer { _ in
            .eventStream { stream in
                let feed = EventFeed<Int>(keepAlive: 0.2)
                for i in 0..<3 { feed.push(i) }
                var idles = 0
                let finished = feed.pump(into: stream, idle: {
                    idles += 1
                    return idles == 2 ? .finished : .more
                }) { i in
                    stream.writeEvent(data: "\(i)") ? .more : .gone
                }
                stream.writeEvent(data: finished ? "finished" : "gone")
                stream.finish()
            }
        }
        let client = try server.client()
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n: ping\n\n: ping\n\ndata: finished\n\n")
    }

    @Test func aCheckAfterAnItemCallsIdleSoonWithoutAKeepAlive() throws {
        let server = try TestServer { _ in
            .eventStream { stream in
                let feed = EventFeed<String>(keepAlive: 30)
                feed.push("last")
                let started = Date()
                feed.pump(into: stream, idle: { .finished }) { item in
                    stream.writeEvent(data: item) ? .check(after: 0.1) : .gone
                }
                stream.writeEvent(data: Date().timeIntervalSince(started) < 5 ? "prompt" : "late")
                stream.finish()
            }
        }
        let client = try server.client()
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "data: last\n\ndata: prompt\n\n")
    }

    @Test func aClientThatLeavesEndsThePump() throws {
        let ended = DispatchSemaphore(value: 0)
        let result = Locked<Bool?>(nil)
        let server = try TestServer { _ in
            .eventStream { stream in
                let feed = EventFeed<Int>(keepAlive: 30)
                feed.push(1)
                let outcome = feed.pump(into: stream) { i in stream.writeEvent(data: "\(i)") ? .more : .gone }
                result.set(outcome)
                ended.signal()
            }
        }
        let client = try server.client()
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        #expect(try client.readChunk().map { String(decoding: $0, as: UTF8.self) } == "data: 1\n\n")
        client.abort()
        #expect(ended.wait(timeout: .now() + 5) == .success, "the writer still waits for a client that left")
        #expect(result.get() == false)
    }
}
