// One in-process HTTPServer (127.0.0.1, port 0, small limits and timeouts) for the whole run. Per input: connect,
// send the request bytes in fuzzer-chosen pieces, half-close, read the answer until the server closes (bounded),
// then check that the answer looks like HTTP and that the server still answers a fresh request.
//
// Input layout: byte 0 = number of pieces minus one (mod 8); the next `pieces - 1` bytes are piece lengths;
// the rest is what goes on the wire.
import FuzzSupport
import Foundation
import Logging
import TailorHTTP

struct FuzzResponder: HTTPResponder {
    func prepare(_ head: HTTPRequestHead) -> Preparation {
        let inline = head.pathSegments.first == "inline" || head.path == "/healthz"
        switch head.pathSegments.first {
        case "spool": return Preparation(.spool(limit: 4096), inline: inline)
        case "reject": return Preparation(.reject(.text(status: 401, "no")), inline: inline)
        default: return Preparation(.buffer(limit: 2048), inline: inline)
        }
    }
    func respond(to request: HTTPRequest) -> HTTPResponse {
        switch request.head.pathSegments.first {
        case "stream":
            return .eventStream { stream in
                _ = stream.writeEvent(data: "one")
                _ = stream.writeEvent(data: "two", event: "e", id: "1")
                stream.finish()
            }
        default:
            return .text("\(request.head.method) \(request.head.path) \(request.body.count) \(request.head.query.count)")
        }
    }
}

final class Harness: @unchecked Sendable {
    let port: UInt16
    let server: HTTPServer

    init() {
        signal(SIGPIPE, SIG_IGN)
        let spool = NSTemporaryDirectory() + "/tailor-fuzz-http-\(getpid())"
        try? FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        var configuration = HTTPServerConfiguration(spoolDirectory: spool)
        configuration.port = 0
        configuration.maxHeaderBytes = 1024
        configuration.maxBufferedBodyBytes = 2048
        configuration.maxSpooledBodyBytes = 4096
        configuration.headerTimeout = 1
        configuration.idleTimeout = 1
        configuration.streamShutdownGrace = 1
        configuration.handlerThreads = 2
        var logger = Logger(label: "fuzz-http")
        logger.logLevel = .critical
        server = HTTPServer(configuration: configuration, responder: FuzzResponder(), logger: logger)
        port = UInt16(try! server.start())
        let server = self.server
        Thread { server.run() }.start()
    }

    func connect() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        require(fd >= 0, "socket failed: \(errno)")
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 && errno == EINTR {
            // libFuzzer's -timeout alarm (SIGALRM, every second) interrupted connect; it completes on its own.
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while poll(&ready, 1, 5000) < 0 && errno == EINTR {}
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            require(error == 0, "connect failed after EINTR: error \(error) — the server stopped accepting")
        } else {
            require(rc == 0, "connect failed: errno \(errno) — the server stopped accepting")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Reads until the server closes; fails the run if it keeps the half-closed connection open too long.
    func readAll(_ fd: Int32, limitSeconds: Double, what: String) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        let deadline = Date().addingTimeInterval(limitSeconds)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out.append(contentsOf: buffer[0..<n]); continue }
            if n == 0 { return out }
            if errno == ECONNRESET { return out }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                if Date() > deadline {
                    fatalError("\(what): the server kept a half-closed connection open for more than \(limitSeconds) s (got \(out.count) bytes)")
                }
                continue
            }
            return out
        }
    }

    func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }  // the server may close early (413, 431, 400): fine
            offset += n
        }
        return true
    }

    func run(_ input: UnsafeRawBufferPointer) {
        guard !input.isEmpty else { return }
        let pieces = Int(input[0] % 8) + 1
        var lengths: [Int] = []
        var cursor = 1
        for _ in 1..<pieces where cursor < input.count {
            lengths.append(Int(input[cursor]))
            cursor += 1
        }
        let wire = UnsafeRawBufferPointer(rebasing: input[cursor...])
        let fd = connect()
        var offset = 0
        for length in lengths + [Int.max] where offset < wire.count {
            let end = min(wire.count, offset + max(1, length == Int.max ? wire.count : length))
            if !sendAll(fd, UnsafeRawBufferPointer(rebasing: wire[offset..<end])) { break }
            offset = end
            if offset < wire.count { usleep(300) }  // lets the loop read this piece on its own
        }
        shutdown(fd, Int32(SHUT_WR))
        let answer = readAll(fd, limitSeconds: 5, what: "fuzzed request")
        close(fd)
        if !answer.isEmpty {
            require(answer.starts(with: Array("HTTP/1.".utf8)), "the answer does not start with a status line: \(String(decoding: answer.prefix(64), as: UTF8.self).debugDescription)")
        }
        // Still alive and still answering correctly.
        let probe = connect()
        let request = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        require(request.withUnsafeBytes { sendAll(probe, $0) }, "the server refused the liveness probe")
        let reply = readAll(probe, limitSeconds: 5, what: "liveness probe")
        close(probe)
        require(reply.starts(with: Array("HTTP/1.1 200".utf8)), "the liveness probe got: \(String(decoding: reply.prefix(80), as: UTF8.self).debugDescription)")
    }
}

nonisolated(unsafe) var harness: Harness?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if harness == nil { harness = Harness() }
    harness!.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
