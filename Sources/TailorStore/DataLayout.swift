// Where things live under the data directory, and the lock that tells one store process from several.
// Not policy: what may be removed at open is decided in Store+Recovery.swift.
import Foundation

/// DATA/tailor.sqlite (+ -wal, -shm) or DATA/database.id, DATA/files/<file id>, DATA/tmp/ for in-progress writes,
/// DATA/admin.key for the bootstrap secret, DATA/store.lock held by every open store.
struct DataLayout: Sendable {
    let root: String

    init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
    }

    var database: String { root + "/tailor.sqlite" }
    /// Bytes of the files table and nothing else: anything here without a row is an orphan to sweep.
    var files: String { root + "/files" }
    /// Half-written things; nothing in here is ever referenced, so an open with the directory to itself empties it.
    var temporary: String { root + "/tmp" }
    var adminKey: String { root + "/admin.key" }
    var lockFile: String { root + "/store.lock" }
    /// With PostgreSQL: which database this directory's files belong to (see `bind(toDatabase:)`).
    var databaseID: String { root + "/database.id" }
    /// Grows by a byte whenever a key loses or changes its access: the key cache's cross-process counter.
    var keysChanged: String { root + "/keys.changed" }

    func filePath(id: String) -> String { files + "/" + id }
    /// Parts of Uploads not yet completed: DATA/uploads/<upload id>/<part id>, the part's bytes (Store+Uploads).
    var uploads: String { root + "/uploads" }
    func uploadDirectory(id: String) -> String { uploads + "/" + id }

    func temporaryPath(_ name: String) -> String { temporary + "/" + name }

    /// With PostgreSQL the rows are not in the directory, so nothing ties the two together unless this does: the
    /// recovery at open removes bytes that no row names and marks rows whose bytes are missing, so one directory
    /// opened with the wrong database (a mistyped URL, a SQLite directory pointed at PostgreSQL) would lose its files
    /// or damage the other's rows. The first open of an empty directory records the database's id in database.id;
    /// any other combination is refused before anything is touched.
    ///
    /// `heldRows` (files and jobs the database already has): a directory without database.id next to a database that
    /// has them is not new — it is most likely a shared directory that is not mounted, and binding it would mark
    /// every file failed — so it is refused too.
    func bind(toDatabase id: String, description: String, heldRows: Int) throws {
        let recorded = try? String(contentsOfFile: databaseID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        if let recorded {
            guard recorded == id else {
                throw StoreError.wrongDataDirectory("\(root) holds the files of another PostgreSQL database (id \(recorded)), "
                                                    + "not of \(description) (id \(id)); pass the data directory that belongs to it")
            }
            return
        }
        if FileManager.default.fileExists(atPath: database) {
            throw StoreError.wrongDataDirectory("\(root) is a SQLite installation (tailor.sqlite); its rows are not in "
                                                + "\(description). Use a new, empty data directory for PostgreSQL")
        }
        guard try FileManager.default.contentsOfDirectory(atPath: files).isEmpty else {
            throw StoreError.wrongDataDirectory("\(root) holds files but no database.id, so which database they belong to "
                                                + "is unknown; use a new, empty data directory for \(description)")
        }
        guard heldRows == 0 else {
            throw StoreError.wrongDataDirectory("\(root) has no database.id, but \(description) (id \(id)) already holds "
                                                + "\(heldRows) files and jobs whose bytes live in its data directory; pass that "
                                                + "directory (is the shared directory mounted?)")
        }
        try record(databaseID: id)
    }

    /// Writes database.id (atomically): from now on this directory opens only with that database.
    func record(databaseID id: String) throws {
        _ = try AtomicFiles.write(Array((id + "\n").utf8), via: temporaryPath("database.id." + IDGenerator.make(prefix: "", length: 8)),
                                  to: databaseID)
    }

    /// A directory bound to PostgreSQL must not be opened with a new SQLite database beside it (its files would all
    /// look unreferenced and be swept).
    func requireNotBound() throws {
        if let recorded = try? String(contentsOfFile: databaseID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) {
            throw StoreError.wrongDataDirectory("\(root) belongs to a PostgreSQL database (id \(recorded)); pass its "
                                                + "--database postgres://… URL (or TAILOR_DATABASE_URL)")
        }
    }

    /// Creates the directories that are missing, readable by the owner only (the database holds key hashes).
    func createDirectories() throws {
        for directory in [root, files, temporary, uploads] {
            try POSIX.makeDirectory(directory, mode: 0o700)
        }
    }
}

/// An advisory lock on DATA/store.lock, held for the store's lifetime. The first store to open a directory
/// gets it exclusively and may sweep crash leftovers; a store opened while another runs (`tailor keys` next
/// to `tailor serve`) gets it shared and must not touch tmp/ or unreferenced bytes, which may be that other
/// process's writes in flight.
final class DirectoryLock {
    private let file: FileDescriptor
    let wasExclusive: Bool

    /// `exclusiveOnly`: when another store holds the directory, take nothing (`wasExclusive` false) rather than
    /// waiting for a shared lock; for whoever needs the directory to itself or not at all.
    init(path: String, exclusiveOnly: Bool = false) throws {
        file = try FileDescriptor(path: path, flags: O_RDWR | O_CREAT, mode: 0o600)
        if try file.lock(exclusive: true, nonBlocking: true) {
            wasExclusive = true
        } else {
            if !exclusiveOnly { _ = try file.lock(exclusive: false, nonBlocking: false) }
            wasExclusive = false
        }
    }

    /// Lets other stores open alongside once the sweep is done. flock converts by unlocking first, so another
    /// opener may briefly get the exclusive lock here; that is harmless, this store has nothing in flight yet.
    func share() throws {
        _ = try file.lock(exclusive: false, nonBlocking: false)
    }
}
