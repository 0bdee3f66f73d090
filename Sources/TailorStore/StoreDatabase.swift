// The seam between the store and its SQL engine: transactions, and a session that runs one dialect's SQL inside one.
// Store's methods write each query once, in the SQL that SQLite and PostgreSQL share; the few spellings that differ
// (JSON fields, the clock, row locks) come from `SQLDialect`. Not an ORM: the SQL stays visible in the Store+ files.
import GRDB
import PostgresNIO

/// A bound value: the only kinds the schema uses (TEXT, INTEGER for numbers and Unix seconds, BOOLEAN).
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case boolean(Bool)
}

protocol SQLValueConvertible {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLValueConvertible { var sqlValue: SQLValue { self } }

extension String: SQLValueConvertible { var sqlValue: SQLValue { .text(self) } }
extension Int: SQLValueConvertible { var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLValueConvertible { var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLValueConvertible { var sqlValue: SQLValue { .boolean(self) } }
extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    var sqlValue: SQLValue { map(\.sqlValue) ?? .null }
}
extension SQLValueConvertible where Self: RawRepresentable, RawValue == String {
    var sqlValue: SQLValue { .text(rawValue) }
}
extension JobStatus: SQLValueConvertible {}
extension EvalRunStatus: SQLValueConvertible {}
extension FileStatus: SQLValueConvertible {}

/// A value one column of a result decodes to (a count, an id, a flag).
protocol SQLScalar: DatabaseValueConvertible, PostgresDecodable {}
extension String: SQLScalar {}
extension Int: SQLScalar {}
extension Int64: SQLScalar {}
extension Bool: SQLScalar {}

/// A row type the store reads: Decodable for PostgreSQL, a GRDB record for SQLite.
typealias FetchedRecord = FetchableRecord & Decodable
/// A row type the store also writes whole, to its table.
typealias StoredRecord = FetchableRecord & PersistableRecord & Codable & Sendable

/// What differs between the two engines' SQL, as fragments the queries splice in.
struct SQLDialect: Sendable {
    /// The current time in integer Unix seconds, evaluated by the database.
    let nowSeconds: String
    /// Appended to a SELECT that a read-modify-write transaction goes on to update: PostgreSQL locks the rows
    /// (another writer waits for this commit instead of overwriting it); SQLite has one writer at a time anyway.
    let forUpdate: String
    /// The current time in integer Unix milliseconds, by the database's clock (leases: every node compares against
    /// one clock, so hosts' clocks need not agree).
    let nowMilliseconds: String
    /// Appended to the queue's SELECT of the next row of `table` to claim (a job, an eval run): PostgreSQL locks the
    /// row it returns and skips rows another claim has locked, so concurrent workers never wait on nor take the same
    /// one. SQLite has one writer.
    let claimLock: @Sendable (_ table: String) -> String
    /// Run before appending to a table that readers follow by `seq` (job events): PostgreSQL hands out sequence
    /// numbers at insert, not at commit, so without it a reader that has seen seq 8 could miss a 7 committed later.
    /// The lock is held to the commit, making seq order commit order. SQLite commits one writer at a time anyway.
    let beforeAppend: String?
    /// Run in a transaction that changes a job or appends to its events, with the job's id: PostgreSQL sends it to
    /// the listeners of the job channel when (and only if) the transaction commits (Store.watchJobChanges). SQLite
    /// has no notifications: its readers poll.
    let notifyJob: String?
    /// `column`'s JSON member `key` as text, with the argument to bind for the key.
    let jsonText: @Sendable (_ column: String, _ key: String) -> (sql: String, argument: SQLValue)
    /// `column`'s JSON member `key` as a number (for comparisons).
    let jsonNumber: @Sendable (_ column: String, _ key: String) -> String

    static let sqlite = SQLDialect(
        nowSeconds: "CAST(strftime('%s','now') AS INTEGER)",
        forUpdate: "",
        nowMilliseconds: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        claimLock: { _ in "" },
        beforeAppend: nil,
        notifyJob: nil,
        jsonText: { column, key in
            ("json_extract(\(column), ?)", .text("$.\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\""))
        },
        jsonNumber: { column, key in "json_extract(\(column), '$.\(key)')" })

    static let postgres = SQLDialect(
        nowSeconds: "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
        forUpdate: " FOR UPDATE",
        nowMilliseconds: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        claimLock: { " FOR UPDATE OF \($0) SKIP LOCKED" },
        beforeAppend: "SELECT pg_advisory_xact_lock(\(PostgresMigrations.eventsLockKey))",
        notifyJob: "SELECT pg_notify('\(Store.jobChannel)', ?)",
        jsonText: { column, key in ("(CAST(\(column) AS jsonb) ->> ?)", .text(key)) },
        jsonNumber: { column, key in "CAST(CAST(\(column) AS jsonb) -> '\(key)' AS numeric)" })
}

/// One transaction's worth of SQL, with `?` placeholders. Not Sendable: it lives on the thread that opened it.
protocol SQLSession {
    var dialect: SQLDialect { get }
    func fetchAll<R: FetchedRecord>(_ type: R.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [R]
    func scalars<T: SQLScalar>(_ type: T.Type, _ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [T]
    /// Runs a statement; returns how many rows it changed.
    @discardableResult func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int
    /// Inserts `record` (its `seq`, if any, assigned by the database) and returns the new row's `seq`.
    @discardableResult func insert<R: StoredRecord>(_ record: R) throws -> Int64
    /// Writes every column of `record` to the row with its `id`.
    func update<R: StoredRecord>(_ record: R) throws
}

extension SQLSession {
    func fetchOne<R: FetchedRecord>(_ type: R.Type, _ sql: String, _ arguments: [any SQLValueConvertible] = []) throws -> R? {
        try fetchAll(type, sql, arguments).first
    }

    func scalar<T: SQLScalar>(_ type: T.Type, _ sql: String, _ arguments: [any SQLValueConvertible] = []) throws -> T? {
        try scalars(type, sql, arguments).first
    }

    /// `R`'s row with this id (every table's ids are unique).
    func row<R: StoredRecord>(_ type: R.Type, id: String, forUpdate: Bool = false) throws -> R? {
        try fetchOne(type, "SELECT * FROM \(R.databaseTableName) WHERE id = ?" + (forUpdate ? dialect.forUpdate : ""),
                     [id])
    }
}

/// Where the store's rows live. Transactions run `body` on the calling thread and return its result; a write
/// commits when `body` returns and rolls back when it throws.
protocol StoreDatabase: Sendable {
    /// Names the database for logs and errors (never with a password).
    var description: String { get }
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// A write nobody waits for (bookkeeping such as a key's last use); `failed` hears about an error.
    func writeLater(_ body: @escaping @Sendable (any SQLSession) throws -> Void, failed: @escaping @Sendable (Error) -> Void)
    func close() throws
}

/// A list of `?` marks for an IN clause of `count` values.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ",")
}
