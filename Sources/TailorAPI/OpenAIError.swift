// Every error the API returns, in one place: a kind mapped to HTTP status and OpenAI's `type`, and the body
// {"error":{"message","type","param","code"}}. Handlers throw these; anything else becomes a logged 500.
import Logging
import TailorHTTP
import TailorStore

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

    /// OpenAI's answer, word for word, to a path (under any method) that names nothing.
    static func unknownURL(_ head: HTTPRequestHead) -> APIError {
        APIError(.notFound, "Unknown request URL: \(head.method) \(head.path). Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.", code: "unknown_url")
    }

    /// A real route's path under a method it does not take, with the Allow header.
    static func methodNotAllowed(_ head: HTTPRequestHead, allowed: [String]) -> HTTPResponse {
        var r = APIError(.methodNotAllowed, "Method \(head.method) is not allowed for \(head.path); use \(allowed.joined(separator: ", ")).", code: "method_not_allowed").response
        r.headers.set("Allow", allowed.joined(separator: ", "))
        return r
    }

    /// Whatever a handler threw, as the answer: its own APIError, a full or read-only disk as 507, a store error
    /// naming a parameter as 400, anything else a logged 500 carrying the request id.
    static func response(for error: any Error, requestID: String, logger: Logger) -> HTTPResponse {
        if let e = error as? APIError { return e.response }
        if StorageFailure.isFull(error) {
            logger.error("storage full or read-only", metadata: ["error": "\(error)"])
            return APIError(.insufficientStorage, StorageFailure.message(for: error)!, code: "insufficient_storage").response
        }
        if let e = error as? StoreError, let p = e.parameter {
            if case .fileInUse = e { return APIError.invalid(p, e.description, code: "file_in_use").response }
            if case .modelInUse = e { return APIError.invalid(p, e.description, code: "model_in_use").response }
            return APIError.invalid(p, e.description).response
        }
        logger.error(error is StoreError ? "store error" : "unhandled error", metadata: ["error": "\(error)"])
        return APIError(.server, "The server had an error while processing your request (request id \(requestID)).").response
    }
}

extension ResponseStream {
    /// Ends a Server-Sent Events stream with OpenAI's error object as its last event, as OpenAI does mid-stream.
    func writeError(_ error: APIError) {
        if case .bytes(let body) = error.response.body { _ = writeEvent(data: String(decoding: body, as: UTF8.self)) }
        finish()
    }
}
