// The one protocol the API layer implements to plug into HTTPServer.
// Routing, middleware and error mapping are built on top of it, not inside the server.

public protocol HTTPResponder: Sendable {
    /// On the loop thread, once the header block is complete: how to receive the body, or answer at once
    /// (401 before reading a 500 MB upload, 404/405 for unknown routes). Must be cheap and must not block.
    func prepare(_ head: HTTPRequestHead) -> BodyDisposition
    /// Whether respond(to:) may run on the loop thread (only trivial, non-blocking handlers like /healthz).
    func runsInline(_ head: HTTPRequestHead) -> Bool
    /// The response; runs on a handler thread unless runsInline. Must not throw: map errors to responses.
    func respond(to request: HTTPRequest) -> HTTPResponse
}
