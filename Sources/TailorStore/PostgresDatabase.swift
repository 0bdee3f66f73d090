// The PostgreSQL engine (experimental): a few PostgresNIO connections on the store's own event loop, driven
// synchronously from the caller's thread. Not a queue or a cluster yet: it stores what the SQLite file stores,
// with the same transactions, so one Tailor node can keep its rows in a database server.
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

final class PostgresDatabase: StoreDatabase {
    // The store's API is synchronous and its callers are plain threads (HTTP handlers, training and evaluation
    // workers), never this group's event loop: a transaction sends each statement to the loop and blocks its own
    // thread on the future's result. That is safe because the loop never waits for a caller (it only completes
    // futures), and NIO's `wait()` traps if it is ever called on an event loop thread, so a mistake here would fail
    // loudly instead of deadlocking. No Swift concurrency is involved, so a caller on the cooperative pool cannot
    // starve the tasks that would complete its query either.
    //
    // Sendable without @unchecked: the group, semaphore, queue and logger are Sendable, and the idle connections sit
    // behind Locked. A connection is used by one thread at a time: taken from the idle list, given back after.
    let settings: PostgresSettings
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let idle = Locked<(connections: [PostgresConnection], nextID: Int, closed: Bool)>(([], 1, false))
    /// Bounds the connections one store holds (the server's max_connections is shared by every node).
    private let permits = DispatchSemaphore(value: PostgresDatabase.maxConnections)
    private let later = DispatchQueue(label: "tailor.store.postgres.later")
    /// Connections of their own that LISTEN (PostgresListener), stopped before the group shuts down.
    private let listeners = Locked<[PostgresListener]>([])

    static let maxConnections = 8
    /// Deadlocks (40P01) and serialization failures (40001) abort a transaction through no fault of its own: it is
    /// run again, up to this many times in all. Transaction bodies are therefore written to be re-runnable.
    static let attempts = 5

    var description: String { settings.description }

    /// This database's own id, made once by the migrations (data directories record it: DataLayout.bind).
    var installationID: String { installation.withLock { $0 } }
    private let installation = Locked("")

    /// Connects (the first connection proves the server is there and accepts us) and applies pending migrations.
    init(settings: PostgresSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        tls = try PostgresTLS.configuration(settings)
        do {
            let id = try PostgresMigrations.migrate(self)
            installation.withLock { $0 = id }
        } catch {
            try? close()
            throw error
        }
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", body)
    }

    /// READ COMMITTED, PostgreSQL's default: a read-modify-write locks its row with SELECT … FOR UPDATE (see
    /// SQLDialect.forUpdate), so a second writer waits and then reads the committed row instead of overwriting it.
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", body)
    }

    func writeLater(_ body: @escaping @Sendable (any SQLSession) throws -> Void, failed: @escaping @Sendable (Error) -> Void) {
        later.async { [self] in
            do { try write(body) } catch { failed(error) }
        }
    }

    func close() throws {
        guard !idle.withLock({ $0.closed }) else { return }
        later.sync {}  // let the writes nobody waits for finish first
        for listener in listeners.withLock({ l in defer { l = [] }; return l }) { listener.stop() }
        let connections: [PostgresConnection]? = idle.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            defer { state.connections = [] }
            return state.connections
        }
        guard let connections else { return }
        for connection in connections { try? connection.close().wait() }
        try group.syncShutdownGracefully()
    }

    // MARK: transactions

    func transaction<T>(begin: String, _ body: (any SQLSession) throws -> T) throws -> T {
        var attempt = 1
        while true {
            var began = false
            do {
                return try withConnection { connection in
                    let session = PostgresSession(database: self, connection: connection)
                    try session.execute(begin, [])
                    began = true
                    do {
                        let result = try body(session)
                        try session.execute("COMMIT", [])
                        return result
                    } catch {
                        // After a failed COMMIT the server has already rolled back; this ROLLBACK then only warns.
                        _ = try? session.execute("ROLLBACK", [])
                        throw error
                    }
                }
            } catch {
                // Run again after a deadlock or serialization failure, or when the connection broke before BEGIN
                // (the server restarted, an idle connection was cut): nothing of the body had run, and the next
                // attempt opens a fresh connection. A connection lost after BEGIN is not retried: the COMMIT may
                // have happened.
                let retry = began ? Self.isTransient(error) : Self.isBrokenConnection(error)
                guard attempt < Self.attempts, retry else { throw error }
                attempt += 1
            }
        }
    }

    static func isBrokenConnection(_ error: Error) -> Bool {
        if case .unreachable = error as? PostgresStoreError { return true }
        return false
    }

    static func isTransient(_ error: Error) -> Bool {
        guard case .query(let state?, _) = error as? PostgresStoreError else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Runs `body` with a connection of its own, opening one if none is idle. A connection that broke is dropped,
    /// so the next transaction opens a fresh one (after a server restart, say).
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        permits.wait()
        defer { permits.signal() }
        let connection = try takeConnection()
        do {
            let result = try body(connection)
            giveBack(connection)
            return result
        } catch {
            if Self.isBrokenConnection(error) { discard(connection) } else { giveBack(connection) }
            throw error
        }
    }

    private func takeConnection() throws -> PostgresConnection {
        let (reused, id): (PostgresConnection?, Int) = try idle.withLock { state in
            guard !state.closed else {
                throw PostgresStoreError.closed(database: settings.description)
            }
            while let connection = state.connections.popLast() {
                if !connection.isClosed { return (connection, 0) }
            }
            state.nextID += 1
            return (nil, state.nextID)
        }
        if let reused { return reused }
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw PostgresStoreError.unreachable(database: settings.description, reason: reason(error))
        }
    }

    /// Self.reason, and for a certificate that does not name the server, which name was expected.
    func reason(_ error: Error) -> String {
        if let underlying = (error as? PSQLError)?.underlying as? NIOSSLExtraError, underlying == .failedToValidateHostname {
            let name = PostgresSettings.isIPAddress(settings.host)
                ? "the address \(settings.hostAddress ?? settings.host)" : "the name \(settings.host)"
            return "the server's certificate does not name \(name) (sslmode=verify-full checks the name the URL's host "
                + "gives; verify-ca checks only that a trusted authority signed it)"
        }
        if let underlying = (error as? PSQLError)?.underlying as? NIOSSLError, "\(underlying)".contains("CERTIFICATE_VERIFY_FAILED") {
            let roots = settings.tls.rootCertificate == "system" ? "the system's trust roots"
                : "sslrootcert=\(settings.tls.rootCertificate ?? "~/.postgresql/root.crt")"
            return "the server's certificate is not signed by an authority in \(roots), or has expired"
        }
        return Self.reason(error)
    }

    private func giveBack(_ connection: PostgresConnection) {
        let keep = idle.withLock { state in
            guard !state.closed, !connection.isClosed else { return false }
            state.connections.append(connection)
            return true
        }
        if !keep { discard(connection) }
    }

    private func discard(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        _ = closing
    }

    /// Listens on `channel` on a connection of its own until `stop` (or the database closes); see PostgresListener.
    func listen(channel: String, _ handler: @escaping @Sendable (PostgresNotice) -> Void) throws -> PostgresListener {
        try listeners.withLock { l in
            guard !idle.withLock({ $0.closed }) else { throw PostgresStoreError.closed(database: settings.description) }
            let listener = PostgresListener(channel: channel, loop: group.next(), configuration: configuration, logger: logger,
                                            handler: handler)
            l.append(listener)
            return listener
        }
    }

    /// How every connection of this store is made (made once: the TLS context reads its certificate files at open).
    private let tls: PostgresConnection.Configuration.TLS

    var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let directory = settings.socketDirectory {
            configuration = .init(unixSocketPath: directory + "/.s.PGSQL.\(settings.port)", username: settings.username,
                                  password: settings.password, database: settings.database)
        } else {
            configuration = .init(host: settings.hostAddress ?? settings.host, port: settings.port, username: settings.username,
                                  password: settings.password, database: settings.database, tls: tls)
            // With hostaddr the URL's host is the name the certificate is checked against (and sent by SNI); without
            // it, an IP address host is checked against the certificate's IP addresses.
            if settings.hostAddress != nil, !PostgresSettings.isIPAddress(settings.host) {
                configuration.options.tlsServerName = settings.host
            }
        }
        configuration.options.connectTimeout = settings.connectTimeoutSeconds.map { .seconds(Int64($0)) } ?? .hours(24)
        if let name = settings.applicationName {
            configuration.options.additionalStartupParameters = [("application_name", name)]
        }
        return configuration
    }

    /// PSQLError's own description hides everything (it may carry a query's values); the server's message and
    /// SQLSTATE, or the connection failure, are what an operator needs.
    static func reason(_ error: Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        if error.code == .authMechanismRequiresPassword { return "the server asks for a password and none was found" }
        if error.code == .sslUnsupported {
            return "the server does not accept TLS, which this sslmode requires (the server's ssl setting is off)"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    // MARK: statements

    /// Runs one statement with `?` placeholders (numbered here as $1, $2, …) on `connection`.
    func run(_ connection: PostgresConnection, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .boolean(let value): binds.append(value)
            }
        }
        do {
            return try connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: binds), logger: logger).wait()
        } catch let error as PSQLError {
            // Classes 08 (connection exception) and 57P (the server shutting down or ending this backend) mean the
            // connection is gone, like a socket error without any SQLSTATE.
            guard let state = error.serverInfo?[.sqlState], !state.hasPrefix("08"), !state.hasPrefix("57P") else {
                throw PostgresStoreError.unreachable(database: settings.description, reason: Self.reason(error))
            }
            throw PostgresStoreError.query(sqlState: state, message: Self.reason(error))
        }
    }

    /// `?` → `$1`, `$2`, … outside string literals and quoted names (the store's SQL uses no `?` operators).
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(character)
            }
        }
        return out
    }
}

/// One transaction on one connection, on the thread that opened it.
struct PostgresSession: SQLSession {
    let database: PostgresDatabase
    let connection: PostgresConnection
    var dialect: SQLDialect { .postgres }

    func fetchAll<R: FetchedRecord>(_ type: R.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [R] {
        try database.run(connection, sql, arguments).rows.map { try R(from: PostgresRowDecoder(row: $0.makeRandomAccess())) }
    }

    func scalars<T: SQLScalar>(_ type: T.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [T] {
        try database.run(connection, sql, arguments).rows.map { try $0.makeRandomAccess()[0].decode(T.self) }
    }

    func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int {
        try database.run(connection, sql, arguments).metadata.rows ?? 0
    }

    func insert<R: StoredRecord>(_ record: R) throws -> Int64 {
        let columns = try ColumnEncoder.columns(of: record).filter { $0.name != "seq" }
        let sql = "INSERT INTO \(R.databaseTableName) (" + columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
            + ") VALUES (" + placeholders(columns.count) + ") RETURNING seq"
        guard let seq = try scalar(Int64.self, sql, columns.map(\.value)) else {
            throw PostgresStoreError.query(sqlState: nil, message: "INSERT INTO \(R.databaseTableName) returned no seq")
        }
        return seq
    }

    func update<R: StoredRecord>(_ record: R) throws {
        let all = try ColumnEncoder.columns(of: record)
        guard let id = all.first(where: { $0.name == "id" }) else {
            throw PostgresStoreError.query(sqlState: nil, message: "\(R.self) has no id column to update by")
        }
        let columns = all.filter { $0.name != "seq" && $0.name != "id" }
        let sql = "UPDATE \(R.databaseTableName) SET " + columns.map { "\"\($0.name)\" = ?" }.joined(separator: ", ")
            + " WHERE id = ?"
        try execute(sql, columns.map(\.value) + [id.value])
    }
}
