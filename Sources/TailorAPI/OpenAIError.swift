// Every error the API returns, in one place: a kind mapped to HTTP status and OpenAI's `type`, and the body
// {"error":{"message","type","param","code"}}. Handlers throw these; anything else becomes a logged 500.
import TailorHTTP

public struct APIError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case badRequest, unauthorized, forbidden, notFound, methodNotAllowed, tooLarge, unavailable, server
        /// The client left before the answer (nginx's 499): nobody reads it, but the request log says what happened.
        case clientClosedRequest
        /// The disk is full or read-only: the server cannot keep what it was asked to.
        case insufficientStorage
        var status: Int {
            switch self {
            case .badRequest: 400; case .unauthorized: 401; case .forbidden: 403; case .notFound: 404
            case .methodNotAllowed: 405; case .tooLarge: 413; case .unavailable: 503; case .server: 500
            case .clientClosedRequest: 499; case .insufficientStorage: 507
            }
        }
        var type: String {
            switch self {
            case .badRequest, .notFound, .methodNotAllowed, .tooLarge, .unauthorized, .clientClosedRequest: "invalid_request_error"
            case .forbidden: "permission_error"
            case .unavailable, .server, .insufficientStorage: "server_error"
            }
        }
    }

    public var kind: Kind
    public var message: String
    public var param: String?
    public var code: String?

    public init(_ kind: Kind, _ message: String, param: String? = nil, code: String? = nil) {
        self.kind = kind; self.message = message; self.param = param; self.code = code
    }

    public var description: String { "\(kind.status) \(message)" }

    public var response: HTTPResponse {
        .error(status: kind.status, message: message, type: kind.type, code: code, param: param)
    }

    static func invalid(_ param: String, _ message: String, code: String? = "invalid_value") -> APIError {
        APIError(.badRequest, message, param: param, code: code)
    }
    static func missing(_ param: String) -> APIError {
        APIError(.badRequest, "Missing required parameter: '\(param)'.", param: param, code: "missing_required_parameter")
    }
}

extension ResponseStream {
    /// Ends a Server-Sent Events stream with OpenAI's error object as its last event, as OpenAI does mid-stream.
    func writeError(_ error: APIError) {
        if case .bytes(let body) = error.response.body { _ = writeEvent(data: String(decoding: body, as: UTF8.self)) }
        finish()
    }
}
