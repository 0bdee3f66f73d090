// The embedded engine: one SQLite file under the data directory through a GRDB DatabasePool in WAL mode.
// Not the store's queries (those are in the Store+ files); this is how a transaction reaches SQLite.
import GRDB

final class SQLiteDatabase: StoreDatabase {
    // Sendable without @unchecked: the one stored property is a DatabasePool, which runs writes one at a time on its
    // writer connection and reads concurrently on a pool of readers, so any thread may call any method.
    let pool: DatabasePool

    var description: String { pool.path }

    /// Opens tailor.sqlite with foreign keys on and a 5 s busy timeout, and applies pending migrations (recorded in
    /// grdb_migrations). Two processes opening a file that needs a migration at the same instant is not supported:
    /// the first `tailor serve` of a new version migrates before anything else opens it.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.label = "tailor.store"
        configuration.foreignKeysEnabled = true
        // Another process (`tailor keys …` beside `tailor serve`) may hold the write lock for a moment.
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Migrations.migrator.migrate(pool)
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteSession(db: db)) }
    }

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.write { db in try body(SQLiteSession(db: db)) }
    }

    func writeLater(_ body: @escaping @Sendable (any SQLSession) throws -> Void, failed: @escaping @Sendable (Error) -> Void) {
        pool.asyncWrite({ db in try body(SQLiteSession(db: db)) }, completion: { _, result in
            if case .failure(let error) = result { failed(error) }
        })
    }

    func close() throws {
        try pool.close()
    }
}

struct SQLiteSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func fetchAll<R: FetchedRecord>(_ type: R.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [R] {
        try R.fetchAll(db, sql: sql, arguments: Self.statementArguments(arguments))
    }

    func scalars<T: SQLScalar>(_ type: T.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [T] {
        try T.fetchAll(db, sql: sql, arguments: Self.statementArguments(arguments))
    }

    func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int {
        try db.execute(sql: sql, arguments: Self.statementArguments(arguments))
        return db.changesCount
    }

    func insert<R: StoredRecord>(_ record: R) throws -> Int64 {
        try record.insert(db)
        return db.lastInsertedRowID
    }

    func update<R: StoredRecord>(_ record: R) throws {
        try record.update(db)
    }

    static func statementArguments(_ arguments: [any SQLValueConvertible]) -> StatementArguments {
        StatementArguments(arguments.map { argument -> (any DatabaseValueConvertible)? in
            switch argument.sqlValue {
            case .null: nil
            case .integer(let value): value
            case .text(let value): value
            case .boolean(let value): value
            }
        })
    }
}
