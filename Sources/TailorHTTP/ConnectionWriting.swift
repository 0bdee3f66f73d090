// The writing half of a connection: response heads and bodies (bytes, files in chunks, streams), with
// uv_try_write first and uv_write for whatever the socket did not take. Decides nothing about keep-alive.
import CUV

/// What to do once a write has reached the socket.
enum WriteCompletion {
    case nothing
    case responseDone
    case fileChunk
    case streamChunk(ResponseStream, Int)
    case streamFinished(ResponseStream)
}

/// One uv_write in flight: owns the request and a copy of the bytes until libuv calls back.
private final class WriteRequest {
    let request: UnsafeMutablePointer<uv_write_t>
    let bytes: UnsafeMutableRawBufferPointer
    let connection: Connection
    let completion: WriteCompletion

    init(_ source: UnsafeRawBufferPointer, connection: Connection, completion: WriteCompletion) {
        request = .allocate(capacity: 1)
        bytes = .allocate(byteCount: source.count, alignment: 1)
        bytes.copyMemory(from: source)
        self.connection = connection
        self.completion = completion
    }

    deinit {
        request.deallocate()
        bytes.deallocate()
    }
}

/// Chunks read from a response file per write; also how much a file may send before yielding to other connections.
private let fileChunkBytes = 64 * 1024
private let fileChunksPerTurn = 16

extension Connection {
    func writeResponse(_ response: HTTPResponse) {
        disconnect = nil
        let requestID = head?.requestID ?? server.nextRequestID()
        let http10 = head?.version == .http1_0
        let status = response.status
        let noBodyStatus = status < 200 || status == 204 || status == 304
        let sendsBody = !noBodyStatus && !isHeadRequest
        phase = .writing
        output.removeAll(keepingCapacity: true)

        switch response.body {
        case .bytes(let bytes):
            ResponseEncoding.appendHead(to: &output, status: status, headers: response.headers,
                                        framing: noBodyStatus ? .none : .length(bytes.count), keepAlive: keepAlive,
                                        clientIsHTTP10: http10, requestID: requestID)
            if sendsBody { output.append(contentsOf: bytes) }
            if write(output, then: .responseDone) { responseDone() }

        case .file(let path, let deleteAfterSending):
            let file: FileDescriptor
            let size: Int
            do {
                file = try FileDescriptor.openForReading(path)
                size = try file.size()
            } catch {
                server.logger.error("cannot send a response file", metadata: ["error": "\(error)"])
                if deleteAfterSending { removeFile(path) }
                writeResponse(.error(status: 500, message: "The server could not read the response body; see the server log",
                                     type: "server_error", code: "response_unreadable"))
                return
            }
            self.file = file
            fileRemaining = size
            deleteFileAfterSending = deleteAfterSending
            ResponseEncoding.appendHead(to: &output, status: status, headers: response.headers,
                                        framing: noBodyStatus ? .none : .length(size), keepAlive: keepAlive,
                                        clientIsHTTP10: http10, requestID: requestID)
            if !sendsBody || size == 0 {
                if write(output, then: .responseDone) { responseDone() }
            } else if write(output, then: .fileChunk) {
                pumpFile()
            }

        case .stream(let body):
            let stream = ResponseStream(mailbox: server.mailbox!, connectionID: id)
            streamIsChunked = !http10
            if http10 { keepAlive = false }
            ResponseEncoding.appendHead(to: &output, status: status, headers: response.headers,
                                        framing: noBodyStatus ? .none : (http10 ? .untilClose : .chunked),
                                        keepAlive: keepAlive, clientIsHTTP10: http10, requestID: requestID)
            guard sendsBody else {
                stream.markClosed()
                if write(output, then: .responseDone) { responseDone() }
                return
            }
            self.stream = stream
            phase = .streaming
            _ = write(output, then: .nothing)
            guard phase == .streaming else { return }
            // Reading while streaming is how a disconnect is noticed, and with it onClose and write() == false.
            startReading()
            server.pool!.submit { body(stream) }
        }
    }

    /// Sends file chunks until the socket pushes back, the file ends, or this turn's share is used up.
    func pumpFile() {
        var chunks = 0
        while let file, phase == .writing {
            if fileRemaining == 0 {
                responseDone()
                return
            }
            let wanted = min(fileChunkBytes, fileRemaining)
            let chunk: [UInt8]
            do {
                chunk = try [UInt8](unsafeUninitializedCapacity: wanted) { buffer, count in
                    count = try file.read(into: UnsafeMutableRawBufferPointer(buffer))
                }
            } catch {
                server.logger.error("response file read failed mid-body", metadata: ["error": "\(error)"])
                close()
                return
            }
            guard !chunk.isEmpty else {
                // The file shrank after its length was sent; the client must not take a short body as whole.
                server.logger.error("response file ended early", metadata: ["path": "\(file.path)"])
                close()
                return
            }
            fileRemaining -= chunk.count
            chunks += 1
            if !write(chunk, then: .fileChunk, tryFirst: chunks < fileChunksPerTurn) { return }
        }
    }

    func closeResponseFile() {
        if let file, deleteFileAfterSending { removeFile(file.path) }
        file = nil
        deleteFileAfterSending = false
    }

    func streamChunk(_ stream: ResponseStream, _ bytes: [UInt8]) {
        guard self.stream === stream, phase == .streaming else {
            stream.markClosed()
            return
        }
        output.removeAll(keepingCapacity: true)
        if streamIsChunked {
            ResponseEncoding.appendChunk(to: &output, bytes)
        } else {
            output.append(contentsOf: bytes)
        }
        if write(output, then: .streamChunk(stream, bytes.count)) { stream.didFlush(bytes.count) }
    }

    func streamFinish(_ stream: ResponseStream) {
        guard self.stream === stream, phase == .streaming else {
            stream.markClosed()
            return
        }
        guard streamIsChunked else {
            stream.markClosed()
            responseDone()
            return
        }
        if write(ResponseEncoding.lastChunk, then: .streamFinished(stream)) {
            stream.markClosed()
            responseDone()
        }
    }

    /// Writes `bytes` in order after anything already queued. Returns true when they all went out right now
    /// (the completion is then the caller's job); false when they were queued (the completion runs later) or
    /// the connection failed and closed.
    func write(_ bytes: [UInt8], then completion: WriteCompletion, tryFirst: Bool = true) -> Bool {
        guard phase != .closed else { return false }
        if bytes.isEmpty && pendingWrites == 0 { return true }
        return bytes.withUnsafeBytes { source in
            var offset = 0
            if pendingWrites == 0 && tryFirst {
                var buffer = uv_buf_init(UnsafeMutableRawPointer(mutating: source.baseAddress!)
                                             .assumingMemoryBound(to: CChar.self), UInt32(source.count))
                let written = uv_try_write(stream_t, &buffer, 1)
                if written == Int32(source.count) { return true }
                if written >= 0 {
                    offset = Int(written)
                } else if written != UV_EAGAIN.rawValue {
                    close()
                    return false
                }
            }
            let pending = WriteRequest(UnsafeRawBufferPointer(rebasing: source[offset...]), connection: self,
                                       completion: completion)
            pending.request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
            var buffer = uv_buf_init(pending.bytes.baseAddress?.assumingMemoryBound(to: CChar.self),
                                     UInt32(pending.bytes.count))
            let status = uv_write(pending.request, stream_t, &buffer, 1, Connection.written)
            guard status == 0 else {
                Unmanaged.passUnretained(pending).release()
                close()
                return false
            }
            pendingWrites += 1
            deadline = server.now + server.idleTimeoutMillis
            return false
        }
    }

    private static let written: uv_write_cb = { request, status in
        let pending = Unmanaged<WriteRequest>.fromOpaque(request!.pointee.data).takeRetainedValue()
        pending.connection.writeFinished(pending.completion, status: status)
    }

    private func writeFinished(_ completion: WriteCompletion, status: Int32) {
        pendingWrites -= 1
        if status < 0 {
            close()
            return
        }
        guard phase != .closed else { return }
        if pendingWrites > 0 {
            deadline = server.now + server.idleTimeoutMillis
        } else if phase == .streaming {
            deadline = 0
        }
        switch completion {
        case .nothing:
            break
        case .responseDone:
            responseDone()
        case .fileChunk:
            pumpFile()
        case .streamChunk(let stream, let count):
            stream.didFlush(count)
        case .streamFinished(let stream):
            stream.markClosed()
            responseDone()
        }
    }
}
