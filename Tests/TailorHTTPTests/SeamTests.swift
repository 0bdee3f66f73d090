// The responder seam: prepare runs once per request and its decision reaches respond with the request, inline or on
// a handler thread; answers decided before the body (by prepare or by the server's limits) pass respond(rejectedWith:).
import Foundation
import Synchronization
import Testing
@testable import TailorHTTP

/// Counts, per request, how often each part of the seam runs, and stamps what prepare decided into its answer.
private final class CountingResponder: HTTPResponder {
    struct Ticket: Sendable { let target: String; let number: Int }
    let prepares = Mutex<[String: Int]>([:])
    let rejections = Mutex<[String: Int]>([:])
    let next = Atomic<Int>(0)

    func prepare(_ head: HTTPRequestHead) -> Preparation {
        prepares.withLock { $0[head.target, default: 0] += 1 }
        let ticket = Ticket(target: head.target, number: next.add(1, ordering: .relaxed).newValue)
        switch head.path {
        case "/reject": return Preparation(.reject(.text(status: 401, "no")), prepared: ticket)
        case "/small": return Preparation(.buffer(limit: 10), prepared: ticket)
        case "/inline": return Preparation(.buffer(limit: 1000), inline: true, prepared: ticket)
        default: return Preparation(.buffer(limit: 1000), prepared: ticket)
        }
    }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        guard let ticket = request.prepared as? Ticket, ticket.target == request.head.target else {
            return .text(status: 500, "prepare's decision did not arrive")
        }
        return .text("ticket \(ticket.number) on \(osThreadName())")
    }

    func respond(to request: HTTPRequest, rejectedWith response: HTTPResponse) -> HTTPResponse {
        rejections.withLock { $0[request.head.target, default: 0] += 1 }
        var response = response
        response.headers.set("X-Prepared", request.prepared is Ticket ? "yes" : "no")
        return response
    }
}

/// The OS name of the calling thread (what setCurrentThreadName set; Foundation's Thread.name does not see it).
private func osThreadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite struct SeamTests {
    @Test func prepareRunsOnceAndItsDecisionReachesRespond() throws {
        let responder = CountingResponder()
        let server = try TestServer(responder: responder)
        let client = try server.client()
        for target in ["/a", "/inline", "/b?x=1"] {
            try client.send("POST \(target) HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            let response = try client.readResponse()
            #expect(response.status == 200, "\(target): \(response.text)")
            #expect(response.text.hasPrefix("ticket "), "\(target)")
        }
        #expect(responder.prepares.withLock { $0 } == ["/a": 1, "/inline": 1, "/b?x=1": 1])
        #expect(responder.rejections.withLock { $0 }.isEmpty)
    }

    @Test func inlineRunsOnTheLoopThread() throws {
        let responder = CountingResponder()
        let server = try TestServer(responder: responder)
        let client = try server.client()
        try client.send("GET /inline HTTP/1.1\r\nHost: t\r\n\r\nGET /pooled HTTP/1.1\r\nHost: t\r\n\r\n")
        let inline = try client.readResponse(), pooled = try client.readResponse()
        #expect(inline.text.hasPrefix("ticket ") && pooled.text.hasPrefix("ticket "))
        #expect(inline.text.hasSuffix("on test-http-loop"), "\(inline.text)")
        #expect(!pooled.text.hasSuffix("on test-http-loop"), "\(pooled.text)")
    }

    @Test func earlyAnswersPassTheResponderOnceWithTheirDecision() throws {
        let responder = CountingResponder()
        let server = try TestServer(responder: responder)
        // Rejected by prepare, without a body: the connection stays usable.
        let client = try server.client()
        try client.send("GET /reject HTTP/1.1\r\nHost: t\r\n\r\n")
        let rejected = try client.readResponse()
        #expect(rejected.status == 401 && rejected.headers["X-Prepared"] == "yes")
        // Over prepare's limit: 413 from the server, still seen by the responder with prepare's decision.
        let big = try server.client()
        try big.send("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n")
        let tooLarge = try big.readResponse()
        #expect(tooLarge.status == 413 && tooLarge.headers["X-Prepared"] == "yes")
        // A bad path is refused before prepare: the responder still sees it, with no decision.
        let bad = try server.client()
        try bad.send("GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n")
        let badPath = try bad.readResponse()
        #expect(badPath.status == 400 && badPath.headers["X-Prepared"] == "no")
        #expect(responder.rejections.withLock { $0 } == ["/reject": 1, "/small": 1, "/a%00b": 1])
        #expect(responder.prepares.withLock { $0 } == ["/reject": 1, "/small": 1])
    }
}
