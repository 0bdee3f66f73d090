// The values the store hands out: projects, API keys, the authenticated principal, files, a page of files.
// Not wire types: the API layer turns these into OpenAI's JSON; timestamps are integer Unix seconds throughout.
import GRDB

public struct ProjectRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "projects"
    public static let defaultName = "default"

    public var id: String
    public var name: String
    public var createdAt: Int

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }
}

/// An API key as listed; the secret is never stored, only its SHA-256 and a display prefix.
public struct APIKeyRecord: Sendable, Equatable, FetchableRecord, Decodable {
    public var id: String
    public var projectID: String
    public var projectName: String
    public var name: String?
    /// The first few characters of the secret and "…", enough to recognise a key, too few to use it.
    public var prefix: String
    public var isAdmin: Bool
    public var createdAt: Int
    /// Written at most once a minute per key (see `Store.authenticate`), so it can lag by up to a minute.
    public var lastUsedAt: Int?
    public var revokedAt: Int?

    public var isRevoked: Bool { revokedAt != nil }

    /// Decodes a row of `APIKeyRecord.selectSQL`.
    public init(row: Row) {
        id = row["id"]
        projectID = row["project_id"]
        projectName = row["project_name"]
        name = row["name"]
        prefix = row["prefix"]
        isAdmin = row["is_admin"]
        createdAt = row["created_at"]
        lastUsedAt = row["last_used_at"]
        revokedAt = row["revoked_at"]
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix
        case projectID = "project_id", projectName = "project_name", isAdmin = "is_admin", createdAt = "created_at"
        case lastUsedAt = "last_used_at", revokedAt = "revoked_at"
    }

    static let selectSQL = """
        SELECT api_keys.*, projects.name AS project_name
        FROM api_keys JOIN projects ON projects.id = api_keys.project_id
        """
}

/// Who is calling: what `Store.authenticate` returns for a valid, unrevoked key.
public struct Principal: Sendable, Equatable {
    public var keyID: String
    public var projectID: String
    public var projectName: String
    public var isAdmin: Bool

    public init(keyID: String, projectID: String, projectName: String, isAdmin: Bool) {
        self.keyID = keyID; self.projectID = projectID; self.projectName = projectName; self.isAdmin = isAdmin
    }
}

public enum FileStatus: String, Sendable, Codable, DatabaseValueConvertible {
    case processed
    /// The bytes are unusable (missing or the wrong size on disk); `statusDetails` says why.
    case error
}

public struct FileRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "files"

    public var id: String
    public var projectID: String
    public var filename: String
    public var purpose: String
    public var bytes: Int
    public var createdAt: Int
    public var status: FileStatus
    public var statusDetails: String?
    /// Lowercase hex SHA-256 of the stored bytes, computed while they were written.
    public var sha256: String
    public var expiresAt: Int?

    enum CodingKeys: String, CodingKey {
        case id, filename, purpose, bytes, status, sha256
        case projectID = "project_id"
        case createdAt = "created_at"
        case statusDetails = "status_details"
        case expiresAt = "expires_at"
    }
}

/// An Upload (OpenAI's Uploads API): a file sent in parts, then completed into a File. `status` is stored as
/// pending, completed, cancelled or expired; a pending row past `expiresAt` reads as expired before the sweep marks it.
public struct UploadRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "uploads"

    public var id: String
    public var projectID: String
    public var filename: String
    public var purpose: String
    public var mimeType: String
    /// The size announced at creation; the completed parts must add up to it.
    public var bytes: Int
    public var createdAt: Int
    public var expiresAt: Int
    public var status: String
    /// The File made at completion.
    public var fileID: String?
    /// The File's `expires_after` seconds, if the Upload asked for one.
    public var fileExpiresAfter: Int?

    enum CodingKeys: String, CodingKey {
        case id, filename, purpose, bytes, status
        case projectID = "project_id"
        case mimeType = "mime_type"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case fileID = "file_id"
        case fileExpiresAfter = "file_expires_after"
    }

    /// What a reader sees: a pending Upload past its expiry is expired.
    public func status(at now: Int) -> String { status == "pending" && now >= expiresAt ? "expired" : status }
}

/// A Part of an Upload: its bytes are DATA/uploads/<upload id>/<part id>, nothing else records it.
public struct UploadPartRecord: Sendable, Equatable {
    public var id: String
    public var uploadID: String
    public var createdAt: Int
    public var bytes: Int
}

public enum ListOrder: String, Sendable {
    case asc, desc
}

/// One page of a cursor listing; `hasMore` is exact (the store fetched one more row than it returns).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var hasMore: Bool
}
