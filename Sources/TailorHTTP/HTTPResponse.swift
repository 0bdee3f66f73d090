// What a handler returns: status, headers and one of three body kinds, plus the few constructors
// every caller needs (JSON, text, OpenAI-style errors, SSE). Framing headers are the server's job, not these.
import Foundation

public enum ResponseBody: Sendable {
    case bytes([UInt8])
    /// Streamed from disk in chunks, never whole in memory; removed afterwards when asked to.
    case file(path: String, deleteAfterSending: Bool)
    /// Sent with chunked encoding. The closure runs on a handler thread and may hand the stream to any thread.
    case stream(@Sendable (ResponseStream) -> Void)
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Content-Length, Transfer-Encoding, Connection and x-request-id are set by the server and replaced if present.
    public var headers: HTTPHeaders
    public var body: ResponseBody

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(status: Int = 200, bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: .bytes(bytes))
    }

    /// Shared so that the most common response allocates no header storage of its own (copy-on-write).
    private static let jsonHeaders: HTTPHeaders = ["Content-Type": "application/json"]

    /// Encodes `value`; a value that cannot be encoded is a programming error and answers 500.
    public static func json<Value: Encodable>(status: Int = 200, _ value: Value,
                                              encoder: JSONEncoder = JSONEncoder()) -> HTTPResponse {
        do {
            return json(status: status, bytes: Array(try encoder.encode(value)))
        } catch {
            return .error(status: 500, message: "The server could not encode its response (\(error)); report this bug.",
                          type: "server_error", code: "encoding_failed")
        }
    }

    public static func text(status: Int = 200, _ text: String,
                            contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(Array(text.utf8)))
    }

    /// OpenAI's error shape; all four keys are always present, null where there is no value.
    public static func error(status: Int, message: String, type: String = "invalid_request_error",
                             code: String? = nil, param: String? = nil) -> HTTPResponse {
        var body = #"{"error":{"message":"#
        body += jsonQuoted(message)
        body += #","type":"#
        body += jsonQuoted(type)
        body += #","param":"#
        body += param.map(jsonQuoted) ?? "null"
        body += #","code":"#
        body += code.map(jsonQuoted) ?? "null"
        body += "}}"
        return json(status: status, bytes: Array(body.utf8))
    }

    /// A Server-Sent Events response; write events with `ResponseStream.writeEvent(data:)`.
    public static func eventStream(_ body: @escaping @Sendable (ResponseStream) -> Void) -> HTTPResponse {
        HTTPResponse(status: 200,
                     headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                               "X-Accel-Buffering": "no"],
                     body: .stream(body))
    }
}

/// `text` as a JSON string literal, quotes included.
public func jsonQuoted(_ text: String) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
