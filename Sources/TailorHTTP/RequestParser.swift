// libhttp-parser (2.9.x) wrapped once: feeds bytes, assembles the request head, reports body bytes,
// pauses after each message so the connection answers pipelined requests one at a time. No policy beyond the head limit.
import CHTTPParser

/// What the parser knows once a header block is complete.
struct ParsedHead {
    var method: String
    var target: String
    var headers: HTTPHeaders
    var version: HTTPVersion
    var keepAlive: Bool
    /// nil when there is no Content-Length (chunked, or no body at all).
    var contentLength: Int?
    var chunked: Bool

    /// Whether body bytes are still to come after the head.
    var expectsBody: Bool { chunked || (contentLength ?? 0) > 0 }
}

enum HeadDecision {
    case readBody
    /// Stop parsing; the connection answers and closes.
    case abort
}

protocol RequestParserDelegate: AnyObject {
    func parserDidCompleteHead(_ head: ParsedHead) -> HeadDecision
    /// Return false to stop parsing (a limit was crossed); the connection answers and closes.
    func parserDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    func parserDidCompleteMessage()
}

enum ParseOutcome: Equatable {
    /// Every byte was consumed and the message is not complete yet.
    case needMore
    /// A message ended after `consumed` bytes; the rest belongs to the next request.
    case messageComplete(consumed: Int)
    /// The delegate stopped the parse.
    case aborted
    case headerTooLarge
    case malformed(String)
}

final class RequestParser {
    private let parser: UnsafeMutablePointer<http_parser>
    private let maxHeaderBytes: Int
    weak var delegate: RequestParserDelegate?

    private var target: [UInt8] = []
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var lastWasValue = false
    private var headers = HTTPHeaders()
    private var headBytes = 0
    private var headComplete = false
    private var messageComplete = false
    private var stopped = false
    private var headTooLarge = false
    /// Why the head is refused although http_parser took it (it is lenient where RFC 9112 is not).
    private var violation: String?
    private var headScan = HeadScan()

    init(maxHeaderBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        parser = .allocate(capacity: 1)
        reset()
    }

    deinit { parser.deallocate() }

    /// Prepares for the next request on the same connection.
    func reset() {
        http_parser_init(parser, HTTP_REQUEST)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        target.removeAll(keepingCapacity: true)
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        lastWasValue = false
        headers = HTTPHeaders()
        headBytes = 0
        headComplete = false
        messageComplete = false
        stopped = false
        headTooLarge = false
        violation = nil
        headScan = HeadScan()
    }

    /// Whether any byte of the current request has been seen.
    var hasStarted: Bool { headBytes > 0 || headComplete }
    var isHeadComplete: Bool { headComplete }

    func feed(_ bytes: UnsafeRawBufferPointer) -> ParseOutcome {
        guard !bytes.isEmpty else { return .needMore }
        if let reason = headScan.scan(bytes) { return .malformed(reason) }
        let consumed = http_parser_execute(parser, requestParserSettings,
                                           bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        if messageComplete {
            http_parser_pause(parser, 0)
            return .messageComplete(consumed: consumed)
        }
        if headTooLarge { return .headerTooLarge }
        if let violation { return .malformed(violation) }
        if stopped { return .aborted }
        let errno = http_errno(parser.pointee.http_errno)
        if errno == HPE_HEADER_OVERFLOW { return .headerTooLarge }
        if errno != HPE_OK || consumed != bytes.count {
            return .malformed(String(cString: http_errno_description(errno)))
        }
        if !headComplete {
            headBytes += bytes.count
            if headBytes > maxHeaderBytes { return .headerTooLarge }
        }
        return .needMore
    }

    /// The peer closed its side; a request still in flight was cut short.
    var endedMidRequest: Bool { hasStarted && !messageComplete }

    fileprivate func appendTarget(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        append(&target, at, length)
    }

    fileprivate func appendField(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        if lastWasValue && !commitField() { return 1 }
        return append(&field, at, length)
    }

    fileprivate func appendValue(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        lastWasValue = true
        return append(&value, at, length)
    }

    private func append(_ buffer: inout [UInt8], _ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        // Each header line costs its bytes plus ": " and CRLF; the request line is counted with its target.
        headBytes += length + (buffer.isEmpty ? 4 : 0)
        if headBytes > maxHeaderBytes {
            headTooLarge = true
            return 1
        }
        guard let at, length > 0 else { return 0 }
        at.withMemoryRebound(to: UInt8.self, capacity: length) {
            buffer.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
        }
        return 0
    }

    /// Adds the finished field; false (with `violation` set) for a name RFC 9112 forbids, which http_parser passes.
    private func commitField() -> Bool {
        // "Transfer-Encoding : chunked" must not be read as chunked (§5.1): a proxy may frame it differently.
        if field.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            violation = "whitespace between a header name and its colon"
            return false
        }
        headers.add(String(decoding: field, as: UTF8.self),
                    String(decoding: value, as: UTF8.self).trimmingTrailingWhitespace())
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        lastWasValue = false
        return true
    }

    fileprivate func headersComplete() -> Int32 {
        if (lastWasValue || !field.isEmpty) && !commitField() { return -1 }
        headComplete = true
        let p = parser.pointee
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
        let hosts = headers.values("Host").count
        if hosts > 1 || (hosts == 0 && p.http_major == 1 && p.http_minor >= 1) {
            violation = hosts == 0 ? "no Host header" : "more than one Host header"
            return -1
        }
        let chunked = p.flags & UInt32(F_CHUNKED.rawValue) != 0
        let hasLength = p.flags & UInt32(F_CONTENTLENGTH.rawValue) != 0
        let head = ParsedHead(
            method: methodName(p.method),
            target: String(decoding: target, as: UTF8.self),
            headers: headers,
            version: HTTPVersion(major: Int(p.http_major), minor: Int(p.http_minor)),
            keepAlive: http_should_keep_alive(parser) != 0,
            contentLength: hasLength && !chunked ? Int(clamping: p.content_length) : nil,
            chunked: chunked)
        guard let delegate, delegate.parserDidCompleteHead(head) == .readBody else {
            stopped = true
            return -1
        }
        return 0
    }

    fileprivate func body(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard let at, length > 0 else { return 0 }
        guard let delegate, delegate.parserDidReceiveBody(UnsafeRawBufferPointer(start: at, count: length)) else {
            stopped = true
            return -1
        }
        return 0
    }

    fileprivate func completeMessage() -> Int32 {
        messageComplete = true
        // Pausing makes http_parser_execute return right after this message, leaving pipelined bytes unread.
        http_parser_pause(parser, 1)
        delegate?.parserDidCompleteMessage()
        return 0
    }
}

/// The byte-level rules of a header block that http_parser does not enforce: no obsolete line folding
/// (RFC 9112 §5.2: a field line starting with a space or tab). Runs on each fed buffer until the blank line.
struct HeadScan {
    private var done = false
    private var sawRequestLine = false
    private var atLineStart = false
    private var lineHasContent = false

    /// The violation in `bytes`, or nil; bytes after the head's blank line are not looked at.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard !done else { return nil }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                if !lineHasContent && sawRequestLine {
                    done = true
                    return nil
                }
                sawRequestLine = sawRequestLine || lineHasContent
                atLineStart = sawRequestLine
                lineHasContent = false
            case UInt8(ascii: "\r"):
                break
            default:
                if atLineStart && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) {
                    return "obsolete line folding (a header line starting with whitespace)"
                }
                atLineStart = false
                lineHasContent = true
            }
        }
        return nil
    }
}

private let methodNames: [String] = (0..<64).map { String(cString: http_method_str(http_method(UInt32($0)))) }

private func methodName(_ method: UInt32) -> String {
    method < methodNames.count ? methodNames[Int(method)] : "<unknown>"
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        guard let last = utf8.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") else { return self }
        return String(trimmingOptionalWhitespace(Substring(self)))
    }
}

@inline(__always)
private func owner(_ parser: UnsafeMutablePointer<http_parser>?) -> RequestParser {
    Unmanaged<RequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
}

// Written once here and only read afterwards, from any number of parsers on any threads.
nonisolated(unsafe) private let requestParserSettings: UnsafeMutablePointer<http_parser_settings> = {
    let settings = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
    http_parser_settings_init(settings)
    settings.pointee.on_url = { owner($0).appendTarget($1, $2) }
    settings.pointee.on_header_field = { owner($0).appendField($1, $2) }
    settings.pointee.on_header_value = { owner($0).appendValue($1, $2) }
    settings.pointee.on_headers_complete = { owner($0).headersComplete() }
    settings.pointee.on_body = { owner($0).body($1, $2) }
    settings.pointee.on_message_complete = { owner($0).completeMessage() }
    return settings
}()
