// The middleware chain's order and short-circuiting, context values, and the logging middleware's line.
import Logging
import Synchronization
import Testing
@testable import TailorHTTP

private enum APIKeyName: RequestContextKey { typealias Value = String }

/// Rejects requests without "Authorization: Bearer ok"; records the key for later handlers.
private struct Auth: Middleware {
    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        guard request.head.headers["Authorization"] == "Bearer ok" else {
            return .error(status: 401, message: "missing key", code: "invalid_api_key")
        }
        context[APIKeyName.self] = "ok"
        return next(request, &context)
    }
}

/// Appends its name to a header on the way out, to show the order responses pass through.
private struct Tag: Middleware {
    let name: String
    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        var response = next(request, &context)
        response.headers.add("X-Trace", name)
        return response
    }
}

/// Collects log records in memory.
private final class Capture: @unchecked Sendable {
    let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
}

private struct CaptureHandler: LogHandler {
    let capture: Capture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        capture.records.withLock { $0.append((level, "\(message)", self.metadata.merging(metadata ?? [:]) { $1 })) }
    }
}

@Suite struct MiddlewareTests {
    private func request(_ headers: HTTPHeaders = [:]) -> HTTPRequest {
        HTTPRequest(head: HTTPRequestHead(method: "GET", target: "/v1/models", headers: headers, requestID: "req_test"))
    }

    @Test func chainRunsInOrderAndPassesContext() {
        let chain = MiddlewareChain([Tag(name: "outer"), Auth(), Tag(name: "inner")]) { _, context in
            .text(context[APIKeyName.self] ?? "none")
        }
        var context = RequestContext(head: request().head, logger: Logger(label: "t"))
        let response = chain.respond(to: request(["Authorization": "Bearer ok"]), context: &context)
        if case .bytes(let bytes) = response.body { #expect(String(decoding: bytes, as: UTF8.self) == "ok") }
        #expect(response.headers.values("X-Trace") == ["inner", "outer"])
    }

    @Test func middlewareCanShortCircuit() {
        let reached = Counter()
        let chain = MiddlewareChain([Tag(name: "outer"), Auth()]) { _, _ in
            reached.increment()
            return .text("secret")
        }
        var context = RequestContext(head: request().head, logger: Logger(label: "t"))
        let response = chain.respond(to: request(), context: &context)
        #expect(response.status == 401)
        #expect(response.headers.values("X-Trace") == ["outer"])
        #expect(reached.value == 0)
    }

    @Test func loggingMiddlewareLogsOneLineWithRequestFields() throws {
        let capture = Capture()
        let logger = Logger(label: "t") { _ in CaptureHandler(capture: capture) }
        let chain = MiddlewareChain([LoggingMiddleware()]) { _, _ in .text("hi", contentType: "text/plain") }
        var context = RequestContext(head: request().head, logger: logger)
        _ = chain.respond(to: request(), context: &context)
        let records = capture.records.withLock { $0 }
        #expect(records.count == 1)
        let (level, message, metadata) = try #require(records.first)
        #expect(level == .info && message == "request")
        #expect(metadata["request_id"] == "req_test")
        #expect(metadata["method"] == "GET")
        #expect(metadata["path"] == "/v1/models")
        #expect(metadata["status"] == "200")
        #expect(Double("\(metadata["duration_ms"] ?? "x")") != nil)
    }
}
