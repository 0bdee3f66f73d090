// Moving a single-box installation onto PostgreSQL (`tailor store migrate`): every row of the SQLite database is
// copied, column by column and with its `seq`, into an empty PostgreSQL database in one transaction; the counts are
// compared before it commits and again after; then the data directory is bound to the new database and tailor.sqlite
// is set aside, so the files, checkpoints and adapters stay where they are and the rows that name them stay valid.
import Foundation
import GRDB
import Logging

public struct InstallationCopy: Sendable {
    /// Tables in the order their foreign keys need (a row's parents are copied before it).
    static let tables = ["projects", "api_keys", "files", "uploads", "jobs", "job_events", "checkpoints", "models", "base_models",
                         "evals", "eval_runs", "eval_output_items", "project_starts"]

    /// What was copied: rows per table, in `tables` order, verified equal on both sides.
    public struct Report: Sendable {
        public var rows: [(table: String, count: Int)]
        /// The PostgreSQL database's installation id, now in DATA/database.id.
        public var databaseID: String
        /// Where the SQLite file now is (kept, not deleted: the way back).
        public var keptSQLite: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case inUse(String)
        case notSQLite(String)
        case targetNotEmpty(String)
        case schemaMismatch(String)
        case countMismatch(String)

        public var description: String {
            switch self {
            case .inUse(let m), .notSQLite(let m), .targetNotEmpty(let m), .schemaMismatch(let m), .countMismatch(let m): m
            }
        }
    }

    /// Copies the installation in `dataDirectory` (which no other Tailor process may have open) into the PostgreSQL
    /// database of `settings` (created by the operator, empty, or holding only what a first `tailor serve` made:
    /// the default project). Nothing is changed on either side unless every row arrived.
    public static func run(dataDirectory: String, to settings: PostgresSettings, logger: Logger,
                           progress: (String) -> Void = { _ in }) throws -> Report {
        umask(0o077)
        let layout = DataLayout(root: dataDirectory)
        guard FileManager.default.fileExists(atPath: layout.database) else {
            if FileManager.default.fileExists(atPath: layout.databaseID) {
                throw Failure.notSQLite("\(layout.root) already belongs to a PostgreSQL database (database.id); there is nothing to migrate")
            }
            throw Failure.notSQLite("\(layout.root) has no tailor.sqlite; pass the data directory of the installation to migrate")
        }
        // The same lock every store takes: exclusive means no `tailor serve` or `tailor keys` has the directory open,
        // so no row changes under the copy and nobody is left writing to the SQLite file afterwards.
        let lock = try DirectoryLock(path: layout.lockFile, exclusiveOnly: true)
        guard lock.wasExclusive else {
            throw Failure.inUse("another Tailor process has \(layout.root) open; stop `tailor serve` (and any `tailor keys` or `tailor models`) first")
        }
        let sqlite = try SQLiteDatabase(path: layout.database)
        let source = try sqlite.pool.read { db in try sourceCounts(db) }
        let postgres = try PostgresDatabase(settings: settings, logger: logger)
        defer { try? postgres.close() }

        try postgres.write { target in
            try requireEmpty(target, settings)
            // The target's own default project (made by its first migration) gives way to the installation's.
            try target.execute("DELETE FROM projects", [])
            for table in tables {
                let types = try columnTypes(table, target)
                try sqlite.pool.read { db in
                    try copy(table, from: db, to: target, types: types)
                }
                // The copied seq values are kept; the sequence goes on after the largest.
                if types["seq"] != nil {
                    try target.execute("SELECT setval(pg_get_serial_sequence('\(table)', 'seq'), COALESCE((SELECT MAX(seq) FROM \(table)), 0) + 1, false)", [])
                }
                progress("\(table): \(source[table] ?? 0) rows")
            }
            let copied = try targetCounts(target)
            guard copied == source else { throw Failure.countMismatch(mismatch(source, copied)) }
        }
        // Read back after the commit, from a new transaction.
        let committed = try postgres.read { try targetCounts($0) }
        guard committed == source else { throw Failure.countMismatch(mismatch(source, committed)) }
        // Everything into the main file, so the copy kept behind is one self-contained file.
        try sqlite.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try sqlite.close()

        // The directory now belongs to PostgreSQL: tailor.sqlite is moved aside (a SQLite store refuses a bound
        // directory, and a bound directory must not hold a live SQLite file), then database.id is written.
        let kept = layout.root + "/tailor.sqlite.migrated"
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: layout.database + suffix) {
            try POSIX.move(layout.database + suffix, to: kept + suffix)
        }
        try layout.record(databaseID: postgres.installationID)
        logger.notice("copied the installation to PostgreSQL",
                      metadata: ["data_directory": "\(layout.root)", "database": "\(postgres.description)",
                                 "rows": "\(source.values.reduce(0, +))"])
        return Report(rows: tables.map { ($0, source[$0] ?? 0) }, databaseID: postgres.installationID, keptSQLite: kept)
    }

    private static func sourceCounts(_ db: Database) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in tables { counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
        return counts
    }

    private static func targetCounts(_ db: any SQLSession) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in tables { counts[table] = try db.scalar(Int.self, "SELECT COUNT(*) FROM \(table)") ?? 0 }
        return counts
    }

    private static func mismatch(_ source: [String: Int], _ target: [String: Int]) -> String {
        let differing = tables.filter { source[$0] != target[$0] }
            .map { "\($0): \(source[$0] ?? 0) in SQLite, \(target[$0] ?? 0) in PostgreSQL" }
        return "the row counts differ after the copy (\(differing.joined(separator: "; "))); nothing was changed"
    }

    /// Only an empty database (apart from the default project its first migration made) may receive a copy: rows
    /// already there would mix two installations.
    private static func requireEmpty(_ db: any SQLSession, _ settings: PostgresSettings) throws {
        var found: [String] = []
        for table in tables where table != "projects" {
            let n = try db.scalar(Int.self, "SELECT COUNT(*) FROM \(table)") ?? 0
            if n > 0 { found.append("\(n) \(table)") }
        }
        let projects = try db.scalars(String.self, "SELECT name FROM projects", [])
        if projects != [ProjectRecord.defaultName] && !projects.isEmpty { found.append("projects \(projects.sorted().joined(separator: ", "))") }
        guard found.isEmpty else {
            throw Failure.targetNotEmpty("\(settings.description) already holds Tailor data (\(found.joined(separator: ", "))); "
                                         + "migrate into a new, empty database")
        }
    }

    /// The target's columns and their PostgreSQL types (the copy converts SQLite's 0/1 to BOOLEAN by them).
    private static func columnTypes(_ table: String, _ db: any SQLSession) throws -> [String: String] {
        let pairs = try db.scalars(String.self, """
            SELECT column_name || ' ' || data_type FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ?
            """, [table])
        return Dictionary(uniqueKeysWithValues: pairs.map { pair in
            let space = pair.firstIndex(of: " ")!
            return (String(pair[..<space]), String(pair[pair.index(after: space)...]))
        })
    }

    /// Copies `table` in seq order (rowid order for a table without seq), a batch of rows per INSERT.
    private static func copy(_ table: String, from db: Database, to target: any SQLSession, types: [String: String]) throws {
        let columns = try db.columns(in: table).map(\.name)
        let key = columns.contains("seq") ? "seq" : "rowid"
        let missing = columns.filter { types[$0] == nil }
        guard missing.isEmpty else {
            throw Failure.schemaMismatch("the PostgreSQL table \(table) has no column \(missing.joined(separator: ", ")); "
                                         + "both databases must be at the same Tailor version")
        }
        let perBatch = max(1, min(500, 30_000 / columns.count))
        let insert = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        let row = "(" + placeholders(columns.count) + ")"
        var lastSeq: Int64 = 0
        while true {
            let rows = try Row.fetchAll(db, sql: "SELECT \(key) AS tailor_copy_key, * FROM \(table) WHERE \(key) > ? ORDER BY \(key) LIMIT \(perBatch)",
                                        arguments: [lastSeq])
            guard let last = rows.last else { return }
            lastSeq = last["tailor_copy_key"]
            var arguments: [any SQLValueConvertible] = []
            arguments.reserveCapacity(rows.count * columns.count)
            for r in rows {
                for column in columns { arguments.append(try value(r[column] as DatabaseValue, type: types[column]!, table, column)) }
            }
            try target.execute(insert + Array(repeating: row, count: rows.count).joined(separator: ", "), arguments)
        }
    }

    private static func value(_ v: DatabaseValue, type: String, _ table: String, _ column: String) throws -> SQLValue {
        switch (v.storage, type) {
        case (.null, _): return .null
        case (.int64(let i), "boolean"): return .boolean(i != 0)
        case (.int64(let i), "bigint"), (.int64(let i), "integer"): return .integer(i)
        case (.string(let s), "text"): return .text(s)
        default:
            throw Failure.schemaMismatch("\(table).\(column) holds \(v) in SQLite, which does not fit its PostgreSQL type \(type)")
        }
    }
}
