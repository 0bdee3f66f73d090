// Notifications of job changes (Store+JobChanges.swift): on PostgreSQL a change committed through one store reaches
// a watcher on another store (another process's, in production) — an event, a job update, a claim — and the watch
// outlives its connection: cut by the server, or the server restarted (the restart runs only when the test is given
// the throwaway cluster's directory, TAILOR_TEST_PG_CLUSTER, as `make test-postgres` does in a run of its own, since
// a restart would cut the other tests' connections). SQLite has no notifications: no watch.
import Foundation
import Testing
@testable import TailorStore

/// What a watch heard, with a wait for a condition on it.
final class HeardChanges: Sendable {
    private let heard = Locked<[JobChange]>([])
    private let condition = NSCondition()

    func record(_ change: JobChange) {
        heard.withLock { $0.append(change) }
        condition.lock(); condition.broadcast(); condition.unlock()
    }

    var all: [JobChange] { heard.withLock { $0 } }

    /// Waits up to `seconds` for `predicate` to hold of what was heard; returns whether it did.
    func wait(seconds: Double, for predicate: ([JobChange]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock(); defer { condition.unlock() }
        while !predicate(all) {
            guard condition.wait(until: deadline) || predicate(all) else { return predicate(all) }
        }
        return true
    }

    func count(_ change: JobChange) -> Int { all.filter { $0 == change }.count }
}

private func queuedJob(_ id: String, _ project: String) -> JobRecord {
    var job = JobRecord(id: id, projectID: project, model: "base", trainingFile: "file-train", validationFile: nil, status: .queued,
                        hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1, metadata: nil, integrations: nil,
                        options: "{}", createdAt: 100)
    job.plan = "{}"
    return job
}

@Suite struct JobChangeTests {
    @Test func sqliteHasNoWatch() throws {
        try withDataDirectory(.sqlite) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            #expect(try store.watchJobChanges { _ in } == nil)
        }
    }

    @Test(.enabled(if: postgresTestURL != nil, "needs TAILOR_TEST_DATABASE_URL (make test-postgres)"))
    func aChangeCommittedThroughOneStoreReachesTheWatcherOfAnother() throws {
        try withDataDirectory(.postgres) { directory, database in
            let a = try openStore(directory, database), b = try openStore(directory, database)
            defer { try? a.close(); try? b.close() }
            let heard = HeardChanges()
            let watch = try #require(try b.watchJobChanges { heard.record($0) })
            defer { watch.stop() }
            #expect(heard.wait(seconds: 30) { $0.contains(.resync) }, "the watch listens")
            let project = try a.listProjects()[0].id
            try a.createJob(queuedJob("ftjob-one", project))
            try a.createJob(queuedJob("ftjob-two", project))

            // An event, then an update of the row, then a claim: each is heard, naming its job.
            try a.addEvent(job: "ftjob-one", level: "info", message: "hello", type: "message", data: nil)
            #expect(heard.wait(seconds: 30) { $0.contains(.changed(jobID: "ftjob-one")) })
            try a.updateJob(id: "ftjob-two") { $0.step = 3 }
            #expect(heard.wait(seconds: 30) { $0.contains(.changed(jobID: "ftjob-two")) })
            let before = heard.count(.changed(jobID: "ftjob-one"))
            let claimed = try a.claimNextJob(worker: "n/1-x/train-0", leaseMilliseconds: 60_000, fair: false) { j in
                j.status = .running; j.claimedBy = "n/1-x/train-0"; return []
            }
            #expect(claimed?.job.id == "ftjob-one")
            #expect(heard.wait(seconds: 30) { $0.filter { $0 == .changed(jobID: "ftjob-one") }.count > before })

            // A rolled-back change notifies nothing: the write after it is the next thing heard.
            let count = heard.all.count
            #expect(throws: StoreError.self) {
                try a.addEvent(job: "ftjob-two", level: "info", message: "fenced", type: "message", data: nil,
                               lease: JobLease(worker: "someone", generation: 9))
            }
            try a.addEvent(job: "ftjob-one", level: "info", message: "after", type: "message", data: nil)
            #expect(heard.wait(seconds: 30) { $0.count > count })
            #expect(Array(heard.all.dropFirst(count)) == [.changed(jobID: "ftjob-one")])
        }
    }

    @Test(.enabled(if: postgresTestURL != nil, "needs TAILOR_TEST_DATABASE_URL (make test-postgres)"))
    func aWatchWhoseConnectionTheServerCutsListensAgain() throws {
        try withDataDirectory(.postgres) { directory, database in
            guard case .postgres(let settings) = database else { return }
            let a = try openStore(directory, database), b = try openStore(directory, database)
            defer { try? a.close(); try? b.close() }
            let heard = HeardChanges()
            let watch = try #require(try b.watchJobChanges { heard.record($0) })
            defer { watch.stop() }
            #expect(heard.wait(seconds: 30) { $0.contains(.resync) })
            try a.createJob(queuedJob("ftjob-cut", try a.listProjects()[0].id))
            // The server ends every connection to this database (the listener's among them), as an idle timeout or
            // a failover would.
            try administer(try PostgresSettings(url: try #require(postgresTestURL)), """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(settings.database)'
                """)
            #expect(heard.wait(seconds: 30) { $0.contains(.interrupted) }, "the watch says it lost its connection")
            #expect(heard.wait(seconds: 60) { $0.filter { $0 == .resync }.count >= 2 }, "and listens again")
            try a.addEvent(job: "ftjob-cut", level: "info", message: "after the cut", type: "message", data: nil)
            #expect(heard.wait(seconds: 30) { $0.contains(.changed(jobID: "ftjob-cut")) })
        }
    }
}

/// The server restarted under a watch (`pg-test-cluster.sh restart`): the watch listens again by itself.
@Suite(.enabled(if: postgresTestURL != nil && ProcessInfo.processInfo.environment["TAILOR_TEST_PG_CLUSTER"] != nil,
                "needs TAILOR_TEST_DATABASE_URL and TAILOR_TEST_PG_CLUSTER (make test-postgres runs it on its own)"))
struct JobChangeRestartTests {
    @Test func aWatchListensAgainAfterTheServerRestarts() throws {
        let cluster = try #require(ProcessInfo.processInfo.environment["TAILOR_TEST_PG_CLUSTER"])
        try withDataDirectory(.postgres) { directory, database in
            let a = try openStore(directory, database), b = try openStore(directory, database)
            defer { try? a.close(); try? b.close() }
            let heard = HeardChanges()
            let watch = try #require(try b.watchJobChanges { heard.record($0) })
            defer { watch.stop() }
            #expect(heard.wait(seconds: 30) { $0.contains(.resync) })
            try a.createJob(queuedJob("ftjob-restart", try a.listProjects()[0].id))

            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/pg-test-cluster.sh").path
            #expect(try run(script, "restart", cluster) == 0)

            #expect(heard.wait(seconds: 30) { $0.contains(.interrupted) })
            #expect(heard.wait(seconds: 60) { $0.filter { $0 == .resync }.count >= 2 }, "the watch listens again")
            // The store's own connections were cut too; its next transaction opens a fresh one.
            try a.addEvent(job: "ftjob-restart", level: "info", message: "after the restart", type: "message", data: nil)
            #expect(heard.wait(seconds: 30) { $0.contains(.changed(jobID: "ftjob-restart")) })
        }
    }
}

/// Runs a program and waits for it; returns its exit status. (Not Foundation's Process: its waitUntilExit can hang on
/// Linux when called off the main thread.)
private func run(_ program: String, _ arguments: String...) throws -> Int32 {
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, nil, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 { guard errno == EINTR else { throw POSIXError(.ECHILD) } }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
}
