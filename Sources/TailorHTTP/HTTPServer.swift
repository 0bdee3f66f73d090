// The HTTP/1.1 server: one libuv loop on the thread that calls run(), owning the listener and every connection;
// handler threads for the work. Generic: routing, auth and wire formats belong to the HTTPResponder plugged in.
import CUV
import Logging

/// @unchecked Sendable: everything mutable here is touched only on the loop thread (inside start() before the
/// loop runs, or inside run()), except `control`, which is locked, and the Mailbox, which is thread-safe.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    let responder: HTTPResponder
    let logger: Logger

    private(set) var loop: UnsafeMutablePointer<uv_loop_t>?
    private(set) var mailbox: Mailbox?
    private(set) var pool: HandlerPool?
    private var listener: UnsafeMutablePointer<uv_tcp_t>?
    private var sweepTimer: UnsafeMutablePointer<uv_timer_t>?
    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    private var connections: [UInt64: Connection] = [:]
    private var lastConnectionID: UInt64 = 0
    private var requestIDs = RequestIDGenerator()
    private var state = ServerState.created
    private var streamsForced = false

    /// Shared by every connection's reads: libuv reads into it and the connection copies out what it keeps.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    let headerTimeoutMillis: UInt64
    let idleTimeoutMillis: UInt64
    private let graceMillis: UInt64

    private struct Control {
        var shutdownRequested = false
        var mailbox: Mailbox?
        var boundPort = 0
        var shutdownObservers: [@Sendable () -> Void] = []
    }
    private let control = LockedValue(Control())

    public init(configuration: HTTPServerConfiguration, responder: HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        headerTimeoutMillis = millis(configuration.headerTimeout)
        idleTimeoutMillis = millis(configuration.idleTimeout)
        graceMillis = millis(configuration.streamShutdownGrace)
    }

    deinit {
        // start() without run(): nothing else can be touching the loop, so close it here.
        if state == .listening {
            closeHandles(deliverPending: false)
            uv_run(loop, UV_RUN_DEFAULT)
            pool?.stop()
        }
        if let loop {
            uv_loop_close(loop)
            loop.deallocate()
        }
        readBuffer.deallocate()
    }

    /// The port the listener is bound to; 0 before start().
    public var boundPort: Int { control.withLock { $0.boundPort } }

    /// Binds and listens, and returns the bound port. The loop does not run until run().
    public func start() throws -> Int {
        guard state == .created else {
            throw HTTPServerError(call: "start", code: 0, context: "this server was already started; create a new HTTPServer")
        }
        try validate(configuration)
        // One client closing at the wrong moment must not kill the server.
        ignoreBrokenPipeSignals()
        let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        let initStatus = uv_loop_init(loop)
        guard initStatus == 0 else {
            loop.deallocate()
            throw HTTPServerError(call: "uv_loop_init", code: initStatus, context: "creating the event loop")
        }
        self.loop = loop
        do {
            let mailbox = try Mailbox(loop: loop) { [unowned self] messages in deliver(messages) }
            self.mailbox = mailbox
            sweepTimer = try makeSweepTimer(loop)
            let port = try listen(loop)
            if configuration.handleSignals { try watchSignals(loop) }
            pool = HandlerPool(threads: configuration.handlerThreads, name: "tailor-http")
            state = state.after(.bound)!
            control.withLock {
                $0.mailbox = mailbox
                $0.boundPort = port
            }
            logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)",
                                                "handler_threads": "\(configuration.handlerThreads)"])
            return port
        } catch {
            closeHandles(deliverPending: false)
            uv_run(loop, UV_RUN_DEFAULT)
            throw error
        }
    }

    /// Runs the loop on the calling thread until a shutdown has finished: no connections, no handles.
    public func run() {
        guard let next = state.after(.runStarted) else {
            logger.error("run() called on a server that is not listening; call start() first, and run() once")
            return
        }
        state = next
        if control.withLock({ $0.shutdownRequested }) { beginShutdown() }
        uv_run(loop, UV_RUN_DEFAULT)
        // Stream producers may still be returning from their closures; their writes now report false.
        pool?.stop()
        logger.info("stopped")
    }

    /// Runs `body` when shutdown begins (a signal or shutdown()), on the loop thread: keep it short. Work that
    /// handlers wait on (generation) should wind down by the stream grace period, so the drain can finish.
    public func onShutdown(_ body: @escaping @Sendable () -> Void) {
        control.withLock { $0.shutdownObservers.append(body) }
    }

    /// Stops accepting, lets in-flight responses finish and streams run for the grace period, then ends run().
    /// Safe from any thread, and more than once.
    public func shutdown() {
        let mailbox = control.withLock { control -> Mailbox? in
            control.shutdownRequested = true
            return control.mailbox
        }
        mailbox?.post(.shutdown)
    }

    // MARK: Loop-thread services for connections

    var isStopping: Bool { state.isStopping }
    var now: UInt64 { uv_now(loop) }
    func nextRequestID() -> String { requestIDs.next() }

    func connectionDidClose(_ connection: Connection) {
        connections[connection.id] = nil
        finishIfDrained()
    }

    // MARK: Setup

    private func validate(_ config: HTTPServerConfiguration) throws {
        func require(_ condition: Bool, _ what: String) throws {
            if !condition { throw HTTPServerError(call: "configuration", code: 0, context: what) }
        }
        try require((0...65535).contains(config.port), "port \(config.port) is out of range; use 0...65535")
        try require(config.handlerThreads >= 1, "handlerThreads must be at least 1")
        try require(config.maxHeaderBytes >= 256, "maxHeaderBytes \(config.maxHeaderBytes) is too small; use at least 256")
        try require(config.maxBufferedBodyBytes >= 0 && config.maxSpooledBodyBytes >= 0, "body limits must not be negative")
        try require(config.headerTimeout > 0 && config.idleTimeout > 0 && config.streamShutdownGrace >= 0
                        && config.bodyGracePeriod > 0, "timeouts must be positive")
        try require(config.minimumBodyBytesPerSecond >= 1, "minimumBodyBytesPerSecond must be at least 1")
        var info = stat()
        try require(stat(config.spoolDirectory, &info) == 0 && info.st_mode & UInt32(S_IFMT) == UInt32(S_IFDIR),
                    "spoolDirectory \(config.spoolDirectory) is not a directory; create it or point spoolDirectory elsewhere")
    }

    private func makeSweepTimer(_ loop: UnsafeMutablePointer<uv_loop_t>) throws -> UnsafeMutablePointer<uv_timer_t> {
        let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        try uvCheck(uv_timer_init(loop, timer), "uv_timer_init", "creating the timeout timer")
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        // Deadlines are checked by one sweep rather than a timer per connection; a quarter of the shortest
        // timeout keeps them accurate enough without waking an idle server often.
        let interval = max(5, min(1_000, min(headerTimeoutMillis, idleTimeoutMillis, max(graceMillis, 20)) / 4))
        uv_timer_start(timer, { timer in
            Unmanaged<HTTPServer>.fromOpaque(timer!.pointee.data).takeUnretainedValue().sweep()
        }, interval, interval)
        return timer
    }

    private func listen(_ loop: UnsafeMutablePointer<uv_loop_t>) throws -> Int {
        let listener = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        try uvCheck(uv_tcp_init(loop, listener), "uv_tcp_init", "creating the listening socket")
        self.listener = listener
        listener.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let where_ = "\(configuration.host):\(configuration.port)"
        var storage = sockaddr_storage()
        try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                if configuration.host.contains(":") {
                    try address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        try uvCheck(uv_ip6_addr(configuration.host, Int32(configuration.port), $0), "uv_ip6_addr",
                                    "parsing host \(configuration.host); give a numeric IPv4 or IPv6 address")
                    }
                } else {
                    try address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        try uvCheck(uv_ip4_addr(configuration.host, Int32(configuration.port), $0), "uv_ip4_addr",
                                    "parsing host \(configuration.host); give a numeric IPv4 or IPv6 address")
                    }
                }
                try uvCheck(uv_tcp_bind(listener, address, 0), "uv_tcp_bind",
                            "binding \(where_); pick another port or stop the process using it")
            }
        }
        let stream = UnsafeMutableRawPointer(listener).assumingMemoryBound(to: uv_stream_t.self)
        try uvCheck(uv_listen(stream, Int32(configuration.listenBacklog), { listener, status in
            Unmanaged<HTTPServer>.fromOpaque(listener!.pointee.data).takeUnretainedValue().accept(status: status)
        }), "uv_listen", "listening on \(where_); pick another port or stop the process using it")

        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try uvCheck(uv_tcp_getsockname(listener, $0, &length), "uv_tcp_getsockname", "reading the bound port")
            }
        }
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    private func watchSignals(_ loop: UnsafeMutablePointer<uv_loop_t>) throws {
        for signal in [SIGINT, SIGTERM] {
            let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
            try uvCheck(uv_signal_init(loop, handle), "uv_signal_init", "watching signal \(signal)")
            signalHandles.append(handle)
            handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            try uvCheck(uv_signal_start(handle, { handle, signal in
                Unmanaged<HTTPServer>.fromOpaque(handle!.pointee.data).takeUnretainedValue().signalled(signal)
            }, signal), "uv_signal_start", "watching signal \(signal)")
        }
    }

    // MARK: Loop callbacks

    private func accept(status: Int32) {
        guard status == 0, let listener else {
            logger.warning("accept failed", metadata: ["error": "\(String(cString: uv_strerror(status)))"])
            return
        }
        lastConnectionID += 1
        let connection = Connection(id: lastConnectionID, server: self)
        let result = connection.accept(from: UnsafeMutableRawPointer(listener).assumingMemoryBound(to: uv_stream_t.self))
        if result == 0 {
            connections[connection.id] = connection
        } else {
            logger.warning("accept failed", metadata: ["error": "\(String(cString: uv_strerror(result)))"])
        }
    }

    private func deliver(_ messages: [LoopMessage]) {
        for message in messages {
            switch message {
            case .response(let id, let sequence, let response):
                if let connection = connections[id], connection.sequence == sequence,
                   connection.phase == .awaitingResponse {
                    connection.writeResponse(response)
                } else if case .file(let path, true) = response.body {
                    removeFile(path)
                }
            case .streamChunk(let stream, let bytes):
                if let connection = connections[stream.connectionID] {
                    connection.streamChunk(stream, bytes)
                } else {
                    stream.markClosed()
                }
            case .streamFinish(let stream):
                if let connection = connections[stream.connectionID] {
                    connection.streamFinish(stream)
                } else {
                    stream.markClosed()
                }
            case .shutdown:
                beginShutdown()
            }
        }
    }

    private func signalled(_ signal: Int32) {
        if case .draining = state {
            logger.warning("second signal: closing every connection now", metadata: ["signal": "\(signal)"])
            forceCloseConnections()
            return
        }
        logger.info("signal received: shutting down", metadata: ["signal": "\(signal)"])
        beginShutdown()
    }

    private func sweep() {
        let now = self.now
        if case .draining(let graceDeadline) = state, now >= graceDeadline, !streamsForced {
            streamsForced = true
            forceCloseConnections()
        }
        for connection in Array(connections.values) where connection.deadline != 0 && now >= connection.deadline {
            connection.deadlinePassed()
        }
    }

    private func forceCloseConnections() {
        for connection in Array(connections.values) { connection.forceClose() }
    }

    // MARK: Shutdown

    private func beginShutdown() {
        guard let next = state.after(.shutdownRequested(now: now, graceMillis: graceMillis)) else { return }
        state = next
        logger.info("shutting down", metadata: ["open_connections": "\(connections.count)"])
        for observer in control.withLock({ $0.shutdownObservers }) { observer() }
        if let listener {
            closeAndFree(listener)
            self.listener = nil
        }
        for connection in Array(connections.values) { connection.serverIsStopping() }
        finishIfDrained()
    }

    private func finishIfDrained() {
        guard connections.isEmpty, let next = state.after(.lastConnectionClosed) else { return }
        state = next
        closeHandles(deliverPending: true)
    }

    /// Closes the server's own handles; uv_run returns once their close callbacks have run.
    private func closeHandles(deliverPending: Bool) {
        control.withLock { $0.mailbox = nil }
        mailbox?.close(deliverPending: deliverPending)
        mailbox = nil
        if let listener { closeAndFree(listener) }
        listener = nil
        if let sweepTimer { closeAndFree(sweepTimer) }
        sweepTimer = nil
        for handle in signalHandles { closeAndFree(handle) }
        signalHandles = []
    }
}

/// Closes a handle whose memory nothing else owns, freeing it in the close callback as libuv requires.
private func closeAndFree<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
    uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { handle in
        UnsafeMutableRawPointer(handle!).deallocate()
    }
}

private func millis(_ seconds: Double) -> UInt64 {
    UInt64(max(1, (seconds * 1000).rounded()))
}
