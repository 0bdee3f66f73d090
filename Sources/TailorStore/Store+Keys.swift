// API keys: create, list, revoke, authenticate, and the two ways the first admin key comes to exist.
// Not the HTTP auth middleware: that reads the Bearer token and calls `authenticate`; it lives in TailorAPI.
import Crypto
import Foundation
import Glibc

extension Store {
    /// Creates a key in project `project` (a name; the project is created if missing). The secret is returned
    /// once and never stored: only its SHA-256 and a display prefix are.
    public func createKey(project: String, name: String?, admin: Bool) throws -> (key: APIKeyRecord, secret: String) {
        let name = name.flatMap { $0.isEmpty ? nil : $0 }
        if let name, !Self.isValidKeyName(name) { throw StoreError.invalidKeyName(name) }
        let secret = IDGenerator.make(prefix: IDPrefix.secret, length: 40)
        let key = try database.write { db in
            let project = try Self.ensureProject(named: project, db)
            let id = try Self.insertKey(secret: secret, projectID: project.id, name: name, admin: admin, db)
            return try Self.key(id: id, db)!
        }
        logger.info("API key created", metadata: ["key_id": "\(key.id)", "project": "\(key.projectName)",
                                                  "admin": "\(admin)"])
        return (key, secret)
    }

    /// Makes `secret` (from `tailor serve --api-key` or TAILOR_API_KEY) a valid admin key of project
    /// `default`. Idempotent: the first call inserts it, later ones (every restart) find it. Configuration
    /// wins over the database: if the key was revoked, demoted or moved, it is restored, and that is logged.
    public func ensureAdminKey(secret: String) throws {
        try Self.validateGivenSecret(secret)
        let hash = Self.hash(secret: secret)
        let restoredID: String? = try database.write { db in
            let project = try Self.ensureProject(named: ProjectRecord.defaultName, db)
            guard let existing = try db.fetchOne(KeyAccess.self, "SELECT * FROM api_keys WHERE hash = ?" + db.dialect.forUpdate,
                                                 [hash]) else {
                _ = try Self.insertKey(secret: secret, projectID: project.id, name: "--api-key", admin: true, db)
                return nil
            }
            let valid = existing.projectID == project.id && existing.isAdmin && existing.revokedAt == nil
            if valid { return nil }
            try db.execute("UPDATE api_keys SET project_id = ?, is_admin = ?, revoked_at = NULL WHERE id = ?",
                           [project.id, true, existing.id])
            return existing.id
        }
        if let restoredID {
            markKeysChanged()
            logger.warning("the configured API key was revoked or not an admin key of project default; restored it",
                           metadata: ["key_id": "\(restoredID)"])
        }
    }

    /// First start without a configured key: if no unrevoked admin key exists, creates one, writes its secret
    /// to DATA/admin.key (mode 0600, atomically) and returns it for the caller to print once. Returns nil when
    /// an admin key exists, so later starts print nothing. Revoking every admin key makes the next start mint
    /// a new one: that is the way back in for an operator who locked themselves out.
    public func bootstrapAdminKeyIfNeeded() throws -> String? {
        let layout = self.layout
        let secret: String? = try database.write { db in
            let admins = try db.scalar(Int.self, "SELECT COUNT(*) FROM api_keys WHERE is_admin AND revoked_at IS NULL")
            guard admins == 0 else { return nil }
            let secret = IDGenerator.make(prefix: IDPrefix.secret, length: 40)
            // The file before the commit: a crash in between leaves a secret that matches no row, and the
            // next start, still finding no admin key, simply writes a new one over it.
            _ = try AtomicFiles.write(Array((secret + "\n").utf8),
                                      via: layout.temporaryPath("admin.key." + IDGenerator.make(prefix: "", length: 8)),
                                      to: layout.adminKey, mode: 0o600)
            let project = try Self.ensureProject(named: ProjectRecord.defaultName, db)
            _ = try Self.insertKey(secret: secret, projectID: project.id, name: "bootstrap admin", admin: true, db)
            return secret
        }
        if secret != nil {
            logger.notice("no admin key existed; created one and wrote it to admin.key",
                          metadata: ["path": "\(layout.adminKey)"])
        }
        return secret
    }

    /// Every key, revoked ones included, oldest first.
    public func listKeys() throws -> [APIKeyRecord] {
        try database.read { db in
            try db.fetchAll(APIKeyRecord.self, APIKeyRecord.selectSQL + " ORDER BY api_keys.seq", [])
        }
    }

    /// Revokes a key; revoking a revoked key keeps its first revocation time. Every process stops accepting it with
    /// its next request.
    public func revokeKey(id: String) throws {
        try database.write { db in
            guard try Self.key(id: id, db) != nil else { throw StoreError.unknownKey(id) }
            try db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [unixNow(), id])
        }
        markKeysChanged()
        logger.info("API key revoked", metadata: ["key_id": "\(id)"])
    }

    /// The principal of an unrevoked key with this secret, or nil. Called on every request: a cache hit costs a
    /// stat of DATA/keys.changed, a miss one indexed read by hash; a key revoked by any process (`tailor keys revoke`
    /// beside the server) fails on the very next request (see KeyCache). `last_used_at` is written at most once a
    /// minute per key, asynchronously on the writer queue, so a request never waits for a write.
    public func authenticate(secret: String) throws -> Principal? {
        let hash = Self.hash(secret: secret)
        // Read before the database, so a change committed in between is seen at the latest by the next request.
        let version = keysVersion()
        if let principal = keyCache.principal(forHash: hash, version: version) { return principal }
        let row = try database.read { db in
            try db.fetchOne(APIKeyRecord.self, APIKeyRecord.selectSQL + " WHERE hash = ? AND revoked_at IS NULL", [hash])
        }
        guard let row else { return nil }
        let principal = Principal(keyID: row.id, projectID: row.projectID, projectName: row.projectName, isAdmin: row.isAdmin)
        let lastUsedAt = row.lastUsedAt
        let seconds = unixNow()
        if seconds - (lastUsedAt ?? 0) >= 60 { recordUse(keyID: principal.keyID, at: seconds) }
        keyCache.insert(principal, forHash: hash, version: version)
        return principal
    }

    private func recordUse(keyID: String, at seconds: Int) {
        let logger = self.logger
        database.writeLater({ db in
            try db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                           [seconds, keyID, seconds])
        }, failed: { error in
            logger.warning("could not record an API key's last use", metadata: ["key_id": "\(keyID)", "error": "\(error)"])
        })
    }

    /// Lowercase hex SHA-256 of the secret's UTF-8: what the `hash` column holds and lookups use.
    static func hash(secret: String) -> String {
        hexDigest(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Enough of the secret to tell keys apart in a listing: at most 14 characters and never more than a third.
    static func displayPrefix(of secret: String) -> String {
        String(secret.prefix(min(14, secret.count / 3))) + "…"
    }

    private static func insertKey(secret: String, projectID: String, name: String?, admin: Bool, _ db: any SQLSession) throws -> String {
        let id = IDGenerator.make(prefix: IDPrefix.apiKey)
        try db.execute("""
            INSERT INTO api_keys (id, project_id, name, hash, prefix, is_admin, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [id, projectID, name, hash(secret: secret), displayPrefix(of: secret), admin, unixNow()])
        return id
    }

    private static func key(id: String, _ db: any SQLSession) throws -> APIKeyRecord? {
        try db.fetchOne(APIKeyRecord.self, APIKeyRecord.selectSQL + " WHERE api_keys.id = ?", [id])
    }

    /// The columns of a key row that decide whether it grants admin access.
    private struct KeyAccess: FetchedRecord {
        var id: String
        var projectID: String
        var isAdmin: Bool
        var revokedAt: Int?
        enum CodingKeys: String, CodingKey {
            case id, projectID = "project_id", isAdmin = "is_admin", revokedAt = "revoked_at"
        }
    }

    private static func isValidKeyName(_ name: String) -> Bool {
        name.count <= 128 && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// An operator-chosen secret: long enough not to be guessed, and without whitespace, which in an
    /// environment variable is nearly always a copy-paste accident that would make the key never match.
    private static func validateGivenSecret(_ secret: String) throws {
        guard secret.count >= 16 else {
            throw StoreError.invalidSecret(reason: "it is \(secret.count) characters, fewer than 16; use a longer one, "
                                           + "e.g. from `openssl rand -hex 24`")
        }
        guard !secret.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) else {
            throw StoreError.invalidSecret(reason: "it contains whitespace or control characters; remove them (check for a trailing newline)")
        }
    }
}

extension Store {
    /// How many key changes that can take access away have been committed, by any process: DATA/keys.changed grows
    /// by a byte with each, so its size is a counter that a stat reads.
    func keysVersion() -> Int {
        var info = stat()
        return stat(layout.keysChanged, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Called after such a change has committed.
    func markKeysChanged() {
        let fd = Glibc.open(layout.keysChanged, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else {
            logger.error("cannot record a key change; other processes may accept the old key until they restart",
                         metadata: ["path": "\(layout.keysChanged)", "errno": "\(errno)"])
            return
        }
        var byte: UInt8 = 0x2E
        _ = Glibc.write(fd, &byte, 1)
        Glibc.close(fd)
    }
}
