// A job whose worker's lease lapses again and again (a job that takes its worker down, or whose failure cannot be
// written) is re-queued at its first lapses and failed at JobRunner.leaseLapseLimit, instead of being retried for ever.
import Foundation
import Logging
import Testing
import TailorStore
@testable import TailorJobs

@Suite struct LeaseLapseTests {
    @Test func aJobIsFailedAtItsThirdLeaseLapseInsteadOfQueuedAgain() throws {
        let directory = NSTemporaryDirectory() + "tailor-lapse-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let store = try Store.open(dataDirectory: directory, logger: quiet)
        defer { try? store.close() }
        let runner = JobRunner(store: store, registry: try ModelRegistry(store: store, modelPaths: [], logger: quiet), gate: ComputeGate(),
                               events: JobEvents(store: store, logger: quiet),
                               speed: TrainingSpeed(dataDirectory: store.dataDirectory, sgemmGFLOPS: 10), workers: 1, logger: quiet)
        var job = JobRecord(id: "ftjob-lapses", projectID: try store.listProjects()[0].id, model: "base", trainingFile: "file-train",
                            validationFile: nil, status: .queued, hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1,
                            metadata: nil, integrations: nil, options: "{}", createdAt: 100)
        job.plan = "{}"
        try store.createJob(job)
        #expect(JobRunner.leaseLapseLimit == 3)
        for lapse in 1...JobRunner.leaseLapseLimit {
            // Another process's worker claims it with a lease that has lapsed already, as if it died at once.
            let dead = "gone-\(lapse)/1-x/train-0"
            let claimed = try store.claimNextJob(worker: dead, leaseMilliseconds: -1) { j in
                j.status = .running; j.claimedBy = dead; return []
            }
            #expect(claimed?.job.id == job.id)
            runner.expireLapsedLeases()
            let row = try #require(try store.job(id: job.id))
            #expect(row.leaseLapses == lapse && row.claimedBy == nil)
            let messages = try store.events(job: job.id, afterSeq: 0).map(\.message)
            if lapse < JobRunner.leaseLapseLimit {
                #expect(row.status == .queued, "lapse \(lapse) re-queues it")
                #expect(messages.filter { $0.hasPrefix("The worker running the job stopped renewing its lease") }.count == lapse)
            } else {
                #expect(row.status == .failed, "lapse \(lapse) fails it")
                let error = try JSONDecoder().decode(JobError.self, from: Data(try #require(row.error).utf8))
                #expect(error.code == "worker_lost" && error.message.contains("3 times"))
                #expect(messages.filter { $0.hasPrefix("The worker running the job stopped renewing its lease") }.count == lapse - 1)
            }
        }
        // Failed: nothing claims it any more.
        #expect(try store.claimNextJob(worker: "late/1-x/train-0", leaseMilliseconds: 60_000) { j in
            j.status = .running; j.claimedBy = "late/1-x/train-0"; return []
        } == nil)
    }
}
