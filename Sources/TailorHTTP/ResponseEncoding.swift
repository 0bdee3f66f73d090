// Serialises a response head (status line, headers, framing) into a reusable byte buffer.
// The hot path for small responses: precomputed status lines, no Foundation, no intermediate strings.
import CHTTPParser

enum BodyFraming: Equatable {
    case length(Int)
    case chunked
    /// HTTP/1.0 clients cannot read chunked bodies: the body ends when the connection closes.
    case untilClose
    /// 1xx, 204, 304: no body and no length.
    case none
}

enum ResponseEncoding {
    /// Appends the head for `response` to `out`. Framing, Connection and x-request-id headers supplied by the
    /// handler are dropped in favour of the server's own.
    static func appendHead(to out: inout [UInt8], status: Int, headers: HTTPHeaders, framing: BodyFraming,
                           keepAlive: Bool, clientIsHTTP10: Bool, requestID: String) {
        out.append(contentsOf: statusLine(status))
        for (name, value) in headers where !isServerOwned(name) {
            append(&out, name)
            out.append(contentsOf: colonSpace)
            appendSanitised(&out, value)
            out.append(contentsOf: crlf)
        }
        switch framing {
        case .length(let count):
            out.append(contentsOf: contentLengthPrefix)
            appendDecimal(&out, count)
            out.append(contentsOf: crlf)
        case .chunked:
            out.append(contentsOf: chunkedHeader)
        case .untilClose, .none:
            break
        }
        if !keepAlive {
            out.append(contentsOf: connectionClose)
        } else if clientIsHTTP10 {
            out.append(contentsOf: connectionKeepAlive)
        }
        out.append(contentsOf: requestIDPrefix)
        append(&out, requestID)
        out.append(contentsOf: crlf)
        out.append(contentsOf: crlf)
    }

    /// "<hex size>\r\n<bytes>\r\n", the framing of one chunk.
    static func appendChunk(to out: inout [UInt8], _ bytes: [UInt8]) {
        appendHex(&out, bytes.count)
        out.append(contentsOf: crlf)
        out.append(contentsOf: bytes)
        out.append(contentsOf: crlf)
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    static func statusLine(_ status: Int) -> [UInt8] {
        if status >= 100 && status < statusLines.count { return statusLines[status] }
        return Array("HTTP/1.1 \(status) \r\n".utf8)
    }

    private static let statusLines: [[UInt8]] = (0..<600).map { code in
        guard code >= 100 else { return [] }
        let reason = String(cString: http_status_str(http_status(UInt32(code))))
        return Array("HTTP/1.1 \(code) \(reason == "<unknown>" ? "" : reason)\r\n".utf8)
    }

    private static let crlf: [UInt8] = [13, 10]
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let colonSpace: [UInt8] = [58, 32]
    private static let contentLengthPrefix = Array("Content-Length: ".utf8)
    private static let chunkedHeader = Array("Transfer-Encoding: chunked\r\n".utf8)
    private static let connectionClose = Array("Connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    private static let requestIDPrefix = Array("x-request-id: ".utf8)

    private static func isServerOwned(_ name: String) -> Bool {
        asciiCaseInsensitiveEquals(name, "content-length") || asciiCaseInsensitiveEquals(name, "transfer-encoding")
            || asciiCaseInsensitiveEquals(name, "connection") || asciiCaseInsensitiveEquals(name, "x-request-id")
    }

    @inline(__always)
    private static func append(_ out: inout [UInt8], _ text: String) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// A CR or LF inside a handler's header value would let it forge headers; they become spaces.
    private static func appendSanitised(_ out: inout [UInt8], _ value: String) {
        var value = value
        value.withUTF8 { bytes in
            if !bytes.contains(where: { $0 == 13 || $0 == 10 }) {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes { out.append(byte == 13 || byte == 10 ? 32 : byte) }
        }
    }

    private static func appendDecimal(_ out: inout [UInt8], _ value: Int) {
        if value < 10 {
            out.append(UInt8(48 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    private static func appendHex(_ out: inout [UInt8], _ value: Int) {
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if value == 0 { shift = 0 }
        while shift >= 0 {
            out.append(hexDigits[(value >> shift) & 0xF])
            shift -= 4
        }
    }
}
