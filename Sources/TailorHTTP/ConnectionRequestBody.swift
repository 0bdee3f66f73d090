// How a connection takes in a request once its head is parsed: asks the responder how to receive the body,
// enforces the limits, writes 100 Continue, and fills memory or a spool file. Reading the socket is in Connection.

extension Connection {
    func parserDidCompleteHead(_ parsed: ParsedHead) -> HeadDecision {
        let config = server.configuration
        let head = HTTPRequestHead(method: parsed.method, target: parsed.target, headers: parsed.headers,
                                   version: parsed.version, keepAlive: parsed.keepAlive,
                                   requestID: server.nextRequestID(), remoteAddress: remoteAddress)
        self.head = head
        isHeadRequest = parsed.method == "HEAD"
        keepAlive = parsed.keepAlive && !server.isStopping
        phase = .readingBody
        bodyStartedAt = server.now
        bodyBytes = 0
        deadline = bodyDeadline()
        prepared = nil
        runsInline = false
        if let reason = pathProblem(head) {
            earlyResponse = failure(400, "invalid_path", reason)
            return parsed.expectsBody ? .abort : .readBody
        }

        guard parsed.version.major == 1 else {
            keepAlive = false
            earlyResponse = failure(505, "http_version_not_supported",
                                    "\(parsed.version) is not supported; speak HTTP/1.1 or HTTP/1.0")
            return .abort
        }
        let limit: Int
        let preparation = server.responder.prepare(head)
        prepared = preparation.prepared
        runsInline = preparation.inline
        switch preparation.disposition {
        case .reject(let response):
            earlyResponse = response
            // Without a body the connection stays usable; with one, we answer without reading it and close.
            return parsed.expectsBody ? .abort : .readBody
        case .buffer(let requested):
            limit = min(requested, config.maxBufferedBodyBytes)
            if parsed.expectsBody {
                var bytes: [UInt8] = []
                if let length = parsed.contentLength, length <= limit { bytes.reserveCapacity(length) }
                sink = .buffer(bytes, limit: limit)
            }
        case .spool(let requested):
            limit = min(requested, config.maxSpooledBodyBytes)
            if parsed.expectsBody && (parsed.contentLength ?? 0) <= limit {
                do {
                    sink = .spool(try FileDescriptor.makeTemporary(in: config.spoolDirectory, prefix: "tailor-upload-"),
                                  count: 0, limit: limit)
                } catch {
                    server.logger.error("cannot spool a request body", metadata: ["error": "\(error)"])
                    earlyResponse = .error(status: 507, message: "The server cannot store the upload: its disk is full or the spool directory is not writable; free disk space on the server, then send it again",
                                           type: "server_error", code: "insufficient_storage")
                    return .abort
                }
            }
        }
        if let length = parsed.contentLength, length > limit {
            earlyResponse = tooLarge(limit)
            return .abort
        }
        if parsed.expectsBody && parsed.version == .http1_1 && parsed.headers.hasToken("100-continue", in: "Expect") {
            _ = write(ResponseEncoding.continueResponse, then: .nothing)
        }
        return .readBody
    }

    func parserDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bodyBytes += bytes.count
        switch sink {
        case .none:
            return true
        case .buffer(var buffer, let limit):
            guard buffer.count + bytes.count <= limit else {
                earlyResponse = tooLarge(limit)
                return false
            }
            sink = .none  // so that append below works on a uniquely referenced buffer
            buffer.append(contentsOf: bytes)
            sink = .buffer(buffer, limit: limit)
            return true
        case .spool(let file, let count, let limit):
            guard count + bytes.count <= limit else {
                earlyResponse = tooLarge(limit)
                return false
            }
            do {
                try file.writeAll(bytes)
            } catch {
                server.logger.error("cannot spool a request body", metadata: ["error": "\(error)"])
                earlyResponse = .error(status: 507, message: "The server cannot store the upload: its disk is full or the spool directory is not writable; free disk space on the server, then send it again",
                                       type: "server_error", code: "insufficient_storage")
                return false
            }
            sink = .spool(file, count: count + bytes.count, limit: limit)
            return true
        }
    }

    func parserDidCompleteMessage() {}

    /// Ids and names are matched exactly, so a decoded control character in the path (%00 above all, which C
    /// strings such as SQLite's would cut an id at) is refused before any handler sees it, as nginx does; so is a
    /// NUL in the query (`after=file-abc%00`).
    private func pathProblem(_ head: HTTPRequestHead) -> String? {
        for segment in head.pathSegments where segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "The request path contains an encoded control character (such as %00) in \(segment.debugDescription); ids and names never contain one"
        }
        for (name, value) in head.query where name.utf8.contains(0) || value.utf8.contains(0) {
            return "The query parameter \(name.debugDescription) contains an encoded NUL (%00); remove it"
        }
        return nil
    }

    private func tooLarge(_ limit: Int) -> HTTPResponse {
        failure(413, "request_too_large", "The request body exceeds the \(limit)-byte limit for this endpoint; send a smaller body")
    }
}
