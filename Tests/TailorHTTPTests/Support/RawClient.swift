// A blocking POSIX-socket HTTP client for tests: sends exactly the bytes a test gives it and parses replies
// strictly, so framing bugs in the server show up. Not a general client: no TLS, no redirects, IPv4 loopback only.
import Foundation
import TailorHTTP

struct ClientError: Error, CustomStringConvertible {
    let description: String
}

struct RawResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    /// For chunked responses: each chunk as it was framed.
    var chunks: [[UInt8]]
    var text: String { String(decoding: body, as: UTF8.self) }

    /// The JSON error body's `error` object.
    func errorObject() throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        guard let error = json?["error"] as? [String: Any] else {
            throw ClientError(description: "no error object in \(text)")
        }
        return error
    }
}

// @unchecked: a test hands a client to one helper thread at a time; nothing here is shared concurrently.
final class RawClient: @unchecked Sendable {
    let fd: Int32
    private var buffered: [UInt8] = []

    init(port: Int, timeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ClientError(description: "connect: \(reason)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(timeout)
    }

    deinit { Glibc.close(fd) }

    func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw ClientError(description: "send: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                buffered.append(contentsOf: chunk[..<count])
                return true
            }
            if count == 0 { return false }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return false }
            throw ClientError(description: "recv: \(String(cString: strerror(errno)))")
        }
    }

    private func readLine() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                let line = buffered[..<newline]
                buffered.removeSubrange(...newline)
                return String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
            }
            guard try fill() else { throw ClientError(description: "connection closed mid-line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffered.count < count {
            guard try fill() else { throw ClientError(description: "connection closed with \(buffered.count)/\(count) body bytes") }
        }
        let bytes = Array(buffered[..<count])
        buffered.removeSubrange(..<count)
        return bytes
    }

    /// Reads one response. `bodyExpected` false for replies to HEAD.
    func readResponse(bodyExpected: Bool = true) throws -> RawResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(description: "bad status line: \(statusLine)")
        }
        var headers = HTTPHeaders()
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header: \(line)") }
            headers.add(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        var response = RawResponse(status: status, headers: headers, body: [], chunks: [])
        if !bodyExpected || status < 200 || status == 204 || status == 304 { return response }
        if let length = headers["Content-Length"] {
            response.body = try readExactly(Int(length)!)
        } else if headers["Transfer-Encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw ClientError(description: "bad chunk size: \(sizeLine)")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                let chunk = try readExactly(size)
                response.chunks.append(chunk)
                response.body += chunk
                guard try readLine().isEmpty else { throw ClientError(description: "chunk not followed by CRLF") }
            }
        } else {
            while try fill() {}
            response.body = buffered
            buffered = []
        }
        return response
    }

    /// Reads the next chunk of a chunked body whose head was already read; nil at the last chunk.
    func readChunk() throws -> [UInt8]? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine, radix: 16) else { throw ClientError(description: "bad chunk size: \(sizeLine)") }
        if size == 0 {
            _ = try readLine()
            return nil
        }
        let chunk = try readExactly(size)
        _ = try readLine()
        return chunk
    }

    /// Reads one response head only (for streams), leaving the body unread.
    func readHead() throws -> RawResponse {
        try readResponse(bodyExpected: false)
    }

    /// Whether the server closed the connection (EOF or reset) within the receive timeout, with nothing more sent.
    func waitForClose() -> Bool {
        guard buffered.isEmpty else { return false }
        var byte: UInt8 = 0
        while true {
            let count = recv(fd, &byte, 1, 0)
            if count == 0 { return true }
            if count < 0 && errno == EINTR { continue }
            return count < 0 && errno == ECONNRESET
        }
    }

    /// Half-closes: the server sees end of input while this side can still read.
    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset (SO_LINGER 0), the most abrupt way a client can vanish.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
