// What `Store.open` repairs after a crash: temporaries in tmp/, bytes in files/ without a row, rows without bytes.
// Not a consistency checker for bytes' content: sizes are compared, hashes are not re-read (uploads are big).
import Foundation
import Logging

extension Store {
    /// `sweepLeftovers` is true only when this store has the directory to itself (see DirectoryLock): with
    /// another store open, tmp/ and unreferenced bytes may be its writes in flight.
    func recover(sweepLeftovers: Bool) throws {
        if sweepLeftovers {
            try sweepTemporaries()
            try sweepOrphanedBytes()
            restrictPermissions()
        }
        try markFilesWithBadBytes()
    }

    /// Takes group and other permissions away from everything this user owns under the data directory (earlier
    /// versions created the database, checkpoints and adapters world-readable).
    private func restrictPermissions() {
        var paths = [layout.root]
        if let walker = FileManager.default.enumerator(atPath: layout.root) {
            while let relative = walker.nextObject() as? String { paths.append(layout.root + "/" + relative) }
        }
        for path in paths {
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & 0o077 != 0, info.st_uid == getuid() else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            if info.st_mode & S_IFMT == S_IFLNK { continue }
            if chmod(path, isDirectory ? 0o700 : 0o600) != 0 {
                logger.warning("could not make a data file private", metadata: ["path": "\(path)", "errno": "\(errno)"])
            }
        }
    }

    /// Everything in tmp/ is an unfinished write of a process that is gone.
    private func sweepTemporaries() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: layout.temporary) {
            removeLeftover(layout.temporaryPath(name), "removed a temporary left by an earlier run")
        }
    }

    /// Bytes without a row: a crash between the rename into files/ and the insert, or between a row's delete
    /// and its unlink. Nothing can reference them, so they go.
    private func sweepOrphanedBytes() throws {
        let known = try database.read { db in Set(try db.scalars(String.self, "SELECT id FROM files", [])) }
        for name in try FileManager.default.contentsOfDirectory(atPath: layout.files) where !known.contains(name) {
            removeLeftover(layout.filePath(id: name), "removed bytes that no file row references (left by a crash)")
        }
    }

    private func removeLeftover(_ path: String, _ message: Logger.Message) {
        do {
            try FileManager.default.removeItem(atPath: path)
            logger.notice(message, metadata: ["path": "\(path)"])
        } catch {
            logger.error("could not remove a crash leftover; remove it by hand",
                         metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// A row whose bytes are gone or the wrong size cannot happen through this store (bytes are placed before
    /// the row is inserted and removed after it is deleted), so someone changed files/ behind its back. Such a
    /// file is marked `error` with the reason rather than served or allowed to crash a job later.
    private func markFilesWithBadBytes() throws {
        let rows = try database.read { db in
            try db.fetchAll(FileSize.self, "SELECT id, bytes FROM files WHERE status = ?", [FileStatus.processed])
        }
        var broken: [(id: String, details: String)] = []
        for row in rows {
            let id = row.id
            let expected = row.bytes
            let path = layout.filePath(id: id)
            guard let found = try POSIX.status(of: path) else {
                broken.append((id, "The bytes of this file are missing from the data directory (files/\(id)); "
                               + "they were removed outside Tailor. Delete the file and upload it again."))
                continue
            }
            if found.size != expected {
                broken.append((id, "The bytes of this file on disk are \(found.size) bytes, not the \(expected) "
                               + "uploaded; files/\(id) was changed outside Tailor. Delete the file and upload it again."))
            }
        }
        guard !broken.isEmpty else { return }
        for file in broken {
            logger.error("file bytes missing or damaged; marked as error", metadata: [
                "file_id": "\(file.id)", "details": "\(file.details)"])
        }
        try database.write { db in
            for file in broken {
                // `status = processed` again: a concurrent delete may have removed the row meanwhile.
                try db.execute("""
                    UPDATE files SET status = ?, status_details = ? WHERE id = ? AND status = ?
                    """, [FileStatus.error, file.details, file.id, FileStatus.processed])
            }
        }
    }

    private struct FileSize: FetchedRecord {
        var id: String
        var bytes: Int
    }
}
