// Opening, migrating, reopening and closing a store on a real data directory.
// Not keys or files in depth: those have their own suites.
import Foundation
import GRDB
import Testing
@testable import TailorStore

@Suite struct StoreTests {
    @Test func openFromEmptyCreatesLayoutAndSchema() throws {
        try withDataDirectory { directory in
            let store = try openStore(directory)
            defer { try? store.close() }
            for path in ["/tailor.sqlite", "/files", "/tmp", "/store.lock"] {
                #expect(fileExists(directory + path), "missing \(path)")
            }
            let (tables, journalMode, foreignKeys, migrations) = try #require(store.database as? SQLiteDatabase).pool.read { db in
                (try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
                 try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                 try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                 try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            }
            for table in ["projects", "api_keys", "files", "jobs", "job_events", "checkpoints", "models", "base_models",
                          "evals", "eval_runs", "eval_output_items"] {
                #expect(tables.contains(table), "tables: \(tables)")
            }
            #expect(journalMode == "wal")
            #expect(foreignKeys == 1)
            #expect(migrations == ["v1", "v2_jobs", "v3_job_lifecycle", "v4_evals", "v5_job_evaluation", "v6_job_leases", "v7_job_lease_lapses", "v8_eval_run_leases", "v9_uploads"])
            let projects = try store.listProjects()
            #expect(projects.map(\.name) == ["default"])
            #expect(projects[0].id.hasPrefix("proj_") && projects[0].id.count == 5 + 24)
        }
    }

    @Test(arguments: testBackends) func reopenKeepsProjectsKeysAndFiles(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let first = try openStore(directory, database)
            let defaultProject = try #require(try first.project(named: "default"))
            let (key, secret) = try first.createKey(project: "research", name: "ci", admin: false)
            let file = try first.createFile(project: key.projectID, filename: "train.jsonl", purpose: "fine-tune",
                                            bytes: Array("{\"a\":1}\n".utf8))
            try first.close()

            let second = try openStore(directory, database)
            defer { try? second.close() }
            #expect(try second.project(named: "default") == defaultProject)
            #expect(try second.authenticate(secret: secret)?.keyID == key.id)
            #expect(try second.file(id: file.id, project: key.projectID) == file)
            #expect(try second.listProjects().map(\.name) == ["default", "research"])
        }
    }

    @Test(arguments: testBackends) func closeTwiceIsSafeAndTheStoreIsUnusableAfter(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            try store.close()
            try store.close()
            #expect(throws: (any Error).self) { try store.listKeys() }
            // The directory lock went with it: a new store has the directory to itself and sweeps.
            try writeFile(directory + "/tmp/leftover", [1])
            let again = try openStore(directory, database)
            defer { try? again.close() }
            #expect(!fileExists(directory + "/tmp/leftover"))
        }
    }

    @Test(arguments: testBackends) func oneStoreServesManyThreadsAtOnce(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let (key, secret) = try store.createKey(project: "default", name: nil, admin: false)
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { thread in
                do {
                    for index in 0..<20 {
                        guard try store.authenticate(secret: secret)?.keyID == key.id else {
                            throw StoreError.unknownKey(key.id)
                        }
                        _ = try store.createFile(project: key.projectID, filename: "t\(thread)-\(index)",
                                                 purpose: "batch", bytes: [UInt8(thread), UInt8(index)])
                        _ = try store.listFiles(project: key.projectID, limit: 5)
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let files = try store.listFiles(project: key.projectID).items
            #expect(files.count == 80 && Set(files.map(\.id)).count == 80)
            #expect(Set(files.map(\.filename)).count == 80)
        }
    }

    @Test func diskUsageCountsDatabaseAndFileBytes() throws {
        try withDataDirectory { directory in
            let store = try openStore(directory)
            defer { try? store.close() }
            let before = try store.diskUsageBytes()
            #expect(before > 0)
            let project = try #require(try store.project(named: "default"))
            _ = try store.createFile(project: project.id, filename: "big.bin", purpose: "user_data",
                                     bytes: sampleBytes(count: 300_000, seed: 1))
            // Within the cache lifetime the first figure stands; a fresh store measures again.
            #expect(try store.diskUsageBytes() == before)
            let other = try openStore(directory)
            defer { try? other.close() }
            #expect(try other.diskUsageBytes() >= before + 300_000)
        }
    }

    @Test func openByURLMatchesOpenByPath() throws {
        try withDataDirectory { directory in
            let store = try Store.open(dataDirectory: URL(fileURLWithPath: directory), logger: LogRecorder().logger)
            defer { try? store.close() }
            #expect(store.dataDirectory == directory)
            #expect(store.temporaryDirectory == directory + "/tmp")
        }
    }
}
