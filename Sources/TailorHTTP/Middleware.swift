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
    /// Before the body is read, on the loop thread (cheap, non-blocking): a response to answer at once without the
    /// body (a missing key before a 500 MB upload), or nil to go on. What it learns it leaves in `context`, which
    /// travels with the request to `handle`. By default nothing.
    func prepare(_ head: HTTPRequestHead, _ context: inout RequestContext) -> HTTPResponse?
    /// Returns a response, usually by calling `next` (possibly with a changed request or context) and
    /// adjusting what it returns; returning without calling `next` short-circuits the chain.
    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse
}

extension Middleware {
    public func prepare(_ head: HTTPRequestHead, _ context: inout RequestContext) -> HTTPResponse? { nil }
}

/// Middleware in order (the first sees the request first and the response last), then the endpoint.
public struct MiddlewareChain: Sendable {
    private let middleware: [any Middleware]
    private let endpoint: RequestHandler

    public init(_ middleware: [any Middleware], endpoint: @escaping RequestHandler) {
        self.middleware = middleware
        self.endpoint = endpoint
    }

    /// Each middleware's prepare in order, until one answers.
    public func prepare(_ head: HTTPRequestHead, _ context: inout RequestContext) -> HTTPResponse? {
        for m in middleware {
            if let response = m.prepare(head, &context) { return response }
        }
        return nil
    }

    public func respond(to request: HTTPRequest, context: inout RequestContext) -> HTTPResponse {
        run(from: 0, request, &context, endpoint)
    }

    /// A request answered before its body (by prepare or by the server): the middleware see it like any other
    /// answer, and `response` stands in for the endpoint.
    public func respond(to request: HTTPRequest, context: inout RequestContext, answer response: HTTPResponse) -> HTTPResponse {
        run(from: 0, request, &context) { _, _ in response }
    }

    private func run(from index: Int, _ request: HTTPRequest, _ context: inout RequestContext,
                     _ endpoint: RequestHandler) -> HTTPResponse {
        guard index < middleware.count else { return endpoint(request, &context) }
        return middleware[index].handle(request, &context) { request, context in
            run(from: index + 1, request, &context, endpoint)
        }
    }
}

/// Logs one line per request, answered or rejected before its body: id, method, path, status, duration. The duration
/// runs from the complete request head (the context is made then) to the response head: a streamed response's
/// stream is not in it.
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
