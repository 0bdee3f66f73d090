// One accepted TCP connection on the loop thread: reads, parses one request at a time, dispatches it, and
// decides what happens after the response. Body intake is in ConnectionRequestBody, writing in ConnectionWriting.
import CUV
import Logging

/// Where a connection is in its request/response cycle. Timers and shutdown act on this.
enum ConnectionPhase: Equatable {
    /// Between requests, waiting for the first byte of the next one.
    case idle
    case readingHead
    case readingBody
    /// A handler is computing the response; reading is paused so pipelined requests wait their turn.
    case awaitingResponse
    case writing
    case streaming
    /// The final response is out; waiting briefly for the client to stop sending before closing, so that
    /// unread bytes do not turn our close into a reset that could destroy the response in flight.
    case lingering
    case closed
}

/// Where the current request's body goes.
enum BodySink {
    case none
    case buffer([UInt8], limit: Int)
    case spool(FileDescriptor, count: Int, limit: Int)
}

final class Connection: RequestParserDelegate {
    let id: UInt64
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    unowned let server: HTTPServer
    let parser: RequestParser
    private(set) var remoteAddress = ""

    var phase = ConnectionPhase.idle
    /// uv_now() milliseconds at which the current phase times out; 0 for never.
    var deadline: UInt64 = 0
    var reading = false
    var pendingWrites = 0
    /// Bytes read beyond the current request: the start of the next pipelined one.
    var pendingInput: [UInt8] = []
    var output: [UInt8] = []

    // The request being served.
    var head: HTTPRequestHead?
    var sequence: UInt64 = 0
    var sink = BodySink.none
    /// A response decided before the body was read: set by prepare's .reject or by a crossed limit.
    var earlyResponse: HTTPResponse?
    /// The responder's decision about the current request, handed back with it.
    var prepared: (any Sendable)?
    var runsInline = false
    var keepAlive = false
    var isHeadRequest = false
    var stream: ResponseStream?
    var streamIsChunked = true
    var file: FileDescriptor?
    var fileRemaining = 0
    /// The running handler's signal, fired if the connection closes before its response is written.
    var disconnect: DisconnectSignal?
    /// uv_now() when the current body began, and its bytes so far: the body's overall deadline follows from them.
    var bodyStartedAt: UInt64 = 0
    var bodyBytes = 0
    var deleteFileAfterSending = false

    private var pipelining = false
    private var pipelineAgain = false
    /// The client shut its sending side down (EOF) after asking for what it still awaits: answer, then close.
    private var peerDoneSending = false

    init(id: UInt64, server: HTTPServer) {
        self.id = id
        self.server = server
        tcp = .allocate(capacity: 1)
        parser = RequestParser(maxHeaderBytes: server.configuration.maxHeaderBytes)
        parser.delegate = self
    }

    deinit { tcp.deallocate() }

    var stream_t: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
    var handle_t: UnsafeMutablePointer<uv_handle_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self) }

    /// Accepts the pending connection from `listener`. On success the handle holds a retain on self
    /// that only the uv_close callback gives back.
    func accept(from listener: UnsafeMutablePointer<uv_stream_t>) -> Int32 {
        let initStatus = uv_tcp_init(server.loop, tcp)
        guard initStatus == 0 else { return initStatus }
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_accept(listener, stream_t)
        guard status == 0 else {
            phase = .closed
            uv_close(handle_t, Connection.closed)
            return status
        }
        uv_tcp_nodelay(tcp, 1)
        remoteAddress = peerAddress(tcp)
        deadline = server.now + server.headerTimeoutMillis
        startReading()
        return 0
    }

    // MARK: Reading

    func startReading() {
        guard !reading, phase != .closed else { return }
        if uv_read_start(stream_t, Connection.allocate, Connection.read) == 0 { reading = true }
    }

    func stopReading() {
        guard reading else { return }
        uv_read_stop(stream_t)
        reading = false
    }

    private static let allocate: uv_alloc_cb = { handle, _, buf in
        let connection = Unmanaged<Connection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
        // One buffer shared by every connection: libuv calls read right after alloc, and we copy what we keep.
        let buffer = connection.server.readBuffer
        buf!.pointee = uv_buf_init(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
    }

    private static let read: uv_read_cb = { stream, count, buf in
        let connection = Unmanaged<Connection>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
        if count < 0 {
            connection.peerClosed()
        } else if count > 0 {
            connection.received(UnsafeRawBufferPointer(start: buf!.pointee.base, count: count))
        }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        switch phase {
        case .idle:
            phase = .readingHead
            deadline = server.now + server.headerTimeoutMillis
            parse(bytes)
        case .readingHead, .readingBody:
            parse(bytes)
        case .awaitingResponse, .writing, .streaming:
            // Streaming (to notice a disconnect) or an inline response still being written: keep what a
            // pipelining client sends for after this response, up to one header block.
            pendingInput.append(contentsOf: bytes)
            if pendingInput.count > server.configuration.maxHeaderBytes { stopReading() }
        case .lingering, .closed:
            break
        }
    }

    private func peerClosed() {
        // EOF while a request is being answered means either a client that is gone, or one that half-closed after
        // sending all it will (nc -N, a pipeline ending in Connection: close). The second has said so: its last
        // request asked to close, or more requests wait behind this one. It gets its answers; the first is closed,
        // and its handler told (DisconnectSignal).
        if phase == .awaitingResponse || phase == .writing, !keepAlive || !pendingInput.isEmpty {
            peerDoneSending = true
            stopReading()
            return
        }
        if phase == .streaming || parser.endedMidRequest {
            server.logger.debug("client went away mid-request",
                                metadata: ["remote": "\(remoteAddress)", "phase": "\(phase)"])
        }
        close()
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) {
        switch parser.feed(bytes) {
        case .needMore:
            if phase == .readingBody { deadline = bodyDeadline() }
        case .messageComplete(let consumed):
            if consumed < bytes.count { pendingInput.append(contentsOf: bytes[consumed...]) }
            dispatch()
        case .aborted:
            respondAndClose(earlyResponse ?? failure(400, "bad_request", "The request could not be read"))
        case .headerTooLarge:
            respondAndClose(failure(431, "request_header_fields_too_large",
                                    "The request line and headers exceed \(server.configuration.maxHeaderBytes) bytes; send fewer or shorter headers"))
        case .malformed(let reason):
            respondAndClose(failure(400, "bad_request",
                                    "The request is not valid HTTP/1.1 (\(reason)); check the request line, headers and body framing"))
        }
    }

    func failure(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        .error(status: status, message: message, type: "invalid_request_error", code: code)
    }

    // MARK: Dispatch

    private func dispatch() {
        guard let head else { return }
        phase = .awaitingResponse
        deadline = 0
        sequence &+= 1
        if let earlyResponse {
            self.earlyResponse = nil
            discardSpool()
            writeResponse(rejected(head, earlyResponse))
            return
        }
        let body: HTTPBody
        switch sink {
        case .none: body = .empty
        case .buffer(let bytes, _): body = bytes.isEmpty ? .empty : .bytes(bytes)
        case .spool(let file, let count, _): body = .file(path: file.path, count: count)
        }
        sink = .none
        let responder = server.responder
        // An inline answer keeps the socket in read mode: stopping and restarting it would cost two
        // epoll_ctl calls per request. Whatever a pipelining client sends meanwhile lands in pendingInput.
        let prepared = self.prepared
        self.prepared = nil
        if runsInline {
            let response = responder.respond(to: HTTPRequest(head: head, body: body, prepared: prepared))
            if case .file(let path, _) = body { removeFile(path) }
            writeResponse(response)
            return
        }
        // Reading goes on while a handler thread works, so that a client who leaves is noticed and the handler told
        // (Go's net/http does the same: EOF on the request's connection cancels its context). Pipelined requests
        // wait in pendingInput, bounded by one header block; past that they wait in the kernel.
        let signal = DisconnectSignal()
        disconnect = signal
        let request = HTTPRequest(head: head, body: body, disconnect: signal, prepared: prepared)
        let mailbox = server.mailbox!
        let id = self.id, sequence = self.sequence
        server.pool!.submit {
            let response = responder.respond(to: request)
            if case .file(let path, _) = body { removeFile(path) }
            mailbox.post(.response(connectionID: id, sequence: sequence, response: response))
        }
    }

    private func discardSpool() {
        if case .spool(let file, _, _) = sink { removeFile(file.path) }
        sink = .none
    }

    /// Sends `response` with Connection: close, then lingers and closes.
    func respondAndClose(_ response: HTTPResponse) {
        stopReading()
        earlyResponse = nil
        discardSpool()
        keepAlive = false
        phase = .awaitingResponse
        writeResponse(head.map { rejected($0, response) } ?? response)
    }

    /// An answer decided here or in prepare goes past the responder too, so it is logged and counted like the others.
    private func rejected(_ head: HTTPRequestHead, _ response: HTTPResponse) -> HTTPResponse {
        let prepared = self.prepared
        self.prepared = nil
        return server.responder.respond(to: HTTPRequest(head: head, prepared: prepared), rejectedWith: response)
    }

    /// The response is fully written: next request, or close.
    func responseDone() {
        stream = nil
        closeResponseFile()
        head = nil
        if keepAlive && !server.isStopping {
            startNextRequest()
        } else {
            linger()
        }
    }

    private func startNextRequest() {
        parser.reset()
        earlyResponse = nil
        phase = .idle
        if pendingInput.isEmpty {
            if peerDoneSending {
                linger()
                return
            }
            deadline = server.now + server.idleTimeoutMillis
            startReading()
            return
        }
        // Pipelined bytes are parsed here in a loop rather than by recursion, so a burst of inline requests
        // cannot grow the stack.
        if pipelining {
            pipelineAgain = true
            return
        }
        pipelining = true
        repeat {
            pipelineAgain = false
            phase = .readingHead
            deadline = server.now + server.headerTimeoutMillis
            let input = pendingInput
            pendingInput = []
            input.withUnsafeBytes { parse($0) }
            if phase == .readingHead || phase == .readingBody {
                // A request cut short by the client's EOF will never be completed.
                if peerDoneSending { close() } else { startReading() }
            }
        } while pipelineAgain
        pipelining = false
    }

    // MARK: Timers and shutdown

    func deadlinePassed() {
        switch phase {
        case .readingHead:
            respondAndClose(failure(408, "request_timeout",
                                    "The request headers did not arrive within \(server.configuration.headerTimeout) s; send the whole header block promptly"))
        case .readingBody:
            let config = server.configuration
            respondAndClose(failure(408, "request_timeout",
                                    "The request body came too slowly: it must not pause for \(config.idleTimeout) s and must arrive within \(config.bodyGracePeriod) s plus 1 s per \(config.minimumBodyBytesPerSecond) bytes; send the body at once"))
        default:
            close()
        }
    }

    /// The body must keep coming (no pause longer than the idle timeout) and, over all, at the minimum rate after a
    /// grace period, so a client trickling a byte every few seconds cannot hold a connection for ever.
    func bodyDeadline() -> UInt64 {
        let config = server.configuration
        let allowed = UInt64(config.bodyGracePeriod * 1000) + UInt64(bodyBytes) * 1000 / UInt64(max(1, config.minimumBodyBytesPerSecond))
        return min(server.now + server.idleTimeoutMillis, bodyStartedAt + allowed)
    }

    /// Shutdown began: idle connections go now; one mid-request or mid-response closes after its response.
    func serverIsStopping() {
        keepAlive = false
        if phase == .idle { close() }
    }

    /// The shutdown grace period is over: everything but a running handler is cut off.
    func forceClose() {
        if phase != .awaitingResponse { close() }
    }

    private func linger() {
        phase = .lingering
        deadline = server.now + 2_000
        pendingInput = []
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, stream_t) { request, status in
            let connection = Unmanaged<Connection>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            if status < 0 { connection.close() }
        }
        if status < 0 {
            Unmanaged<Connection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return
        }
        startReading()
    }

    func close() {
        guard phase != .closed else { return }
        if phase == .awaitingResponse { disconnect?.fire() }
        disconnect = nil
        phase = .closed
        deadline = 0
        stopReading()
        stream?.markClosed()
        stream = nil
        discardSpool()
        closeResponseFile()
        server.connectionDidClose(self)
        uv_close(handle_t, Connection.closed)
    }

    private static let closed: uv_close_cb = { handle in
        Unmanaged<Connection>.fromOpaque(handle!.pointee.data).release()
    }
}

private func peerAddress(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> String {
    var storage = sockaddr_storage()
    var length = Int32(MemoryLayout<sockaddr_storage>.size)
    return withUnsafeMutablePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> String in
            guard uv_tcp_getpeername(tcp, address, &length) == 0 else { return "" }
            var name = [CChar](repeating: 0, count: 64)
            let port: UInt16
            if address.pointee.sa_family == sa_family_t(AF_INET6) {
                let v6 = UnsafeRawPointer(address).assumingMemoryBound(to: sockaddr_in6.self)
                uv_ip6_name(v6, &name, name.count)
                port = UInt16(bigEndian: v6.pointee.sin6_port)
                return "[\(cString(name))]:\(port)"
            }
            let v4 = UnsafeRawPointer(address).assumingMemoryBound(to: sockaddr_in.self)
            uv_ip4_name(v4, &name, name.count)
            port = UInt16(bigEndian: v4.pointee.sin_port)
            return "\(cString(name)):\(port)"
        }
    }
}

private func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
