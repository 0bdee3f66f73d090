// The shared queue through the store, on every backend: concurrent claims from several stores (as several processes
// would open them) take every job exactly once, the fair order across projects, and leases — a lapsed one is retired
// and the job claimed again under a higher generation, after which the old holder's every write is refused.
// The claim's change of status here stands in for TailorJobs' lifecycle, which has its own tests.
import Foundation
import Testing
@testable import TailorStore

@Suite struct ClaimTests {
    private func queued(_ id: String, _ project: String) -> JobRecord {
        var job = JobRecord(id: id, projectID: project, model: "base", trainingFile: "file-train", validationFile: nil, status: .queued,
                            hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1, metadata: nil, integrations: nil,
                            options: "{}", createdAt: 100)
        job.plan = "{}"
        return job
    }

    /// What the lifecycle's `.claimed` does to a queued job.
    private func claim(_ store: Store, _ worker: String, lease: Int = 60_000) throws -> JobRecord? {
        try store.claimNextJob(worker: worker, leaseMilliseconds: lease) { j in
            j.status = .running
            j.claimedBy = worker
            return [JobEventDraft(message: "claimed by \(worker)")]
        }?.job
    }

    @Test(arguments: testBackends) func concurrentClaimsFromSeveralStoresTakeEveryJobExactlyOnce(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            // Two stores on one data directory and database: two processes' worth of connections.
            let stores = [try openStore(directory, database), try openStore(directory, database)]
            defer { for s in stores { try? s.close() } }
            let projects = [try stores[0].listProjects()[0].id, try stores[0].ensureProject(named: "b").id,
                            try stores[0].ensureProject(named: "c").id]
            let jobs = 48
            for i in 0..<jobs { try stores[0].createJob(queued(String(format: "ftjob-%02d", i), projects[i % 3])) }
            // An unvalidated queued job (no plan) and a running one are never claimed.
            var unplanned = queued("ftjob-unplanned", projects[0]); unplanned.plan = nil
            try stores[0].createJob(unplanned)
            var running = queued("ftjob-running", projects[0]); running.status = .running
            try stores[0].createJob(running)

            let claims = Locked<[(job: String, worker: String, generation: Int)]>([])
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { t in
                let store = stores[t % 2], worker = "node\(t % 2)/1-x/train-\(t)"
                do {
                    while let job = try claim(store, worker) {
                        claims.withLock { $0.append((job.id, worker, job.leaseGeneration)) }
                    }
                } catch {
                    failures.withLock { $0.append("\(worker): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            let taken = claims.withLock { $0 }
            #expect(taken.count == jobs, "every job claimed exactly once: \(taken.count) claims")
            #expect(Set(taken.map(\.job)) == Set((0..<jobs).map { String(format: "ftjob-%02d", $0) }))
            #expect(taken.allSatisfy { $0.generation == 1 })
            for (id, worker, _) in taken {
                let row = try #require(try stores[1].job(id: id))
                #expect(row.status == .running && row.claimedBy == worker && row.leaseExpiresMs != nil)
                let events = try stores[1].events(job: id, afterSeq: 0)
                #expect(events.map(\.message) == ["claimed by \(worker)"], "the claim's events are stored with it")
            }
            #expect(try stores[0].job(id: "ftjob-unplanned")?.claimedBy == nil)
            #expect(try stores[0].job(id: "ftjob-running")?.claimedBy == nil)
        }
    }

    @Test(arguments: testBackends) func theNextClaimIsTheOldestJobOfTheProjectThatStartedLeastRecently(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let a = try store.listProjects()[0].id, b = try store.ensureProject(named: "b").id
            for id in ["ftjob-a1", "ftjob-a2", "ftjob-a3"] { try store.createJob(queued(id, a)) }
            try store.createJob(queued("ftjob-b1", b))
            try store.createJob(queued("ftjob-b2", b))
            var order: [String] = []
            while let job = try claim(store, "n/1-x/train-0") { order.append(job.id) }
            // a1 (oldest of all), then b's oldest (b never started one), then alternating while both have work.
            #expect(order == ["ftjob-a1", "ftjob-b1", "ftjob-a2", "ftjob-b2", "ftjob-a3"])
            #expect(try claim(store, "n/1-x/train-0") == nil)
        }
    }

    @Test(arguments: testBackends) func aLapsedLeaseIsRetiredReclaimedHigherAndItsOldHolderIsFenced(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            try store.createJob(queued("ftjob-l", project))
            try store.createJob(queued("ftjob-live", project))
            // A lease of 0 ms has lapsed the moment it is given: no waiting on a clock.
            let first = try #require(try claim(store, "old/1-a/train-0", lease: 0))
            let live = try #require(try claim(store, "live/1-b/train-0", lease: 600_000))
            let old = try #require(JobLease(first))
            #expect(first.id == "ftjob-l" && old.generation == 1)
            let expired = try store.expiredLeases()
            #expect(expired.map { $0.jobID } == ["ftjob-l"] && expired.first?.lease == old, "a live lease has not expired")

            // Retiring a live lease is refused; retiring the lapsed one works once.
            let liveLease = try #require(JobLease(live))
            #expect(throws: StoreError.leaseLost(jobID: "ftjob-live", worker: liveLease.worker, generation: 1)) {
                try store.updateJobWithEvents(id: "ftjob-live", requiring: .expired(liveLease)) { _ in [] }
            }
            let retire: (inout JobRecord) -> [JobEventDraft] = { j in
                j.status = .queued; j.claimedBy = nil; j.leaseExpiresMs = nil
                return [JobEventDraft(level: "warn", message: "lease expired")]
            }
            _ = try store.updateJobWithEvents(id: "ftjob-l", requiring: .expired(old), retire)
            #expect(throws: StoreError.self) { try store.updateJobWithEvents(id: "ftjob-l", requiring: .expired(old), retire) }

            let again = try #require(try claim(store, "new/2-c/train-0"))
            let new = try #require(JobLease(again))
            #expect(again.id == "ftjob-l" && new.generation == 2, "claimed again under a higher generation")

            // Every write of the old holder is refused; the new holder's go through.
            let lost = StoreError.leaseLost(jobID: "ftjob-l", worker: old.worker, generation: 1)
            #expect(throws: lost) { try store.updateJob(id: "ftjob-l", lease: old) { $0.step = 9 } }
            #expect(throws: lost) { try store.updateJobWithEvents(id: "ftjob-l", requiring: .held(old)) { j in j.status = .queued; return [] } }
            #expect(throws: lost) { try store.addEvent(job: "ftjob-l", level: "info", message: "step 9", type: "metrics", data: nil, lease: old) }
            let checkpoint = CheckpointRecord(id: "ftckpt_old", jobID: "ftjob-l", stepNumber: 9, createdAt: 1, modelName: "ft:x:ckpt-step-9",
                                              metrics: "{}", directory: "/nowhere")
            #expect(throws: lost) { try store.addCheckpoint(checkpoint, lease: old) }
            #expect(throws: lost) { try store.deleteMetricsEvents(job: "ftjob-l", afterStep: 0, lease: old) }
            #expect(throws: lost) {
                try store.addModel(FineTunedModelRecord(id: "ft:x", projectID: project, baseModel: "base", jobID: "ftjob-l",
                                                        adapterDirectory: "/nowhere", createdAt: 1, ownedBy: "default"), lease: old)
            }
            #expect(try store.renewLeases(["ftjob-l": old], leaseMilliseconds: 60_000) == ["ftjob-l"])
            let row = try #require(try store.job(id: "ftjob-l"))
            #expect(row.step == 0 && row.status == .running && JobLease(row) == new, "nothing of the old holder's landed")
            #expect(try store.checkpoints(job: "ftjob-l").isEmpty && (try store.allModels()).isEmpty)
            #expect(try store.events(job: "ftjob-l", afterSeq: 0).map(\.message) == ["claimed by old/1-a/train-0", "lease expired",
                                                                                     "claimed by new/2-c/train-0"])

            try store.updateJob(id: "ftjob-l", lease: new) { $0.step = 3 }
            try store.addEvent(job: "ftjob-l", level: "info", message: "step 3", type: "metrics", data: "{\"step\":3}", lease: new)
            try store.addCheckpoint(checkpoint, lease: new)
            #expect(try store.job(id: "ftjob-l")?.step == 3 && (try store.checkpoints(job: "ftjob-l")).count == 1)

            // Renewing pushes the expiry out: a lapsed-at-once lease renewed for 10 minutes is no longer expired.
            try store.createJob(queued("ftjob-z", project))
            #expect(try claim(store, "n/3-d/train-0", lease: 0)?.id == "ftjob-z")
            #expect(try store.expiredLeases().map { $0.jobID } == ["ftjob-z"])
            let renewedLeases = try store.expiredLeases().reduce(into: [String: JobLease]()) { $0[$1.jobID] = $1.lease }
            #expect(try store.renewLeases(renewedLeases, leaseMilliseconds: 600_000).isEmpty)
            #expect(try store.expiredLeases().isEmpty)
        }
    }
}
