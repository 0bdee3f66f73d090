// The incremental multipart/form-data tokenizer (RFC 7578 / RFC 2046): fed chunks of any size, it reports
// part heads and part bytes while holding back only what could still be a delimiter. It stores nothing itself.
import Glibc

public struct MultipartError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

enum MultipartEvent {
    case partBegin(HTTPHeaders)
    case partData(UnsafeRawBufferPointer)
    case partEnd
}

final class MultipartParser {
    private enum State { case preamble, headers, body, epilogue }

    /// "\n--boundary": a delimiter always starts a line. The CR before the LF, when present, belongs to the
    /// delimiter too, which is how both CRLF and bare-LF bodies are read.
    private let delimiter: [UInt8]
    private let maxHeaderBytes: Int
    private var state = State.preamble
    private var buffer: [UInt8]
    private var start = 0
    /// The largest the internal buffer has been, for tests that prove memory stays bounded.
    private(set) var peakBufferBytes = 0

    init(boundary: String, maxHeaderBytes: Int) {
        delimiter = Array("\n--\(boundary)".utf8)
        self.maxHeaderBytes = maxHeaderBytes
        // The body may open with the delimiter and no line break before it; a virtual one makes that case
        // the same as every other.
        buffer = [10]
    }

    var isComplete: Bool { state == .epilogue }

    func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (MultipartEvent) throws -> Void) throws {
        if start > 0 {
            buffer.removeSubrange(..<start)
            start = 0
        }
        if state == .epilogue { return }
        buffer.append(contentsOf: chunk)
        peakBufferBytes = max(peakBufferBytes, buffer.count)
        while try step(emit) {}
    }

    /// Call after the last chunk: a body without its closing delimiter is an error.
    func finish() throws {
        guard state == .epilogue else {
            throw MultipartError(description: "The multipart body ended before its closing boundary; send the complete form")
        }
    }

    /// One unit of progress; false when more input is needed.
    private func step(_ emit: (MultipartEvent) throws -> Void) throws -> Bool {
        switch state {
        case .epilogue:
            start = buffer.count
            return false
        case .headers:
            return try readHeaders(emit)
        case .preamble, .body:
            return try scanForDelimiter(emit)
        }
    }

    private func scanForDelimiter(_ emit: (MultipartEvent) throws -> Void) throws -> Bool {
        var searchFrom = start
        while true {
            guard let candidate = find(from: searchFrom) else {
                // Keep what could be the start of a delimiter (and the CR before it); the rest is content.
                let safeEnd = max(start, buffer.count - delimiter.count)
                try emitContent(upTo: safeEnd, emit)
                start = safeEnd
                return false
            }
            switch delimiterKind(at: candidate + delimiter.count) {
            case .needMore:
                let contentEnd = candidate > start && buffer[candidate - 1] == 13 ? candidate - 1 : candidate
                try emitContent(upTo: contentEnd, emit)
                start = contentEnd
                return false
            case .notADelimiter:
                searchFrom = candidate + 1
            case .next(let after):
                try endContent(before: candidate, emit)
                state = .headers
                start = after
                return true
            case .close(let after):
                try endContent(before: candidate, emit)
                state = .epilogue
                start = after
                return true
            }
        }
    }

    /// Emits the content before a delimiter at `candidate` and ends the part, if one is open.
    private func endContent(before candidate: Int, _ emit: (MultipartEvent) throws -> Void) throws {
        let contentEnd = candidate > start && buffer[candidate - 1] == 13 ? candidate - 1 : candidate
        try emitContent(upTo: contentEnd, emit)
        if state == .body { try emit(.partEnd) }
    }

    private func emitContent(upTo end: Int, _ emit: (MultipartEvent) throws -> Void) throws {
        guard state == .body, end > start else { return }
        try buffer.withUnsafeBytes { try emit(.partData(UnsafeRawBufferPointer(rebasing: $0[start..<end]))) }
    }

    private enum DelimiterKind {
        case needMore
        case notADelimiter
        /// A part follows; its headers start at the index.
        case next(Int)
        /// "--": the closing delimiter; the epilogue starts at the index.
        case close(Int)
    }

    /// What follows "\n--boundary" at `index`: "--" closes, optional whitespace and a line break continue,
    /// anything else means these bytes were content that merely looked like a delimiter.
    private func delimiterKind(at index: Int) -> DelimiterKind {
        guard index < buffer.count else { return .needMore }
        if buffer[index] == UInt8(ascii: "-") {
            guard index + 1 < buffer.count else { return .needMore }
            return buffer[index + 1] == UInt8(ascii: "-") ? .close(index + 2) : .notADelimiter
        }
        var cursor = index
        while cursor < buffer.count, buffer[cursor] == 32 || buffer[cursor] == 9 { cursor += 1 }
        guard cursor < buffer.count else { return cursor - index > 256 ? .notADelimiter : .needMore }
        if buffer[cursor] == 10 { return .next(cursor + 1) }
        if buffer[cursor] == 13 {
            guard cursor + 1 < buffer.count else { return .needMore }
            return buffer[cursor + 1] == 10 ? .next(cursor + 2) : .notADelimiter
        }
        return .notADelimiter
    }

    /// The index of the next full delimiter match at or after `from`, or nil.
    private func find(from: Int) -> Int? {
        let count = buffer.count
        let length = delimiter.count
        guard count - from >= length else { return nil }
        return buffer.withUnsafeBytes { bytes -> Int? in
            delimiter.withUnsafeBytes { pattern -> Int? in
                let base = bytes.baseAddress!
                var index = from
                while index <= count - length {
                    guard let found = memchr(base + index, 10, count - length + 1 - index) else { return nil }
                    let position = base.distance(to: UnsafeRawPointer(found))
                    if memcmp(found, pattern.baseAddress!, length) == 0 { return position }
                    index = position + 1
                }
                return nil
            }
        }
    }

    private func readHeaders(_ emit: (MultipartEvent) throws -> Void) throws -> Bool {
        var headers = HTTPHeaders()
        var lineStart = start
        var cursor = start
        while cursor < buffer.count {
            guard buffer[cursor] == 10 else {
                cursor += 1
                continue
            }
            // Checked at every line end too, not only while waiting for more bytes: the limit must not depend on
            // how the body was chunked (a 515-byte header block passed in one read and failed byte by byte).
            guard cursor - start <= maxHeaderBytes else { throw headersTooLarge }
            let lineEnd = cursor > lineStart && buffer[cursor - 1] == 13 ? cursor - 1 : cursor
            if lineEnd == lineStart {
                start = cursor + 1
                state = .body
                try emit(.partBegin(headers))
                return true
            }
            let line = String(decoding: buffer[lineStart..<lineEnd], as: UTF8.self)
            guard let colon = line.firstIndex(of: ":") else {
                throw MultipartError(description: "A multipart part has a malformed header line (\(line.prefix(80))); each line must be 'Name: value'")
            }
            headers.add(String(line[..<colon]), String(trimmingOptionalWhitespace(line[line.index(after: colon)...])))
            lineStart = cursor + 1
            cursor += 1
        }
        if buffer.count - start > maxHeaderBytes { throw headersTooLarge }
        return false
    }

    private var headersTooLarge: MultipartError {
        MultipartError(description: "A multipart part's headers exceed \(maxHeaderBytes) bytes; send shorter part headers")
    }
}
