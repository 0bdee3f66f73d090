// `tailor store migrate`: a SQLite installation with rows in every table is copied into an empty PostgreSQL database,
// row for row (seq included), and its directory then opens with PostgreSQL and works; a target that already holds
// data, a directory another process has open, and an already migrated directory are refused with nothing changed.
// Runs when TAILOR_TEST_DATABASE_URL is set (`make test-postgres`).
import Foundation
import GRDB
import Testing
@testable import TailorStore

@Suite(.enabled(if: postgresTestURL != nil, "needs TAILOR_TEST_DATABASE_URL (make test-postgres)"))
struct InstallationCopyTests {
    /// An installation with rows in every table: two projects, keys (one revoked, one admin), a file with bytes,
    /// jobs with events and checkpoints, a model, a base model, an eval with a run and output items.
    private func populate(_ directory: String) throws -> (secret: String, fileID: String, bytes: [UInt8], project: String) {
        let store = try openStore(directory)
        defer { try? store.close() }
        let other = try store.ensureProject(named: "research")
        let (_, secret) = try store.createKey(project: ProjectRecord.defaultName, name: "ci", admin: false)
        let (revoked, _) = try store.createKey(project: "research", name: "old", admin: true)
        try store.revokeKey(id: revoked.id)
        let bytes = sampleBytes(count: 70_000, seed: 3)
        let file = try store.createFile(project: other.id, filename: "train.jsonl", purpose: "fine-tune", bytes: bytes)
        for (i, status) in [JobStatus.succeeded, .queued, .failed].enumerated() {
            try store.createJob(JobRecord(id: "ftjob-\(i)", projectID: other.id, model: "base", trainingFile: file.id,
                                          validationFile: nil, status: status, hyperparameters: "{\"n_epochs\":\"auto\"}",
                                          methodType: "supervised", suffix: i == 0 ? "s" : nil, seed: 7, metadata: "{\"k\":\"v\"}",
                                          integrations: nil, options: "{}", createdAt: 100 + i))
            for e in 0..<30 { _ = try store.addEvent(job: "ftjob-\(i)", level: "info", message: "event \(e)", type: e % 2 == 0 ? "metrics" : "message",
                                                     data: e % 2 == 0 ? "{\"step\":\(e)}" : nil) }
        }
        // Gaps in seq (rows deleted), which the copy keeps: listings and event cursors follow seq.
        try store.deleteMetricsEvents(job: "ftjob-2", afterStep: 20)
        _ = try store.updateJob(id: "ftjob-0") { $0.step = 12; $0.totalSteps = 12; $0.fineTunedModel = "ft:base:research:s:0" }
        try store.addCheckpoint(CheckpointRecord(id: "ftckpt-a", jobID: "ftjob-0", stepNumber: 12, createdAt: 5,
                                                 modelName: "ft:base:research:s:0", metrics: "{}", directory: directory + "/jobs/ftjob-0/12"))
        try store.addModel(FineTunedModelRecord(id: "ft:base:research:s:0", projectID: other.id, baseModel: "base", jobID: "ftjob-0",
                                                adapterDirectory: directory + "/jobs/ftjob-0/12", createdAt: 6, ownedBy: "research"))
        try store.addBaseModel(name: "base", path: "/models/base.gguf")
        // Uploads: one pending (its Parts stay in the directory), one cancelled.
        _ = try store.createUpload(project: other.id, filename: "u.jsonl", purpose: "fine-tune", mimeType: "text/jsonl",
                                   bytes: 10, fileExpiresAfter: 3600)
        let cancelled = try store.createUpload(project: other.id, filename: "c.txt", purpose: "user_data", mimeType: "text/plain",
                                               bytes: 1, fileExpiresAfter: nil)
        _ = try store.cancelUpload(id: cancelled.id, project: other.id)
        try store.createEval(EvalRecord(id: "eval_a", projectID: other.id, name: "e", dataSourceConfig: "{}", testingCriteria: "[]",
                                        metadata: nil, createdAt: 1))
        try store.createEvalRun(EvalRunRecord(id: "evalrun_a", evalID: "eval_a", projectID: other.id, name: "r", model: "m",
                                              dataSource: "{}", items: "[]", metadata: nil, tally: "{}", createdAt: 1))
        _ = try store.updateEvalRun(id: "evalrun_a") { $0.status = .inProgress }
        for i in 0..<3 {
            _ = try store.addEvalOutputItem(EvalOutputItemRecord(id: "outputitem_\(i)", runID: "evalrun_a", evalID: "eval_a",
                                                                 datasourceItemID: i, status: "pass", datasourceItem: "{}",
                                                                 results: "[]", sample: "{}", createdAt: 1)) { _ in true }
        }
        // A claim records when the project last started a job (project_starts, a table without seq).
        _ = try store.updateJob(id: "ftjob-1") { $0.plan = "{}" }
        _ = try store.claimNextJob(worker: "node/1", leaseMilliseconds: 1000) { j in j.status = .running; j.claimedBy = "node/1"; return [] }
        return (secret, file.id, bytes, other.id)
    }

    /// Every row of every table as text, in seq order (booleans as 0/1, as SQLite keeps them).
    private func dump(_ rows: (String) throws -> [[String]]) throws -> [String: [[String]]] {
        var all: [String: [[String]]] = [:]
        for table in InstallationCopy.tables { all[table] = try rows(table) }
        return all
    }

    @Test func copiesEveryRowAndTheDirectoryThenOpensWithPostgreSQL() throws {
        try withDataDirectory { directory in
            let settings = try makeTestDatabase()
            defer { try? dropTestDatabase(settings) }
            let (secret, fileID, bytes, project) = try populate(directory)

            let report = try InstallationCopy.run(dataDirectory: directory, to: settings, logger: LogRecorder().logger)
            let counts = Dictionary(uniqueKeysWithValues: report.rows.map { ($0.table, $0.count) })
            #expect(counts["projects"] == 2 && counts["api_keys"] == 2 && counts["jobs"] == 3 && counts["job_events"] == 86)
            #expect(counts["eval_output_items"] == 3 && counts["checkpoints"] == 1 && counts["models"] == 1 && counts["project_starts"] == 1)
            #expect(!fileExists(directory + "/tailor.sqlite") && fileExists(report.keptSQLite))
            #expect(try String(contentsOfFile: directory + "/database.id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == report.databaseID)

            // Row for row, column for column, against the SQLite file that was set aside.
            let queue = try DatabaseQueue(path: report.keptSQLite)
            let before = try dump { table in
                try queue.read { db in
                    try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(table == "project_starts" ? "project_id" : "seq")").map { row in
                        row.columnNames.sorted().map { c -> String in
                            switch (row[c] as DatabaseValue).storage {
                            case .null: "NULL"
                            case .int64(let i): "\(i)"
                            case .string(let s): s
                            case .double(let d): "\(d)"
                            case .blob(let b): "\(b)"
                            }
                        }
                    }
                }
            }
            let store = try openStore(directory, .postgres(settings))
            defer { try? store.close() }
            let after = try dump { table in
                let columns = try store.database.read { db in
                    try db.scalars(String.self, "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY column_name", [table])
                }
                let text = columns.map { "COALESCE(CASE WHEN pg_typeof(\($0))::text = 'boolean' THEN (\($0)::int)::text ELSE \($0)::text END, 'NULL')" }
                let joined = try store.database.read { db in
                    try db.scalars(String.self, "SELECT " + text.joined(separator: " || chr(31) || ") + " FROM \(table) ORDER BY \(table == "project_starts" ? "project_id" : "seq")", [])
                }
                return joined.map { $0.components(separatedBy: "\u{1F}") }
            }
            for table in InstallationCopy.tables {
                #expect(before[table]!.count == after[table]!.count, "table \(table)")
                #expect(before[table]! == after[table]!, "table \(table)")
            }

            // And the installation works on PostgreSQL: the key, the file's bytes, the events in order, new rows after old.
            #expect(try store.authenticate(secret: secret)?.projectName == ProjectRecord.defaultName)
            #expect(try store.listKeys().filter(\.isRevoked).map(\.name) == ["old"])
            let file = try #require(try store.file(id: fileID, project: project))
            #expect(try readFile(store.contentPath(of: file)) == bytes)
            #expect(try store.listEvents(job: "ftjob-1", after: nil, limit: 100).items.map(\.message) == (0..<30).reversed().map { "event \($0)" })
            _ = try store.addEvent(job: "ftjob-1", level: "info", message: "after the move", type: "message", data: nil)
            #expect(try store.listEvents(job: "ftjob-1", after: nil, limit: 1).items.map(\.message) == ["after the move"])
            #expect(try store.model(id: "ft:base:research:s:0")?.adapterDirectory == directory + "/jobs/ftjob-0/12")
        }
    }

    @Test func refusesADatabaseThatAlreadyHoldsAnInstallation() throws {
        try withDataDirectory { root in
            let settings = try makeTestDatabase()
            defer { try? dropTestDatabase(settings) }
            _ = try populate(root + "/a")
            _ = try InstallationCopy.run(dataDirectory: root + "/a", to: settings, logger: LogRecorder().logger)
            _ = try populate(root + "/b")
            #expect { try InstallationCopy.run(dataDirectory: root + "/b", to: settings, logger: LogRecorder().logger) } throws: { error in
                "\(error)".contains("already holds Tailor data") && "\(error)".contains("2 api_keys")
            }
            #expect(fileExists(root + "/b/tailor.sqlite") && !fileExists(root + "/b/database.id"), "the second directory is untouched")
            // And a directory already moved has nothing left to move.
            #expect { try InstallationCopy.run(dataDirectory: root + "/a", to: settings, logger: LogRecorder().logger) } throws: { error in
                "\(error)".contains("already belongs to a PostgreSQL database")
            }
        }
    }

    @Test func refusesADirectoryAnotherProcessHasOpenAndChangesNothing() throws {
        try withDataDirectory { directory in
            let settings = try makeTestDatabase()
            defer { try? dropTestDatabase(settings) }
            _ = try populate(directory)
            let running = try openStore(directory)   // as `tailor serve` would hold it
            #expect { try InstallationCopy.run(dataDirectory: directory, to: settings, logger: LogRecorder().logger) } throws: { error in
                "\(error)".contains("another Tailor process has") && "\(error)".contains("open")
            }
            try running.close()
            #expect(fileExists(directory + "/tailor.sqlite") && !fileExists(directory + "/database.id"))
            // Once it has stopped, the move goes through.
            let report = try InstallationCopy.run(dataDirectory: directory, to: settings, logger: LogRecorder().logger)
            #expect(report.rows.first { $0.table == "jobs" }?.count == 3)
        }
    }
}
