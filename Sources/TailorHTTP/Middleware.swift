// Middleware: synchronous wrappers around a handler (request id, logging, auth, error mapping), composed
// into one chain. Runs wherever respond(to:) runs; deliberately not async and not throwing.
import Logging

/// A typed key for values middleware leaves for later handlers (the authenticated key, a tenant).
public protocol RequestContextKey {
    associatedtype Value: Sendable
}

/// Per-request state that travels down the chain alongside the request.
public struct RequestContext: Sendable {
    /// Carries the request id as metadata, so every log line of this request can be found together.
    public var logger: Logger
    /// Route parameters, filled by whoever matched the route.
    public var parameters: RouteParameters
    public let startedAt: ContinuousClock.Instant
    private var values: [ObjectIdentifier: any Sendable] = [:]

    public init(head: HTTPRequestHead, logger: Logger, parameters: RouteParameters = RouteParameters()) {
        var logger = logger
        logger[metadataKey: "request_id"] = "\(head.requestID)"
        self.logger = logger
        self.parameters = parameters
        startedAt = .now
    }

    public subscript<Key: RequestContextKey>(key: Key.Type) -> Key.Value? {
        get { values[ObjectIdentifier(key)] as? Key.Value }
        set { values[ObjectIdentifier(key)] = newValue }
    }
}

public typealias RequestHandler = @Sendable (HTTPRequest, inout RequestContext) -> HTTPResponse

public protocol Middleware: Sendable {
    /// Returns a response, usually by calling `next` (possibly with a changed request or context) and
    /// adjusting what it returns; returning without calling `next` short-circuits the chain.
    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse
}

/// Middleware in order (the first sees the request first and the response last), then the endpoint.
public struct MiddlewareChain: Sendable {
    private let middleware: [any Middleware]
    private let endpoint: RequestHandler

    public init(_ middleware: [any Middleware], endpoint: @escaping RequestHandler) {
        self.middleware = middleware
        self.endpoint = endpoint
    }

    public func respond(to request: HTTPRequest, context: inout RequestContext) -> HTTPResponse {
        run(from: 0, request, &context)
    }

    private func run(from index: Int, _ request: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        guard index < middleware.count else { return endpoint(request, &context) }
        return middleware[index].handle(request, &context) { request, context in
            run(from: index + 1, request, &context)
        }
    }
}

/// Logs one line per request: id, method, path, status, duration. For a streamed response the duration
/// covers producing the response head, not the stream that follows.
public struct LoggingMiddleware: Middleware {
    public var level: Logger.Level

    public init(level: Logger.Level = .info) {
        self.level = level
    }

    public func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                       next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        let response = next(request, &context)
        let elapsed = ContinuousClock.now - context.startedAt
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        context.logger.log(level: level, "request", metadata: [
            "method": "\(request.head.method)",
            "path": "\(request.head.path)",
            "status": "\(response.status)",
            "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
            "remote": "\(request.head.remoteAddress)",
        ])
        return response
    }
}
