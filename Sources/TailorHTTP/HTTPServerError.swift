// The errors HTTPServer.start() throws: a failing libuv call with its own explanation.
// Per-request failures never surface here; they become HTTP responses.
import CUV

public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    /// The libuv function that failed, e.g. "uv_tcp_bind".
    public let call: String
    /// The negative libuv error code (UV_EADDRINUSE, ...); 0 for a configuration error.
    public let code: Int32
    /// What the server was doing and what to do about it.
    public let context: String

    public init(call: String, code: Int32, context: String) {
        self.call = call
        self.code = code
        self.context = context
    }

    /// uv_strerror's text for `code`.
    public var reason: String {
        code == 0 ? "invalid configuration" : String(cString: uv_strerror(code))
    }

    public var description: String {
        "\(call) failed: \(reason) (\(code)); \(context)"
    }
}

/// Throws an HTTPServerError when a libuv call returned a negative status.
func uvCheck(_ status: Int32, _ call: String, _ context: @autoclosure () -> String) throws(HTTPServerError) {
    if status < 0 { throw HTTPServerError(call: call, code: status, context: context()) }
}
