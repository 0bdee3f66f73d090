// What an open repairs after a crash: temporaries, bytes without rows, rows whose bytes were taken away,
// and that a store opened beside a running one leaves the other's work in flight alone.
import Foundation
import Testing
@testable import TailorStore

@Suite struct RecoveryTests {
    @Test(arguments: testBackends) func leftoverTemporaryAndOrphanedBytesAreSweptAndLogged(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let first = try openStore(directory, database)
            let project = try #require(try first.project(named: "default")).id
            let kept = try first.createFile(project: project, filename: "kept", purpose: "fine-tune", bytes: [1, 2, 3])
            try first.close()
            // What a crash leaves: a half-written upload, and bytes renamed into files/ whose row never came.
            try writeFile(directory + "/tmp/file-half.part", sampleBytes(count: 1000, seed: 3))
            try FileManager.default.createDirectory(atPath: directory + "/tmp/spool-dir", withIntermediateDirectories: false)
            try writeFile(directory + "/files/file-orphanorphanorphan12", [9, 9])

            let recorder = LogRecorder()
            let second = try openStore(directory, database, recorder)
            defer { try? second.close() }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/files") == [kept.id])
            #expect(try second.file(id: kept.id, project: project) == kept)
            let removed = recorder.messages(atLeast: .notice).compactMap { $0.metadata["path"]?.description }
            #expect(Set(removed) == [directory + "/tmp/file-half.part", directory + "/tmp/spool-dir",
                                     directory + "/files/file-orphanorphanorphan12"])
        }
    }

    @Test(arguments: testBackends) func aStoreOpenedBesideARunningOneSweepsNothing(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let server = try openStore(directory, database)
            // The server's upload in flight and its bytes between rename and insert.
            try writeFile(server.temporaryDirectory + "/upload-in-flight", [1])
            try writeFile(directory + "/files/file-betweenrenameandinsert", [2])

            let cli = try openStore(directory, database)
            #expect(fileExists(server.temporaryDirectory + "/upload-in-flight"))
            #expect(fileExists(directory + "/files/file-betweenrenameandinsert"))
            try cli.close()
            try server.close()

            // Once nobody has it open, the next store owns the directory and cleans up.
            let next = try openStore(directory, database)
            defer { try? next.close() }
            #expect(!fileExists(directory + "/tmp/upload-in-flight"))
            #expect(!fileExists(directory + "/files/file-betweenrenameandinsert"))
        }
    }

    @Test(arguments: testBackends) func rowsWhoseBytesVanishedOrChangedAreMarkedError(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let first = try openStore(directory, database)
            let project = try #require(try first.project(named: "default")).id
            let vanished = try first.createFile(project: project, filename: "a.jsonl", purpose: "fine-tune", bytes: [1, 2])
            let truncated = try first.createFile(project: project, filename: "b.jsonl", purpose: "fine-tune", bytes: [3, 4, 5])
            let intact = try first.createFile(project: project, filename: "c.jsonl", purpose: "fine-tune", bytes: [6])
            try first.close()
            try FileManager.default.removeItem(atPath: directory + "/files/" + vanished.id)
            try writeFile(directory + "/files/" + truncated.id + ".new", [3])
            try FileManager.default.removeItem(atPath: directory + "/files/" + truncated.id)
            try FileManager.default.moveItem(atPath: directory + "/files/" + truncated.id + ".new",
                                             toPath: directory + "/files/" + truncated.id)

            let recorder = LogRecorder()
            let second = try openStore(directory, database, recorder)
            defer { try? second.close() }
            let gone = try #require(try second.file(id: vanished.id, project: project))
            #expect(gone.status == .error)
            #expect(gone.statusDetails?.contains("missing") == true)
            let short = try #require(try second.file(id: truncated.id, project: project))
            #expect(short.status == .error)
            #expect(short.statusDetails?.contains("1 bytes, not the 3") == true)
            #expect(try second.file(id: intact.id, project: project)?.status == .processed)
            let errors = recorder.messages(atLeast: .error).compactMap { $0.metadata["file_id"]?.description }
            #expect(Set(errors) == [vanished.id, truncated.id])

            // Still listed, still deletable: the API shows the error instead of failing.
            #expect(try second.listFiles(project: project).items.count == 3)
            #expect(try second.deleteFile(id: vanished.id, project: project))
        }
    }
}
