// The one protocol the API layer implements to plug into HTTPServer.
// Routing, middleware and error mapping are built on top of it, not inside the server.

public protocol HTTPResponder: Sendable {
    /// On the loop thread, once the header block is complete: how to receive the body, or answer at once
    /// (401 before reading a 500 MB upload, 404/405 for unknown routes). Must be cheap and must not block.
    /// Whatever it decided travels with the request (`HTTPRequest.prepared`), so nothing is decided twice.
    func prepare(_ head: HTTPRequestHead) -> Preparation
    /// The response; runs on a handler thread unless the preparation said inline. Must not throw: map errors to responses.
    func respond(to request: HTTPRequest) -> HTTPResponse
    /// A request answered without respond(to:): rejected by prepare, or by the server (413, 507, 408 mid-body, a bad
    /// path). Runs on the loop thread, so it must be cheap; it returns the response to send, usually `response` itself,
    /// and is where such requests are logged and counted like answered ones.
    func respond(to request: HTTPRequest, rejectedWith response: HTTPResponse) -> HTTPResponse
}

extension HTTPResponder {
    public func respond(to request: HTTPRequest, rejectedWith response: HTTPResponse) -> HTTPResponse { response }
}

/// prepare's decision: how to take the body, whether respond(to:) may run on the loop thread, and an opaque value
/// the server keeps and attaches to the request (the API's matched route and authenticated caller).
public struct Preparation: Sendable {
    public var disposition: BodyDisposition
    /// Only for trivial, non-blocking handlers like /healthz.
    public var inline: Bool
    public var prepared: (any Sendable)?

    public init(_ disposition: BodyDisposition, inline: Bool = false, prepared: (any Sendable)? = nil) {
        self.disposition = disposition
        self.inline = inline
        self.prepared = prepared
    }
}
