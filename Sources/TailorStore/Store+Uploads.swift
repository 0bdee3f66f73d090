// Uploads (OpenAI's Uploads API): a file announced with its size, sent in Parts of up to 64 MB, then completed —
// the Parts joined in the order given — into a File like any upload. The row says where an Upload stands; a Part is
// its bytes alone, DATA/uploads/<upload id>/<part id>, placed by rename (so a Part is there whole or not at all) and
// removed with its Upload's directory when the Upload completes, is cancelled or expires (an hour after creation).
// Several nodes may take Parts of one Upload: the status changes are single statements on the row, so of a cancel
// and a completion racing each other exactly one wins, and the loser leaves nothing behind.
import Crypto
import Foundation

/// Why an Upload refused a request; the API answers each with a 400 naming the parameter.
public enum UploadError: Error, Equatable, CustomStringConvertible {
    /// The Upload is completed, cancelled or expired (the status it has).
    case notPending(id: String, status: String)
    case unknownPart(String)
    case repeatedPart(String)
    case noParts
    /// The Parts named add up to `got` bytes, not the `expected` announced at creation.
    case sizeMismatch(expected: Int, got: Int)
    case checksumMismatch(expected: String, got: String)

    public var description: String {
        switch self {
        case .notPending(let id, let status): "Upload \(id) is \(status): it takes no more Parts and cannot be \(status == "completed" ? "completed again" : "completed")."
        case .unknownPart(let id): "No Part \(id) was added to this Upload."
        case .repeatedPart(let id): "Part \(id) is named more than once."
        case .noParts: "Name at least one Part to complete an Upload."
        case .sizeMismatch(let expected, let got): "The Parts named hold \(got) bytes; the Upload was created for \(expected) bytes."
        case .checksumMismatch(let expected, let got): "The MD5 of the Parts is \(got), not the md5 given (\(expected))."
        }
    }
}

extension Store {
    /// OpenAI's limits: an Upload holds at most 8 GB and expires an hour after it was created.
    public static let uploadMaxBytes = 8 << 30
    public static let uploadLifetimeSeconds = 3600

    public func createUpload(project: String, filename: String, purpose: String, mimeType: String, bytes: Int,
                             fileExpiresAfter: Int?) throws -> UploadRecord {
        try requireProject(project)
        let now = unixNow()
        let upload = UploadRecord(id: IDGenerator.make(prefix: IDPrefix.upload), projectID: project, filename: filename,
                                  purpose: purpose, mimeType: mimeType, bytes: bytes, createdAt: now,
                                  expiresAt: now + Self.uploadLifetimeSeconds, status: "pending", fileID: nil,
                                  fileExpiresAfter: fileExpiresAfter)
        _ = try database.write { db in try db.insert(upload) }
        return upload
    }

    /// The Upload, or nil if this project has none with this id.
    public func upload(id: String, project: String) throws -> UploadRecord? {
        try database.read { db in
            try db.fetchOne(UploadRecord.self, "SELECT * FROM uploads WHERE id = ? AND project_id = ?", [id, project])
        }
    }

    /// Takes the bytes at `source` (spooled on the data directory's filesystem: moved, not copied) as a new Part.
    public func addUploadPart(upload id: String, project: String, from source: String) throws -> UploadPartRecord {
        let upload = try pendingUpload(id: id, project: project)
        beforePartIsPlaced.withLock { $0 }?()
        let directory = layout.uploadDirectory(id: upload.id)
        try POSIX.makeDirectory(directory, mode: 0o700)
        let part = IDGenerator.make(prefix: IDPrefix.uploadPart)
        let path = directory + "/" + part
        let placed = try POSIX.status(of: source)?.isRegularFile == true
            && POSIX.device(of: source) == POSIX.device(of: layout.uploads)
            ? try AtomicFiles.adopt(source, to: path)
            : try AtomicFiles.copy(source, via: layout.temporaryPath(part + ".part"), to: path)
        // A cancel or completion that came while the bytes were placed has removed (or will ignore) the directory:
        // take this Part back rather than leave it there, and the directory too if this Part had made it again.
        do {
            _ = try pendingUpload(id: id, project: project, orRemove: path)
        } catch {
            rmdir(directory)
            throw error
        }
        return UploadPartRecord(id: part, uploadID: upload.id, createdAt: unixNow(), bytes: placed.count)
    }

    /// Joins the Parts named, in that order, into one file in the store's temporary directory (checked against the
    /// announced size and, if given, an MD5 in hex) and returns its path; the caller checks the content and passes it
    /// to `completeUpload` (or removes it). The Upload stays pending until then. `stop` is asked between chunks (the
    /// client has gone): then nothing is left and `CancellationError` is thrown.
    public func joinUploadParts(upload id: String, project: String, partIDs: [String], md5: String?,
                                stop: () -> Bool = { false }) throws -> String {
        let upload = try pendingUpload(id: id, project: project)
        guard !partIDs.isEmpty else { throw UploadError.noParts }
        var seen = Set<String>()
        var paths: [String] = []
        var total = 0
        for part in partIDs {
            // A Part id is a file name under the Upload's directory: anything but our own ids could walk out of it.
            guard part.hasPrefix(IDPrefix.uploadPart), part.dropFirst(IDPrefix.uploadPart.count).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
                  let size = try POSIX.status(of: layout.uploadDirectory(id: upload.id) + "/" + part)?.size else {
                throw UploadError.unknownPart(part)
            }
            guard seen.insert(part).inserted else { throw UploadError.repeatedPart(part) }
            paths.append(layout.uploadDirectory(id: upload.id) + "/" + part)
            total += size
        }
        guard total == upload.bytes else { throw UploadError.sizeMismatch(expected: upload.bytes, got: total) }
        let joined = layout.temporaryPath(upload.id + "." + IDGenerator.make(prefix: "", length: 8) + ".joined")
        var hasher = Insecure.MD5()
        do {
            let output = try FileDescriptor(path: joined, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: AtomicFiles.chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            for path in paths {
                let input = try FileDescriptor(path: path, flags: O_RDONLY)
                while true {
                    if stop() { throw CancellationError() }
                    let count = try input.readChunk(into: buffer)
                    if count == 0 { break }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    hasher.update(bufferPointer: chunk)
                    try output.writeAll(chunk)
                }
            }
            try output.sync()
        } catch {
            try? POSIX.remove(joined)
            throw error
        }
        if let md5 {
            let got = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            guard got == md5.lowercased() else {
                try? POSIX.remove(joined)
                throw UploadError.checksumMismatch(expected: md5, got: got)
            }
        }
        return joined
    }

    /// Makes the joined bytes the Upload's File and marks it completed, in that order: if the Upload was completed,
    /// cancelled or expired meanwhile, the new File is deleted again and nothing changes.
    public func completeUpload(id: String, project: String, joined: String) throws -> (UploadRecord, FileRecord) {
        let upload = try pendingUpload(id: id, project: project, orRemove: joined)
        let file = try createFile(project: project, filename: upload.filename, purpose: upload.purpose, from: joined,
                                  expiresAt: upload.fileExpiresAfter.map { unixNow() + $0 })
        let changed = try database.write { db in
            try db.execute("""
                UPDATE uploads SET status = 'completed', file_id = ?
                WHERE id = ? AND project_id = ? AND status = 'pending' AND expires_at > \(db.dialect.nowSeconds)
                """, [file.id, id, project])
        }
        guard changed == 1 else {
            _ = try? deleteFile(id: file.id, project: project)
            let now = try self.upload(id: id, project: project)
            throw UploadError.notPending(id: id, status: now?.status(at: unixNow()) ?? "gone")
        }
        removeUploadDirectory(id)
        var completed = upload
        completed.status = "completed"
        completed.fileID = file.id
        return (completed, file)
    }

    /// Cancels a pending Upload and removes its Parts; nil if this project has no such Upload.
    public func cancelUpload(id: String, project: String) throws -> UploadRecord? {
        let changed = try database.write { db in
            try db.execute("""
                UPDATE uploads SET status = 'cancelled'
                WHERE id = ? AND project_id = ? AND status = 'pending' AND expires_at > \(db.dialect.nowSeconds)
                """, [id, project])
        }
        guard let upload = try upload(id: id, project: project) else { return nil }
        guard changed == 1 else { throw UploadError.notPending(id: id, status: upload.status(at: unixNow())) }
        removeUploadDirectory(id)
        return upload
    }

    /// Marks pending Uploads past their hour expired and removes their Parts; returns their ids.
    @discardableResult
    public func expireUploads() throws -> [String] {
        let expired = try database.write { db in
            try db.scalars(String.self, """
                UPDATE uploads SET status = 'expired'
                WHERE status = 'pending' AND expires_at <= \(db.dialect.nowSeconds) RETURNING id
                """, [])
        }
        for id in expired {
            removeUploadDirectory(id)
            logger.info("upload expired and its parts were removed", metadata: ["upload_id": "\(id)"])
        }
        return expired
    }

    /// The Upload, if it is this project's and still pending; else why not. With `orRemove`, a path to remove first.
    private func pendingUpload(id: String, project: String, orRemove path: String? = nil) throws -> UploadRecord {
        let upload = try self.upload(id: id, project: project)
        let status = upload?.status(at: unixNow())
        guard let upload, status == "pending" else {
            if let path { try? POSIX.remove(path) }
            guard let status else { throw StoreError.unknownUpload(id) }
            throw UploadError.notPending(id: id, status: status)
        }
        return upload
    }

    private func removeUploadDirectory(_ id: String) {
        let directory = layout.uploadDirectory(id: id)
        guard FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.removeItem(atPath: directory)
        } catch {
            logger.warning("could not remove an upload's parts", metadata: ["upload_id": "\(id)", "error": "\(error)"])
        }
    }
}
