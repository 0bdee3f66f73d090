// Files on a real data directory: the two ways bytes arrive, hashes and sizes, cursor pagination, deletion,
// and that one project never sees another's files.
import Foundation
import Testing
@testable import TailorStore

@Suite struct FileTests {
    /// /dev/shm is tmpfs here, another filesystem than the temporary directory the data lives in.
    static let otherFilesystem = "/dev/shm"
    static var haveOtherFilesystem: Bool {
        guard fileExists(otherFilesystem),
              let shm = try? POSIX.device(of: otherFilesystem),
              let data = try? POSIX.device(of: FileManager.default.temporaryDirectory.path) else { return false }
        return shm != data
    }

    @Test(arguments: testBackends) func createFromASpooledFileRenamesIt(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default"))
            // Not a multiple of the 1 MiB chunk, so the last short read is exercised.
            let content = sampleBytes(count: 3 * AtomicFiles.chunkSize + 12_345, seed: 7)
            let spooled = store.temporaryDirectory + "/upload-1"
            try writeFile(spooled, content)
            let expectedHash = try referenceSHA256(of: spooled)
            let inode = try FileManager.default.attributesOfItem(atPath: spooled)[.systemFileNumber] as? Int

            let file = try store.createFile(project: project.id, filename: "train.jsonl", purpose: "fine-tune",
                                            from: spooled, expiresAt: 1_900_000_000)
            // Same inode: the bytes were renamed into place, not copied.
            #expect(try FileManager.default.attributesOfItem(atPath: store.contentPath(of: file))[.systemFileNumber] as? Int == inode)
            #expect(file.id.hasPrefix("file-") && file.id.count == 5 + 24)
            #expect(file.bytes == content.count)
            #expect(file.sha256 == expectedHash)
            #expect(file.status == .processed && file.statusDetails == nil)
            #expect(file.expiresAt == 1_900_000_000)
            #expect(abs(file.createdAt - Int(Date().timeIntervalSince1970)) <= 2)
            #expect(!fileExists(spooled))
            #expect(store.contentPath(of: file) == directory + "/files/" + file.id)
            #expect(try readFile(store.contentPath(of: file)) == content)
            #expect(try store.file(id: file.id, project: project.id) == file)
        }
    }

    @Test(.enabled(if: haveOtherFilesystem, "needs /dev/shm on its own filesystem"), arguments: testBackends)
    func createFromAnotherFilesystemCopiesThroughTmp(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default"))
            let content = sampleBytes(count: 2 * AtomicFiles.chunkSize, seed: 8)
            let source = Self.otherFilesystem + "/tailor-store-test-" + IDGenerator.make(prefix: "", length: 8)
            try writeFile(source, content)
            defer { try? FileManager.default.removeItem(atPath: source) }
            let expectedHash = try referenceSHA256(of: source)

            let file = try store.createFile(project: project.id, filename: "data.jsonl", purpose: "fine-tune", from: source)
            #expect(file.bytes == content.count && file.sha256 == expectedHash)
            #expect(try readFile(store.contentPath(of: file)) == content)
            #expect(!fileExists(source))
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
        }
    }

    @Test(arguments: testBackends) func expiredFilesVanishAtOnceAndTheSweepRemovesTheirBytes(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default"))
            let now = Int(Date().timeIntervalSince1970)
            let expired = try store.createFile(project: project.id, filename: "old.txt", purpose: "user_data", bytes: [1, 2, 3], expiresAt: now - 1)
            let fresh = try store.createFile(project: project.id, filename: "new.txt", purpose: "user_data", bytes: [4], expiresAt: now + 3600)
            #expect(try store.file(id: expired.id, project: project.id) == nil)
            #expect(try store.file(id: fresh.id, project: project.id) != nil)
            #expect(try store.listFiles(project: project.id).items.map(\.id) == [fresh.id])
            #expect(fileExists(store.contentPath(of: expired)))
            #expect(try store.deleteExpiredFiles() == [expired.id])
            #expect(!fileExists(store.contentPath(of: expired)))
            #expect(fileExists(store.contentPath(of: fresh)))
            #expect(try store.deleteExpiredFiles() == [])
        }
    }

    @Test(arguments: testBackends) func createFromBytesAndTheEmptyFile(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default"))
            let csv = Array("step,train_loss\n1,2.5\n".utf8)
            let file = try store.createFile(project: project.id, filename: "step_metrics.csv",
                                            purpose: "fine-tune-results", bytes: csv)
            #expect(file.bytes == csv.count)
            #expect(file.sha256 == (try referenceSHA256(of: store.contentPath(of: file))))
            #expect(try readFile(store.contentPath(of: file)) == csv)

            let empty = try store.createFile(project: project.id, filename: "empty.jsonl", purpose: "fine-tune", bytes: [])
            #expect(empty.bytes == 0)
            #expect(empty.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }
    }

    @Test(arguments: testBackends) func anUnknownProjectStoresNothing(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let spooled = store.temporaryDirectory + "/upload"
            try writeFile(spooled, [1, 2, 3])
            #expect(throws: StoreError.unknownProject("proj_missing")) {
                try store.createFile(project: "proj_missing", filename: "a", purpose: "fine-tune", from: spooled)
            }
            #expect(throws: StoreError.unknownProject("proj_missing")) {
                try store.createFile(project: "proj_missing", filename: "a", purpose: "fine-tune", bytes: [1])
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/files").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory) == ["upload"])
        }
    }

    @Test(arguments: testBackends) func paginationInBothOrdersWithPurposeFilter(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            // Seven files inside the same second or two: order must come from seq, not created_at.
            var created: [FileRecord] = []
            for index in 0..<7 {
                created.append(try store.createFile(project: project, filename: "f\(index)",
                                                    purpose: index % 2 == 0 ? "fine-tune" : "batch",
                                                    bytes: [UInt8(index)]))
            }
            let newestFirst = created.reversed().map(\.id)

            func pages(order: ListOrder, purpose: String?, limit: Int) throws -> [[String]] {
                var result: [[String]] = []
                var after: String?
                while true {
                    let page = try store.listFiles(project: project, purpose: purpose, order: order, after: after, limit: limit)
                    result.append(page.items.map(\.id))
                    guard page.hasMore else { return result }
                    after = page.items.last?.id
                }
            }
            #expect(try pages(order: .desc, purpose: nil, limit: 3)
                    == [Array(newestFirst[0..<3]), Array(newestFirst[3..<6]), [newestFirst[6]]])
            #expect(try pages(order: .asc, purpose: nil, limit: 3)
                    == [Array(created.map(\.id)[0..<3]), Array(created.map(\.id)[3..<6]), [created[6].id]])
            // Exactly `limit` items left: hasMore must be false, not a trailing empty page.
            #expect(try pages(order: .asc, purpose: nil, limit: 7) == [created.map(\.id)])
            let fineTune = created.filter { $0.purpose == "fine-tune" }.map(\.id)
            #expect(try pages(order: .desc, purpose: "fine-tune", limit: 2)
                    == [[fineTune[3], fineTune[2]], [fineTune[1], fineTune[0]]])
            #expect(try store.listFiles(project: project, purpose: "assistants").items.isEmpty)
            // A cursor of another purpose still marks a place in the listing.
            let afterBatch = try store.listFiles(project: project, purpose: "fine-tune", order: .asc, after: created[3].id, limit: 10)
            #expect(afterBatch.items.map(\.id) == [created[4].id, created[6].id] && !afterBatch.hasMore)
            #expect(try store.listFiles(project: project).items.map(\.id) == newestFirst)

            #expect(throws: StoreError.unknownCursor("file-doesnotexist")) {
                try store.listFiles(project: project, after: "file-doesnotexist", limit: 3)
            }
            #expect(StoreError.unknownCursor("x").parameter == "after")
            #expect(throws: StoreError.invalidLimit(0, range: 1...10_000)) { try store.listFiles(project: project, limit: 0) }
            #expect(throws: StoreError.invalidLimit(10_001, range: 1...10_000)) {
                try store.listFiles(project: project, limit: 10_001)
            }
        }
    }

    @Test(arguments: testBackends) func aLiveJobsTestFileCannotBeDeletedButAFinishedOnesCan(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let train = try store.createFile(project: project, filename: "train", purpose: "fine-tune", bytes: [1])
            let test = try store.createFile(project: project, filename: "test", purpose: "fine-tune", bytes: [2])
            var job = JobRecord(id: "ftjob-evaluated", projectID: project, model: "m", trainingFile: train.id, validationFile: nil,
                                status: .running, hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1,
                                metadata: nil, integrations: nil, options: "{}", createdAt: 1)
            job.evaluationFile = test.id
            try store.createJob(job)
            #expect(throws: StoreError.fileInUse(fileID: test.id, jobID: job.id)) { try store.deleteFile(id: test.id, project: project) }
            _ = try store.updateJob(id: job.id) { $0.status = .succeeded }
            #expect(try store.deleteFile(id: test.id, project: project))
        }
    }

    @Test(arguments: testBackends) func deleteRemovesRowAndBytes(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try #require(try store.project(named: "default")).id
            let keep = try store.createFile(project: project, filename: "keep", purpose: "fine-tune", bytes: [1])
            let file = try store.createFile(project: project, filename: "gone", purpose: "fine-tune", bytes: [2, 3])
            let path = store.contentPath(of: file)
            #expect(fileExists(path))
            #expect(try store.deleteFile(id: file.id, project: project))
            #expect(!fileExists(path))
            #expect(try store.file(id: file.id, project: project) == nil)
            #expect(try store.deleteFile(id: file.id, project: project) == false)
            #expect(try store.listFiles(project: project).items == [keep])
            // A deleted id is no longer a valid cursor.
            #expect(throws: StoreError.unknownCursor(file.id)) { try store.listFiles(project: project, after: file.id, limit: 1) }
        }
    }

    @Test(arguments: testBackends) func anotherProjectsFileLooksExactlyMissing(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let (alice, _) = try store.createKey(project: "alice", name: nil, admin: false)
            let (bob, _) = try store.createKey(project: "bob", name: nil, admin: false)
            let secret = try store.createFile(project: alice.projectID, filename: "private.jsonl", purpose: "fine-tune",
                                              bytes: Array("{}\n".utf8))

            #expect(try store.file(id: secret.id, project: bob.projectID) == nil)
            #expect(try store.file(id: secret.id, project: bob.projectID) == store.file(id: "file-never", project: bob.projectID))
            #expect(try store.listFiles(project: bob.projectID).items.isEmpty)
            #expect(throws: StoreError.unknownCursor(secret.id)) {
                try store.listFiles(project: bob.projectID, after: secret.id, limit: 10)
            }
            #expect(try store.deleteFile(id: secret.id, project: bob.projectID) == false)
            // Still there for its owner, bytes and all.
            #expect(try store.file(id: secret.id, project: alice.projectID) == secret)
            #expect(fileExists(store.contentPath(of: secret)))
            #expect(try store.listFiles(project: alice.projectID).items == [secret])
        }
    }
}
