// The knobs of one HTTPServer: where it listens, its limits and timeouts, its handler threads.
// Plain values only; validation happens when the server starts, not here.

public struct HTTPServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 asks the kernel for an ephemeral port; `HTTPServer.boundPort` tells which one it chose.
    public var port = 8080
    /// Request line plus header fields; past it the client gets 431.
    public var maxHeaderBytes = 16 * 1024
    /// Upper bound for a `.buffer(limit:)` disposition; JSON bodies live in memory, so keep this small.
    public var maxBufferedBodyBytes = 1 << 20
    /// Upper bound for a `.spool(limit:)` disposition; spooled bodies go to disk, never into memory.
    public var maxSpooledBodyBytes = 512 << 20
    /// Seconds from the first byte of a request (or the accept) to the end of its header block; then 408.
    public var headerTimeout: Double = 10
    /// Seconds an idle keep-alive connection, or a stalled body upload, is kept before it is closed.
    public var idleTimeout: Double = 60
    /// Seconds a request body may take before the minimum rate applies; see minimumBodyBytesPerSecond.
    public var bodyGracePeriod: Double = 20
    /// Average bytes per second a body must sustain after the grace period: a 1 MB JSON body gets 84 s, a 512 MB
    /// upload nine hours, and a client trickling a byte every few seconds is cut off after the grace period.
    public var minimumBodyBytesPerSecond = 16 * 1024
    /// Seconds open response streams get to finish after shutdown begins before they are closed.
    public var streamShutdownGrace: Double = 5
    /// Where spooled request bodies are written; each file is removed once its handler has returned.
    public var spoolDirectory: String
    /// Threads that run `HTTPResponder.respond(to:)` for handlers that do not run inline.
    public var handlerThreads = 4
    /// Whether SIGINT and SIGTERM start a graceful shutdown. Off by default: tests and embedders own their signals.
    public var handleSignals = false
    /// Backlog passed to listen(2).
    public var listenBacklog = 511

    public init(spoolDirectory: String) {
        self.spoolDirectory = spoolDirectory
    }
}
