// PostgreSQL's LISTEN on one dedicated connection, kept alive: when the connection is lost (a restart, a cut, a
// failed ping) it is opened again with a growing pause, and every time it is listening anew the owner hears
// `.listening`, so that it can catch up on what it missed by reading the store. Not the sending side: the store's
// transactions NOTIFY (SQLDialect.notifyJob), so a notification goes out exactly when its change commits.
import Logging
import NIOCore
import PostgresNIO

/// What a listener hears.
enum PostgresNotice: Sendable, Equatable {
    /// The connection listens (the first time, or again after it was lost): notifications sent before may be lost.
    case listening
    /// A notification on the channel, with its payload.
    case notified(String)
    /// The connection was lost; `.listening` follows once it is back.
    case lost
}

final class PostgresListener: Sendable {
    // Sendable without @unchecked: the mutable state sits behind Locked; everything else is a constant.
    let channel: String
    private let loop: any EventLoop
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let handler: @Sendable (PostgresNotice) -> Void
    private let state = Locked<(connection: PostgresConnection?, stopped: Bool, failures: Int)>((nil, false, 0))

    /// Seconds between pings of an idle listening connection: one that stopped answering (a half-open TCP connection
    /// after a host vanished) is closed and opened again, within about twice this.
    static let pingSeconds: Int64 = 10
    static let longestPause: Int64 = 5_000

    /// Starts listening on `channel` (a plain identifier); `handler` runs on an event loop thread: it must not block.
    init(channel: String, loop: any EventLoop, configuration: PostgresConnection.Configuration, logger: Logger,
         handler: @escaping @Sendable (PostgresNotice) -> Void) {
        self.channel = channel; self.loop = loop; self.configuration = configuration; self.logger = logger
        self.handler = handler
        connect()
    }

    /// Stops listening and closes the connection; nothing is heard after this returns.
    func stop() {
        let connection = state.withLock { s -> PostgresConnection? in
            s.stopped = true
            defer { s.connection = nil }
            return s.connection
        }
        try? connection?.close().wait()
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func connect() {
        guard !stopped else { return }
        let channel = channel, handler = handler, logger = logger
        PostgresConnection.connect(on: loop, configuration: configuration, id: 0, logger: logger)
            .flatMap { connection -> EventLoopFuture<PostgresConnection> in
                connection.addListener(channel: channel) { _, notification in handler(.notified(notification.payload)) }
                // PostgresNIO sends LISTEN for the listener; this one, after it on the same connection, completes once
                // the server has registered it (a repeated LISTEN is a no-op).
                return connection.query(PostgresQuery(unsafeSQL: "LISTEN \"\(channel)\""), logger: logger)
                    .map { _ in connection }
                    .flatMapErrorThrowing { error in let _: EventLoopFuture<Void> = connection.close(); throw error }
            }
            .whenComplete { [self] result in
                switch result {
                case .success(let connection):
                    let keep = state.withLock { s -> Bool in
                        guard !s.stopped else { return false }
                        if s.failures > 0 { logger.notice("listening to PostgreSQL again", metadata: ["channel": "\(channel)"]) }
                        s.connection = connection
                        s.failures = 0
                        return true
                    }
                    guard keep else { let _: EventLoopFuture<Void> = connection.close(); return }
                    handler(.listening)
                    connection.closeFuture.whenComplete { [self] _ in lost(connection) }
                    ping(connection)
                case .failure(let error):
                    retry(after: error)
                }
            }
    }

    private func lost(_ connection: PostgresConnection) {
        let current = state.withLock { s -> Bool in
            guard !s.stopped, s.connection === connection else { return false }
            s.connection = nil
            return true
        }
        guard current else { return }
        logger.warning("lost the LISTEN connection to PostgreSQL; listening again when it is back",
                       metadata: ["channel": "\(channel)"])
        handler(.lost)
        connect()
    }

    private func retry(after error: Error) {
        let pause = state.withLock { s -> Int64? in
            guard !s.stopped else { return nil }
            s.failures += 1
            return min(Self.longestPause, 100 << Int64(min(s.failures, 6)))
        }
        guard let pause else { return }
        logger.debug("could not listen to PostgreSQL", metadata: ["channel": "\(channel)",
                                                                   "error": "\(PostgresDatabase.reason(error))"])
        loop.scheduleTask(in: .milliseconds(pause)) { [self] in connect() }
    }

    /// A query now and then: a connection that does not answer within a ping's interval is closed (then `lost`).
    private func ping(_ connection: PostgresConnection) {
        loop.scheduleTask(in: .seconds(Self.pingSeconds)) { [self] in
            guard !stopped, !connection.isClosed else { return }
            let answered = connection.query("SELECT 1", logger: logger)
            let deadline = loop.scheduleTask(in: .seconds(Self.pingSeconds)) { let _: EventLoopFuture<Void> = connection.close() }
            answered.whenComplete { [self] result in
                deadline.cancel()
                if case .failure = result { let _: EventLoopFuture<Void> = connection.close() } else { ping(connection) }
            }
        }
    }
}
