// Uploads on a real data directory, SQLite and PostgreSQL: Parts joined in the order named into a File, each way an
// Upload refuses (size, checksum, unknown or repeated Parts, a finished Upload), cancelling and expiry removing the
// Parts, and a cancel racing a completion, of which exactly one wins and the loser leaves nothing behind.
import Crypto
import Foundation
import Testing
@testable import TailorStore

@Suite struct UploadTests {
    /// Adds `bytes` as a Part of `upload` the way the API does: spooled into the store's temporary directory first.
    func addPart(_ store: Store, _ upload: UploadRecord, _ bytes: [UInt8]) throws -> UploadPartRecord {
        let spooled = store.temporaryDirectory + "/part-" + UUID().uuidString
        try writeFile(spooled, bytes)
        defer { try? FileManager.default.removeItem(atPath: spooled) }  // as the API does: moved, or left on a refusal
        return try store.addUploadPart(upload: upload.id, project: upload.projectID, from: spooled)
    }

    func refusal(_ body: () throws -> Void) -> Error? {
        do { try body(); return nil } catch { return error }
    }

    @Test(arguments: testBackends) func partsAreJoinedInTheOrderNamedIntoAFile(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let content = sampleBytes(count: 2 * AtomicFiles.chunkSize + 777, seed: 3)
            let upload = try store.createUpload(project: project, filename: "big.jsonl", purpose: "fine-tune",
                                                mimeType: "text/jsonl", bytes: content.count, fileExpiresAfter: 7200)
            #expect(upload.id.hasPrefix("upload_") && upload.status == "pending")
            #expect(upload.expiresAt == upload.createdAt + Store.uploadLifetimeSeconds)
            // Sent out of order: the middle first, then the end, then the start.
            let cut1 = AtomicFiles.chunkSize + 5, cut2 = content.count - 100
            let middle = try addPart(store, upload, Array(content[cut1..<cut2]))
            let end = try addPart(store, upload, Array(content[cut2...]))
            let start = try addPart(store, upload, Array(content[..<cut1]))
            #expect(start.bytes == cut1 && middle.uploadID == upload.id && start.id.hasPrefix("part_"))
            #expect(fileExists(directory + "/uploads/\(upload.id)/\(middle.id)"))

            let md5 = Insecure.MD5.hash(data: content).map { String(format: "%02x", $0) }.joined()
            let joined = try store.joinUploadParts(upload: upload.id, project: project, partIDs: [start.id, middle.id, end.id], md5: md5)
            let (completed, file) = try store.completeUpload(id: upload.id, project: project, joined: joined)
            #expect(completed.status == "completed" && completed.fileID == file.id)
            #expect(try readFile(store.contentPath(of: file)) == content)
            #expect(file.bytes == content.count && file.filename == "big.jsonl" && file.purpose == "fine-tune")
            let lifetime = file.expiresAt.map { $0 - file.createdAt }
            #expect(lifetime == 7200)
            #expect(!fileExists(directory + "/uploads/\(upload.id)"), "the Parts go once the File is made")
            #expect(!fileExists(joined))
            #expect(try store.upload(id: upload.id, project: project)?.fileID == file.id)

            // Finished: nothing more is taken.
            let late = refusal { _ = try addPart(store, upload, [1]) }
            #expect(late as? UploadError == .notPending(id: upload.id, status: "completed"))
            let again = refusal { _ = try store.joinUploadParts(upload: upload.id, project: project, partIDs: [start.id], md5: nil) }
            #expect(again as? UploadError == .notPending(id: upload.id, status: "completed"))
        }
    }

    @Test(arguments: testBackends) func aCompletionNamingTheWrongPartsIsRefusedAndChangesNothing(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let upload = try store.createUpload(project: project, filename: "n.txt", purpose: "user_data",
                                                mimeType: "text/plain", bytes: 6, fileExpiresAfter: nil)
            let a = try addPart(store, upload, Array("abc".utf8))
            let b = try addPart(store, upload, Array("def".utf8))
            let cases: [([String], String?, UploadError)] = [
                ([a.id], nil, .sizeMismatch(expected: 6, got: 3)),
                ([a.id, a.id], nil, .repeatedPart(a.id)),
                ([a.id, "part_missing"], nil, .unknownPart("part_missing")),
                ([a.id, "part_../../files"], nil, .unknownPart("part_../../files")),
                ([a.id, "../\(a.id)"], nil, .unknownPart("../\(a.id)")),
                ([], nil, .noParts),
                ([a.id, b.id], String(repeating: "0", count: 32),
                 .checksumMismatch(expected: String(repeating: "0", count: 32), got: "e80b5017098950fc58aad83c8c14978e")),
            ]
            for (parts, md5, expected) in cases {
                let error = refusal { _ = try store.joinUploadParts(upload: upload.id, project: project, partIDs: parts, md5: md5) }
                #expect(error as? UploadError == expected, "\(parts)")
            }
            // Stopped midway (the client has gone): the same, nothing left.
            let stopped = refusal {
                _ = try store.joinUploadParts(upload: upload.id, project: project, partIDs: [a.id, b.id], md5: nil, stop: { true })
            }
            #expect(stopped is CancellationError)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty, "no joined file is left")
            #expect(try store.listFiles(project: project).items.isEmpty)
            #expect(try store.upload(id: upload.id, project: project)?.status == "pending")
            let joined = try store.joinUploadParts(upload: upload.id, project: project, partIDs: [b.id, a.id], md5: nil)
            let (_, file) = try store.completeUpload(id: upload.id, project: project, joined: joined)
            #expect(try readFile(store.contentPath(of: file)) == Array("defabc".utf8))
        }
    }

    @Test(arguments: testBackends) func cancellingAndExpiryRemoveTheParts(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let cancelled = try store.createUpload(project: project, filename: "c.txt", purpose: "user_data",
                                                   mimeType: "text/plain", bytes: 3, fileExpiresAfter: nil)
            let part = try addPart(store, cancelled, [1, 2, 3])
            #expect(try store.cancelUpload(id: cancelled.id, project: project)?.status == "cancelled")
            #expect(!fileExists(directory + "/uploads/\(cancelled.id)"))
            let afterCancel = refusal { _ = try addPart(store, cancelled, [4]) }
            #expect(afterCancel as? UploadError == .notPending(id: cancelled.id, status: "cancelled"))
            let joinAfterCancel = refusal { _ = try store.joinUploadParts(upload: cancelled.id, project: project, partIDs: [part.id], md5: nil) }
            #expect(joinAfterCancel as? UploadError == .notPending(id: cancelled.id, status: "cancelled"))
            let cancelAgain = refusal { _ = try store.cancelUpload(id: cancelled.id, project: project) }
            #expect(cancelAgain as? UploadError == .notPending(id: cancelled.id, status: "cancelled"))
            // Another project's Upload, or none: not there.
            let other = try store.ensureProject(named: "other").id
            #expect(try store.cancelUpload(id: cancelled.id, project: other) == nil)
            let elsewhere = refusal { _ = try store.addUploadPart(upload: cancelled.id, project: other, from: "/nonexistent") }
            #expect(elsewhere as? StoreError == .unknownUpload(cancelled.id))

            let old = try store.createUpload(project: project, filename: "o.txt", purpose: "user_data",
                                             mimeType: "text/plain", bytes: 3, fileExpiresAfter: nil)
            _ = try addPart(store, old, [1, 2, 3])
            // An hour later (the row moved back instead of the clock forward): it reads as expired at once.
            try store.database.write { db in
                try db.execute("UPDATE uploads SET created_at = created_at - 3601, expires_at = expires_at - 3601 WHERE id = ?", [old.id])
            }
            let read = try #require(try store.upload(id: old.id, project: project))
            #expect(read.status(at: unixNow()) == "expired")
            let afterExpiry = refusal { _ = try addPart(store, old, [4]) }
            #expect(afterExpiry as? UploadError == .notPending(id: old.id, status: "expired"))
            #expect(fileExists(directory + "/uploads/\(old.id)"), "until the sweep")
            #expect(try store.expireUploads() == [old.id])
            #expect(!fileExists(directory + "/uploads/\(old.id)"))
            #expect(try store.upload(id: old.id, project: project)?.status == "expired")
            #expect(try store.expireUploads().isEmpty)
        }
    }

    @Test(arguments: testBackends) func aCancelRacingACompletionEndsOneWayWithNothingLeftBehind(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            var completions = 0
            for round in 0..<12 {
                let upload = try store.createUpload(project: project, filename: "r\(round).txt", purpose: "user_data",
                                                    mimeType: "text/plain", bytes: 4, fileExpiresAfter: nil)
                let part = try addPart(store, upload, [1, 2, 3, 4])
                let joined = try store.joinUploadParts(upload: upload.id, project: project, partIDs: [part.id], md5: nil)
                let outcomes = Locked<[String: Bool]>([:])
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    if i == 0 {
                        let ok = (try? store.completeUpload(id: upload.id, project: project, joined: joined)) != nil
                        outcomes.withLock { $0["complete"] = ok }
                    } else {
                        let ok = (try? store.cancelUpload(id: upload.id, project: project)) != nil
                        outcomes.withLock { $0["cancel"] = ok }
                    }
                }
                let result = outcomes.withLock { $0 }
                #expect(result["complete"] != result["cancel"], "exactly one wins: \(result)")
                let final = try #require(try store.upload(id: upload.id, project: project))
                let files = try store.listFiles(project: project).items.filter { $0.filename == "r\(round).txt" }
                if result["complete"] == true {
                    completions += 1
                    #expect(final.status == "completed" && files.map(\.id) == [final.fileID])
                } else {
                    #expect(final.status == "cancelled" && files.isEmpty, "the losing completion took its File back")
                }
                #expect(!fileExists(directory + "/uploads/\(upload.id)"))
                #expect(!fileExists(joined))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/files").count == completions)
        }
    }

    @Test(arguments: testBackends) func aCancelBetweenAPartsCheckAndItsPlacingLeavesNothingBehind(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let upload = try store.createUpload(project: project, filename: "h.txt", purpose: "user_data",
                                                mimeType: "text/plain", bytes: 8, fileExpiresAfter: nil)
            _ = try addPart(store, upload, [1, 2, 3, 4])  // the directory exists, and the cancel removes it
            // The Part passed its check; the cancel lands before its bytes are placed (and its directory made again).
            store.beforePartIsPlaced.withLock { hook in
                hook = { _ = try? store.cancelUpload(id: upload.id, project: project) }
            }
            let late = refusal { _ = try addPart(store, upload, [5, 6, 7, 8]) }
            store.beforePartIsPlaced.withLock { $0 = nil }
            #expect(late as? UploadError == .notPending(id: upload.id, status: "cancelled"))
            #expect(!fileExists(directory + "/uploads/\(upload.id)"), "the late Part and the directory it made are gone")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/uploads").isEmpty)
        }
    }

    @Test(arguments: testBackends) func aPartRacingACancelLeavesNothingBehind(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            for round in 0..<12 {
                let upload = try store.createUpload(project: project, filename: "p\(round).txt", purpose: "user_data",
                                                    mimeType: "text/plain", bytes: 8, fileExpiresAfter: nil)
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    if i == 0 { _ = try? addPart(store, upload, Array(repeating: UInt8(round), count: 8)) }
                    else { _ = try? store.cancelUpload(id: upload.id, project: project) }
                }
                #expect(try store.upload(id: upload.id, project: project)?.status == "cancelled")
                #expect(!fileExists(directory + "/uploads/\(upload.id)"), "round \(round): a Part outlived its cancelled Upload")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)
        }
    }
}
