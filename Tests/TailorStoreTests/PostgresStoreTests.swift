// What only the PostgreSQL store has to show: its migrations (recorded, applied once even when two stores open a new
// database at the same moment), read-modify-writes from two stores that lose no update, and clear errors naming the
// database without its password. The server tests run when TAILOR_TEST_DATABASE_URL is set (`make test-postgres`).
import Foundation
import Testing
@testable import TailorStore

@Suite(.enabled(if: postgresTestURL != nil,
                "set TAILOR_TEST_DATABASE_URL=postgres://USER@HOST:PORT/postgres (or run `make test-postgres`) to test the PostgreSQL store"))
struct PostgresServerTests {
    @Test func openFromEmptyMigratesAndRecordsEachMigration() throws {
        try withDataDirectory(.postgres) { directory, database in
            let recorder = LogRecorder()
            let store = try openStore(directory, database, recorder)
            defer { try? store.close() }
            #expect(!fileExists(directory + "/tailor.sqlite"), "the rows are in PostgreSQL, not a SQLite file")
            let (tables, migrations) = try store.database.read { db in
                (try db.scalars(String.self, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", []),
                 try db.scalars(String.self, "SELECT name FROM tailor_migrations ORDER BY name", []))
            }
            #expect(tables == ["api_keys", "base_models", "checkpoints", "eval_output_items", "eval_runs", "evals", "files",
                               "job_events", "jobs", "models", "project_starts", "projects", "tailor_installation", "tailor_migrations", "uploads"])
            #expect(migrations == PostgresMigrations.all.map(\.name).sorted())
            #expect(migrations == ["v1", "v2_jobs", "v3_job_lifecycle", "v4_evals", "v5_job_evaluation", "v6_job_leases", "v7_job_lease_lapses", "v8_eval_run_leases", "v9_uploads"])
            #expect(recorder.messages(atLeast: .notice).filter { $0.message == "applied a PostgreSQL migration" }.count == 9)
            let projects = try store.listProjects()
            #expect(projects.map(\.name) == ["default"])
            #expect(projects[0].id.hasPrefix("proj_") && projects[0].id.count == 5 + 24)

            // A second open finds everything applied and applies nothing.
            let again = LogRecorder()
            try openStore(directory, database, again).close()
            #expect(again.messages(atLeast: .notice).filter { $0.message == "applied a PostgreSQL migration" }.isEmpty)
        }
    }

    @Test func twoStoresOpeningANewDatabaseAtOnceMigrateItExactlyOnce() throws {
        let settings = try makeTestDatabase()
        defer { try? dropTestDatabase(settings) }
        for round in 0..<3 {
            // A fresh database each round, both stores started together, so the race is real each time.
            let fresh = round == 0 ? settings : try makeTestDatabase()
            defer { if round > 0 { try? dropTestDatabase(fresh) } }
            let recorders = [LogRecorder(), LogRecorder()]
            let stores = Locked<[Store]>([])
            let failures = Locked<[String]>([])
            try withDataDirectory { directory in
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    do {
                        let store = try openStore(directory + "/node\(i)", .postgres(fresh), recorders[i])
                        stores.withLock { $0.append(store) }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
                #expect(failures.withLock { $0 }.isEmpty)
                let opened = stores.withLock { $0 }
                defer { for store in opened { try? store.close() } }
                let applied = recorders.map { $0.messages(atLeast: .notice).filter { $0.message == "applied a PostgreSQL migration" }.count }
                let count = PostgresMigrations.all.count
                #expect(applied.reduce(0, +) == count, "migrations applied per store: \(applied)")
                let store = try #require(opened.first)
                let (names, defaults) = try store.database.read { db in
                    (try db.scalars(String.self, "SELECT name FROM tailor_migrations", []),
                     try db.scalar(Int.self, "SELECT COUNT(*) FROM projects WHERE name = 'default'", []))
                }
                #expect(names.count == count && Set(names).count == count)
                #expect(defaults == 1)
            }
        }
    }

    @Test func concurrentReadModifyWritesFromTwoStoresLoseNoUpdate() throws {
        try withDataDirectory(.postgres) { directory, database in
            // Two stores over one database and one directory, as two processes on two hosts would be.
            let a = try openStore(directory, database)
            defer { try? a.close() }
            let b = try openStore(directory, database)
            defer { try? b.close() }
            let project = try a.listProjects()[0].id
            let job = JobRecord(id: "ftjob-race", projectID: project, model: "base", trainingFile: "file-x", validationFile: nil,
                                status: .running, hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1,
                                metadata: nil, integrations: nil, options: "{}", createdAt: 1)
            try a.createJob(job)
            let threads = 8, updates = 25
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                let store = thread % 2 == 0 ? a : b
                do {
                    for i in 0..<updates {
                        if i % 5 == 0 {
                            // Some with events, which must commit together with the step they announce.
                            try store.updateJobWithEvents(id: job.id) { job in
                                job.step += 1
                                return [JobEventDraft(message: "step \(job.step)", type: "metrics", data: "{\"step\":\(job.step)}")]
                            }
                        } else {
                            try store.updateJob(id: job.id) { $0.step += 1; $0.attempts += 1 }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let (final, events) = try #require(try b.jobWithEvents(id: job.id))
            #expect(final.step == threads * updates, "lost updates: \(threads * updates - final.step)")
            #expect(final.attempts == threads * updates * 4 / 5)
            #expect(events.count == threads * updates / 5)
            // Each event carries the step it was written with; no two transactions saw the same step.
            #expect(Set(events.map(\.message)).count == events.count)
            // The step announced grows with seq.
            let steps = events.map { Int($0.message.dropFirst(5))! }
            #expect(steps == steps.sorted())
        }
    }

    @Test func eventsCommitInSequenceOrderSoAFollowerSkipsNone() throws {
        try withDataDirectory(.postgres) { directory, database in
            let a = try openStore(directory, database)
            defer { try? a.close() }
            let b = try openStore(directory, database)
            defer { try? b.close() }
            let project = try a.listProjects()[0].id
            try a.createJob(JobRecord(id: "ftjob-events", projectID: project, model: "base", trainingFile: "file-x",
                                      validationFile: nil, status: .running, hyperparameters: "{}", methodType: "supervised",
                                      suffix: nil, seed: 1, metadata: nil, integrations: nil, options: "{}", createdAt: 1))
            // Store A appends an event and holds its transaction open; store B appends another meanwhile.
            let inserted = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), secondDone = DispatchSemaphore(value: 0)
            let failures = Locked<[String]>([])
            DispatchQueue.global().async {
                do {
                    try a.database.write { db in
                        _ = try Store.insertEvent(JobEventDraft(message: "first"), job: "ftjob-events", db)
                        inserted.signal()
                        release.wait()
                    }
                } catch { failures.withLock { $0.append("\(error)") }; inserted.signal() }
            }
            inserted.wait()
            DispatchQueue.global().async {
                do { try b.addEvent(job: "ftjob-events", level: "info", message: "second", type: "message", data: nil) }
                catch { failures.withLock { $0.append("\(error)") } }
                secondDone.signal()
            }
            // B must wait for A's commit: its seq comes after A's, and A's is visible by the time B's is.
            let deadline = ContinuousClock.now + .seconds(20)
            var waiting = 0
            while waiting == 0 && ContinuousClock.now < deadline {
                waiting = try a.database.read { db in
                    try db.scalar(Int.self, "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", []) ?? 0
                }
                if waiting == 0 { Thread.sleep(forTimeInterval: 0.01) }
            }
            #expect(waiting == 1, "the second append did not wait for the first to commit")
            // A follower reading now sees neither; had it seen "second", it would later skip "first".
            #expect(try b.events(job: "ftjob-events", afterSeq: 0).isEmpty)
            release.signal()
            secondDone.wait()
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(try b.events(job: "ftjob-events", afterSeq: 0).map(\.message) == ["first", "second"])
        }
    }

    @Test func connectionsTheServerEndsAreReplaced() throws {
        try withDataDirectory(.postgres) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            guard case .postgres(let settings) = database else { return }
            let admin = try PostgresSettings(url: try #require(postgresTestURL))
            for _ in 0..<10 {
                // Idle connections in the store, then the server ends every one (as a restart or an idle timeout
                // would); the next calls, made at once, must not see it.
                DispatchQueue.concurrentPerform(iterations: 4) { _ in _ = try? store.listProjects() }
                try administer(admin, """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = '\(settings.database)' AND pid <> pg_backend_pid()
                    """)
                #expect(try store.listProjects().first?.name == "default")
                #expect(try store.ensureProject(named: "after-cut").name == "after-cut")
            }
        }
    }

    @Test func aDataDirectoryServesOneDatabaseOnly() throws {
        try withDataDirectory(.postgres) { directory, database in
            let store = try openStore(directory, database)
            let project = try store.listProjects()[0].id
            let file = try store.createFile(project: project, filename: "a.jsonl", purpose: "fine-tune", bytes: [1, 2, 3])
            try store.close()
            #expect(fileExists(directory + "/database.id"))

            // Forgetting --database must not open a new SQLite store there, which would sweep every file.
            let sqlite = try #require(throws: StoreError.self) { try openStore(directory) }
            #expect("\(sqlite)".contains("--database"))
            #expect(!fileExists(directory + "/tailor.sqlite"))
            // Another database (a mistyped URL) must neither sweep the files nor mark this one's rows.
            let other = try makeTestDatabase()
            defer { try? dropTestDatabase(other) }
            let mismatch = try #require(throws: StoreError.self) { try openStore(directory, .postgres(other)) }
            #expect("\(mismatch)".contains("another PostgreSQL database"))
            #expect(fileExists(directory + "/files/" + file.id))

            // An empty directory beside a database that has files (a shared directory not mounted on this node) is
            // not bound: its open would otherwise mark every file's bytes missing.
            let unmounted = directory + "-unmounted"
            defer { try? FileManager.default.removeItem(atPath: unmounted) }
            let empty = try #require(throws: StoreError.self) { try openStore(unmounted, database) }
            #expect("\(empty)".contains("is the shared directory mounted?") && "\(empty)".contains("1 files and jobs"))
            #expect(!fileExists(unmounted + "/database.id"))

            let again = try openStore(directory, database)
            defer { try? again.close() }
            #expect(try again.file(id: file.id, project: project)?.status == .processed)
        }
        // A SQLite installation is not taken over by PostgreSQL either.
        try withDataDirectory { directory in
            try openStore(directory).close()
            let settings = try makeTestDatabase()
            defer { try? dropTestDatabase(settings) }
            #expect(throws: StoreError.self) { try openStore(directory, .postgres(settings)) }
        }
    }

    @Test func aSecondStoreSeesCommittedWritesAndProjectsAreCreatedOnce() throws {
        try withDataDirectory(.postgres) { directory, database in
            let a = try openStore(directory, database)
            defer { try? a.close() }
            let b = try openStore(directory, database)
            defer { try? b.close() }
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { i in
                do {
                    _ = try (i % 2 == 0 ? a : b).createKey(project: "shared", name: "k\(i)", admin: false)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(try a.listProjects().map(\.name) == ["default", "shared"])
            #expect(Set(try b.listKeys().map(\.projectID)).count == 1)
        }
    }
}

/// Parts of the PostgreSQL store that need no server: settings, the password file, placeholders, a clear error.
@Suite struct PostgresSettingsTests {
    @Test func aURLIsReadAndItsPasswordNeverShown() throws {
        let settings = try PostgresSettings(url: "postgres://tailor:s3cret@db.example:6543/jobs", environment: [:])
        #expect(settings.host == "db.example" && settings.port == 6543 && settings.username == "tailor" && settings.database == "jobs")
        #expect(settings.password == "s3cret")
        #expect(settings.description == "postgres://tailor@db.example:6543/jobs")
        #expect(PostgresSettings.redact("postgres://tailor:s3cret@db.example/jobs") == "postgres://tailor:***@db.example/jobs")
        #expect(throws: PostgresStoreError.self) { try PostgresSettings(url: "mysql://x@y/z", environment: [:]) }
    }

    @Test func thePasswordComesFromAFileOrPgpass() throws {
        try withDataDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let passwordFile = directory + "/password"
            try writeFile(passwordFile, Array("from-file\n".utf8))
            let pgpass = directory + "/pgpass"
            try writeFile(pgpass, Array("""
                # comment
                otherhost:5432:*:tailor:wrong
                db.example:6543:jobs:tailor:with\\:colon
                *:*:*:*:fallback
                """.utf8))
            let url = "postgres://tailor@db.example:6543/jobs"
            #expect(try PostgresSettings(url: url, passwordFile: passwordFile, environment: [:]).password == "from-file")
            #expect(try PostgresSettings(url: url, environment: ["PGPASSFILE": pgpass]).password == "with:colon")
            #expect(try PostgresSettings(url: "postgres://x@h/d", environment: ["PGPASSFILE": pgpass]).password == "fallback")
            #expect(try PostgresSettings(url: url, environment: ["HOME": directory]).password == nil)
            #expect(throws: PostgresStoreError.self) {
                try PostgresSettings(url: url, passwordFile: directory + "/missing", environment: [:])
            }
        }
    }

    @Test func placeholdersAreNumberedOutsideQuotes() {
        #expect(PostgresDatabase.numbered("SELECT ? , '?' , \"a?\" FROM t WHERE a = ? AND b IN (?,?)")
                == "SELECT $1 , '?' , \"a?\" FROM t WHERE a = $2 AND b IN ($3,$4)")
    }

    @Test func anUnreachableServerIsAClearErrorWithoutThePassword() throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let settings = try PostgresSettings(url: "postgres://tailor:hunter2-secret@127.0.0.1:1/tailor", environment: [:])
        try withDataDirectory { directory in
            let error = try #require(throws: PostgresStoreError.self) {
                try openStore(directory, .postgres(settings))
            }
            let message = "\(error)"
            #expect(message.contains("Cannot reach PostgreSQL at postgres://tailor@127.0.0.1:1/tailor"), "\(message)")
            #expect(message.lowercased().contains("refused"), "\(message)")
            #expect(!message.contains("hunter2"))
        }
    }
}
