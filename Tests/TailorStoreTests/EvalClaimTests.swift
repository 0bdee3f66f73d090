// Eval runs on the shared queue through the store, on every backend: concurrent claims from several stores take every
// runnable run exactly once, interrupted runs before queued ones; a lapsed lease is taken over under a higher
// generation and the old holder's writes of items, counts and status are refused; a released run is claimable at once.
import Foundation
import Testing
@testable import TailorStore

@Suite struct EvalClaimTests {
    private func run(_ id: String, _ project: String, _ status: EvalRunStatus = .queued) -> EvalRunRecord {
        var r = EvalRunRecord(id: id, evalID: "eval_c", projectID: project, name: id, model: "", dataSource: "{}", items: "[]",
                              metadata: nil, tally: "{}", createdAt: 1)
        r.status = status
        return r
    }

    private func item(_ run: String, _ index: Int) -> EvalOutputItemRecord {
        EvalOutputItemRecord(id: "outputitem_\(run)_\(index)", runID: run, evalID: "eval_c", datasourceItemID: index,
                             status: "pass", datasourceItem: "{}", results: "[]", sample: "{}", createdAt: 1)
    }

    private func prepare(_ store: Store) throws -> String {
        let project = try store.listProjects()[0].id
        try store.createEval(EvalRecord(id: "eval_c", projectID: project, name: "c", dataSourceConfig: "{}", testingCriteria: "[]",
                                        metadata: nil, createdAt: 1))
        return project
    }

    @Test(arguments: testBackends) func concurrentClaimsFromSeveralStoresTakeEveryRunnableRunExactlyOnce(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let stores = [try openStore(directory, database), try openStore(directory, database)]
            defer { for s in stores { try? s.close() } }
            let project = try prepare(stores[0])
            let runs = 40
            for i in 0..<runs { try stores[0].createEvalRun(run(String(format: "evalrun_%02d", i), project, i % 4 == 0 ? .inProgress : .queued)) }
            for status in [EvalRunStatus.completed, .failed, .canceled] { try stores[0].createEvalRun(run("evalrun_\(status.rawValue)", project, status)) }

            let claims = Locked<[(run: String, worker: String, generation: Int)]>([])
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { t in
                let store = stores[t % 2], worker = "node\(t % 2)/1-x/eval-\(t)"
                do {
                    while let claimed = try store.claimNextEvalRun(worker: worker, leaseMilliseconds: 60_000) {
                        claims.withLock { $0.append((claimed.run.id, worker, claimed.lease.generation)) }
                    }
                } catch {
                    failures.withLock { $0.append("\(worker): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            let taken = claims.withLock { $0 }
            #expect(taken.count == runs, "every runnable run claimed exactly once: \(taken.count) claims")
            #expect(Set(taken.map(\.run)) == Set((0..<runs).map { String(format: "evalrun_%02d", $0) }))
            #expect(taken.allSatisfy { $0.generation == 1 })
            for (id, worker, _) in taken {
                let row = try #require(try stores[1].evalRun(id: id))
                #expect(row.claimedBy == worker && row.leaseExpiresMs != nil)
                #expect(row.status == (Int(id.suffix(2))! % 4 == 0 ? .inProgress : .queued), "a claim leaves the status to the runner")
            }
            #expect(try stores[0].claimedEvalRuns().count == runs)
        }
    }

    @Test(arguments: testBackends) func interruptedRunsComeFirstThenQueuedOnesOldestFirst(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try prepare(store)
            try store.createEvalRun(run("evalrun_q1", project))
            try store.createEvalRun(run("evalrun_p1", project, .inProgress))
            try store.createEvalRun(run("evalrun_q2", project))
            try store.createEvalRun(run("evalrun_p2", project, .inProgress))
            try store.createEvalRun(run("evalrun_broken", project))
            var order: [String] = []
            while let claimed = try store.claimNextEvalRun(worker: "n/1-x/eval", leaseMilliseconds: 60_000, excluding: ["evalrun_broken"]) {
                order.append(claimed.run.id)
                #expect(claimed.previous == nil)
            }
            #expect(order == ["evalrun_p1", "evalrun_p2", "evalrun_q1", "evalrun_q2"])
        }
    }

    @Test(arguments: testBackends) func aLapsedLeaseIsTakenOverAndItsOldHolderIsFenced(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try prepare(store)
            try store.createEvalRun(run("evalrun_live", project))
            try store.createEvalRun(run("evalrun_l", project))
            let live = try #require(try store.claimNextEvalRun(worker: "live/1-b/eval", leaseMilliseconds: 600_000))
            try store.updateEvalRun(id: "evalrun_live", lease: live.lease) { $0.status = .inProgress }
            // A lease of 0 ms has lapsed the moment it is given: no waiting on a clock.
            let first = try #require(try store.claimNextEvalRun(worker: "old/1-a/eval", leaseMilliseconds: 0))
            #expect(first.run.id == "evalrun_l" && first.lease.generation == 1)
            let old = first.lease
            try store.updateEvalRun(id: "evalrun_l", lease: old) { $0.status = .inProgress }
            try store.addEvalOutputItem(item("evalrun_l", 0), lease: old) { r in r.tally = "{\"total\":1}"; return true }

            // The in_progress run under a live lease (older) is not taken over; the lapsed one is.
            let taken = try #require(try store.claimNextEvalRun(worker: "new/2-c/eval", leaseMilliseconds: 600_000))
            #expect(taken.run.id == "evalrun_l" && taken.lease.generation == 2 && taken.previous == old)
            #expect(try store.claimNextEvalRun(worker: "other/3-d/eval", leaseMilliseconds: 600_000) == nil, "both runs are held")

            let lost = StoreError.leaseLost(jobID: "evalrun_l", worker: old.worker, generation: 1)
            #expect(throws: lost) { try store.addEvalOutputItem(item("evalrun_l", 1), lease: old) { r in r.tally = "{\"total\":2}"; return true } }
            #expect(throws: lost) { try store.updateEvalRun(id: "evalrun_l", lease: old) { $0.status = .completed } }
            #expect(try store.renewEvalRunLease(id: "evalrun_l", lease: old, leaseMilliseconds: 60_000) == nil)
            #expect(try !store.releaseEvalRun(id: "evalrun_l", lease: old), "the old holder cannot give back what it lost")
            let row = try #require(try store.evalRun(id: "evalrun_l"))
            #expect(row.status == .inProgress && row.tally == "{\"total\":1}" && JobLease(row) == taken.lease, "nothing of the old holder's landed")
            #expect(try store.gradedItemIndices(run: "evalrun_l") == [0])

            // The new holder resumes after the stored item; its writes go through, its renewals see the status.
            try store.addEvalOutputItem(item("evalrun_l", 1), lease: taken.lease) { r in r.tally = "{\"total\":2}"; return true }
            #expect(try store.renewEvalRunLease(id: "evalrun_l", lease: taken.lease, leaseMilliseconds: 60_000) == .inProgress)
            try store.updateEvalRun(id: "evalrun_l") { $0.status = .canceled }   // the user, on any node: no lease
            #expect(try store.renewEvalRunLease(id: "evalrun_l", lease: taken.lease, leaseMilliseconds: 60_000) == .canceled)
            #expect(try store.gradedItemIndices(run: "evalrun_l") == [0, 1])
        }
    }

    @Test(arguments: testBackends) func aReleasedRunIsClaimableAtOnce(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let a = try openStore(directory, database)
            defer { try? a.close() }
            let b = try openStore(directory, database)
            defer { try? b.close() }
            let project = try prepare(a)
            try a.createEvalRun(run("evalrun_r", project))
            let held = try #require(try a.claimNextEvalRun(worker: "a/1-a/eval", leaseMilliseconds: 600_000))
            try a.updateEvalRun(id: "evalrun_r", lease: held.lease) { $0.status = .inProgress }
            #expect(try b.claimNextEvalRun(worker: "b/1-b/eval", leaseMilliseconds: 600_000) == nil, "held for ten minutes")
            #expect(try a.releaseEvalRun(id: "evalrun_r", lease: held.lease))
            let row = try #require(try b.evalRun(id: "evalrun_r"))
            #expect(row.claimedBy == nil && row.leaseExpiresMs == nil && row.status == .inProgress)
            let resumed = try #require(try b.claimNextEvalRun(worker: "b/1-b/eval", leaseMilliseconds: 600_000))
            #expect(resumed.run.id == "evalrun_r" && resumed.lease.generation == 2 && resumed.previous == nil)
            #expect(throws: StoreError.leaseLost(jobID: "evalrun_r", worker: "a/1-a/eval", generation: 1)) {
                try a.updateEvalRun(id: "evalrun_r", lease: held.lease) { $0.status = .completed }
            }
        }
    }
}
