// The schema, as named and versioned GRDB migrations applied in order at every open.
// Never edit a migration that has shipped: add `v2_jobs`, `v3_…` below instead; GRDB records which ran.
import GRDB

enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: v1)
        return migrator
    }

    /// Projects, API keys and files. Every table has `seq`, an AUTOINCREMENT rowid that never repeats, so
    /// objects created in the same second still have a total order (listings sort by it, not by created_at,
    /// which follows the wall clock and can step backwards). The `default` project is created here, so it
    /// exists from the first open and keeps its id forever.
    private static func v1(_ db: Database) throws {
        try db.create(table: "projects") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("name", .text).notNull().unique()
            t.column("created_at", .integer).notNull()
        }
        try db.create(table: "api_keys") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().indexed().references("projects", column: "id")
            t.column("name", .text)
            t.column("hash", .text).notNull().unique()
            t.column("prefix", .text).notNull()
            t.column("is_admin", .boolean).notNull().defaults(to: false)
            t.column("created_at", .integer).notNull()
            t.column("last_used_at", .integer)
            t.column("revoked_at", .integer)
        }
        try db.create(table: "files") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("filename", .text).notNull()
            t.column("purpose", .text).notNull()
            t.column("bytes", .integer).notNull()
            t.column("created_at", .integer).notNull()
            t.column("status", .text).notNull()
            t.column("status_details", .text)
            t.column("sha256", .text).notNull()
            t.column("expires_at", .integer)
        }
        // Listings filter by project (and often purpose) and page by seq.
        try db.create(index: "files_by_project", on: "files", columns: ["project_id", "seq"])
        try db.create(index: "files_by_project_purpose", on: "files", columns: ["project_id", "purpose", "seq"])

        try ProjectRecord(id: IDGenerator.make(prefix: IDPrefix.project), name: ProjectRecord.defaultName,
                          createdAt: unixNow()).insert(db)
    }
}
