// The store: rows in a database (SQLite under the data directory by default, or PostgreSQL) and the file bytes
// under one data directory. Not the HTTP or job layer: callers pass project ids and names and get records back;
// SQL stays in this target, and nothing above it learns which database it talks to.
import Foundation
import Logging

public final class Store: Sendable {
    // Sendable without @unchecked: every stored property is a constant of a Sendable type. Either database lets
    // any thread run a transaction at any time (see SQLiteDatabase, PostgresDatabase); the little mutable state
    // here sits behind Locked.
    let database: any StoreDatabase
    let layout: DataLayout
    let logger: Logger
    private let directoryLock: Locked<DirectoryLock?>
    let keyCache = KeyCache()
    private let diskUsage = Locked<(bytes: Int, measuredAt: ContinuousClock.Instant)?>(nil)
    /// Called by `addUploadPart` between its check that the Upload is pending and placing the Part: tests put a
    /// competing request there (nil in production).
    let beforePartIsPlaced = Locked<(@Sendable () -> Void)?>(nil)

    /// How long `diskUsageBytes()` reuses a walk of the directory; /v1/status may be polled often.
    static let diskUsageLifetime = Duration.seconds(10)

    /// The data directory, absolute.
    public var dataDirectory: String { layout.root }

    /// DATA/tmp: spool uploads here. A file in it is on the data directory's filesystem, so `createFile(from:)`
    /// takes it with a rename, and a crash that leaves it behind is cleaned up at the next open.
    public var temporaryDirectory: String { layout.temporary }

    private init(database: any StoreDatabase, layout: DataLayout, lock: DirectoryLock, logger: Logger) {
        self.database = database
        self.layout = layout
        self.directoryLock = Locked(lock)
        self.logger = logger
    }

    public static func open(dataDirectory: URL, logger: Logger) throws -> Store {
        try open(dataDirectory: dataDirectory.path, logger: logger)
    }

    /// Opens (creating if missing) the data directory with its SQLite database, tailor.sqlite.
    public static func open(dataDirectory: String, logger: Logger) throws -> Store {
        try open(dataDirectory: dataDirectory, database: .sqlite, logger: logger)
    }

    /// Opens (creating if missing) the data directory: makes tmp/ and files/, opens the database (`.sqlite`:
    /// tailor.sqlite in WAL mode; `.postgres`: a PostgreSQL database, see PostgresDatabase), applies pending
    /// migrations, then repairs what a crash can leave (see Store+Recovery.swift).
    ///
    /// Everything under the data directory is the owner's alone (files 0600, directories 0700): the database holds
    /// key hashes and the files users' data. SQLite, Foundation and the engine create files through the umask, so
    /// opening a store sets the process umask to 077; an open with the directory to itself also tightens what an
    /// earlier version left readable.
    public static func open(dataDirectory: String, database location: DatabaseLocation, logger: Logger) throws -> Store {
        umask(0o077)
        let layout = DataLayout(root: dataDirectory)
        try layout.createDirectories()
        let lock = try DirectoryLock(path: layout.lockFile)
        let database: any StoreDatabase
        switch location {
        case .sqlite:
            try layout.requireNotBound()
            database = try SQLiteDatabase(path: layout.database)
        case .postgres(let settings):
            let postgres = try PostgresDatabase(settings: settings, logger: logger)
            database = postgres
            do {
                let held = FileManager.default.fileExists(atPath: layout.databaseID) ? 0 : try postgres.read { db in
                    try db.scalar(Int.self, "SELECT (SELECT COUNT(*) FROM files) + (SELECT COUNT(*) FROM jobs)") ?? 0
                }
                try layout.bind(toDatabase: postgres.installationID, description: postgres.description, heldRows: held)
            } catch {
                try? postgres.close()
                throw error
            }
        }
        let store = Store(database: database, layout: layout, lock: lock, logger: logger)
        do {
            try store.recover(sweepLeftovers: lock.wasExclusive)
        } catch {
            try? store.close()
            throw error
        }
        if lock.wasExclusive { try lock.share() }
        logger.info("store opened", metadata: ["data_directory": "\(layout.root)", "database": "\(database.description)",
                                               "alone": "\(lock.wasExclusive)"])
        return store
    }

    /// Closes the database and releases the directory lock. Safe to call twice; the store is unusable after.
    public func close() throws {
        try database.close()
        directoryLock.withLock { $0 = nil }
    }

    /// Bytes free to this process on the data directory's filesystem (statvfs), or nil when it cannot be read.
    public func freeBytes() -> Int? {
        var info = statvfs()
        guard statvfs(layout.root, &info) == 0 else { return nil }
        return Int(clamping: UInt64(info.f_bavail) &* UInt64(info.f_frsize))
    }

    /// Bytes used by everything under the data directory (database, WAL, files, temporaries), measured by
    /// walking it at most once every 10 s.
    public func diskUsageBytes() throws -> Int {
        let now = ContinuousClock.now
        if let cached = diskUsage.withLock({ $0 }), now - cached.measuredAt < Self.diskUsageLifetime {
            return cached.bytes
        }
        var total = 0
        let root = layout.root
        for case let relative as String in FileManager.default.enumerator(atPath: root) ?? NSEnumerator() {
            // A file removed during the walk is simply not counted.
            total += try POSIX.status(of: root + "/" + relative).map { $0.isRegularFile ? $0.size : 0 } ?? 0
        }
        diskUsage.withLock { $0 = (total, now) }
        return total
    }
}

/// Which database holds the store's rows; the data directory holds the file bytes either way.
public enum DatabaseLocation: Sendable {
    /// DATA/tailor.sqlite, the embedded default.
    case sqlite
    /// A PostgreSQL database (experimental: one node at a time for now; files stay in the data directory).
    case postgres(PostgresSettings)
}

/// Integer Unix seconds, the unit of every timestamp column (OpenAI's unit too).
func unixNow() -> Int {
    Int(Date().timeIntervalSince1970)
}
