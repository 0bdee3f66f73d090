// Projects: the unit of isolation. Every key and file belongs to one; nothing crosses between them.
// Not tenants with settings or quotas (yet): a project is an id, a unique name and a creation time.

extension Store {
    public func listProjects() throws -> [ProjectRecord] {
        try database.read { db in try db.fetchAll(ProjectRecord.self, "SELECT * FROM projects ORDER BY seq", []) }
    }

    public func project(named name: String) throws -> ProjectRecord? {
        try database.read { db in try Self.project(named: name, db) }
    }

    /// The project called `name`, created if missing (the `default` project always exists: migration v1 makes it).
    public func ensureProject(named name: String) throws -> ProjectRecord {
        try database.write { db in try Self.ensureProject(named: name, db) }
    }

    static func project(named name: String, _ db: any SQLSession) throws -> ProjectRecord? {
        try db.fetchOne(ProjectRecord.self, "SELECT * FROM projects WHERE name = ?", [name])
    }

    /// Two writers may create the same name at once (two processes on one PostgreSQL database): the loser's insert
    /// does nothing and it reads the winner's row.
    static func ensureProject(named name: String, _ db: any SQLSession) throws -> ProjectRecord {
        if let existing = try project(named: name, db) { return existing }
        guard isValidProjectName(name) else { throw StoreError.invalidProjectName(name) }
        try db.execute("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                       [IDGenerator.make(prefix: IDPrefix.project), name, unixNow()])
        guard let project = try project(named: name, db) else { throw StoreError.unknownProject(name) }
        return project
    }

    static func projectExists(id: String, _ db: any SQLSession) throws -> Bool {
        try db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM projects WHERE id = ?)", [id]) ?? false
    }

    /// Names appear in commands and logs, so they stay short and shell-safe.
    static func isValidProjectName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}
