// The jobs tables through the store, on every backend: listings and cursors (newest first), the metadata filter,
// events in both directions, checkpoints, fine-tuned and base models, and the refusals that guard live jobs.
// Not the job lifecycle: which changes are allowed is TailorJobs' business; here rows go in and come back.
import Foundation
import Testing
@testable import TailorStore

@Suite struct JobStoreTests {
    private func job(_ id: String, _ project: String, status: JobStatus = .queued, metadata: String? = nil,
                     model: String = "base") -> JobRecord {
        JobRecord(id: id, projectID: project, model: model, trainingFile: "file-train", validationFile: nil, status: status,
                  hyperparameters: "{\"n_epochs\":\"auto\"}", methodType: "supervised", suffix: nil, seed: 7,
                  metadata: metadata, integrations: nil, options: "{}", createdAt: 100)
    }

    @Test(arguments: testBackends) func jobsRoundTripAndListNewestFirstWithFilters(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            let other = try store.ensureProject(named: "other").id
            try store.createJob(job("ftjob-0", project, metadata: "{\"team\":\"a\",\"tier\":\"x\"}"))
            try store.createJob(job("ftjob-1", project, status: .running, metadata: "{\"team\":\"b\"}"))
            try store.createJob(job("ftjob-2", project, status: .succeeded))
            try store.createJob(job("ftjob-3", project, metadata: "{\"team\":\"a\"}"))
            try store.createJob(job("ftjob-x", other))
            #expect(throws: StoreError.unknownProject("proj_none")) { try store.createJob(job("ftjob-n", "proj_none")) }

            let stored = try #require(try store.job(id: "ftjob-0", project: project))
            var expected = job("ftjob-0", project, metadata: "{\"team\":\"a\",\"tier\":\"x\"}")
            expected.seq = stored.seq
            #expect(stored == expected, "every column comes back as written")
            #expect(try store.job(id: "ftjob-x", project: project) == nil, "another project's job looks missing")
            #expect(try store.job(id: "ftjob-x")?.projectID == other)

            let first = try store.listJobs(project: project, after: nil, limit: 2)
            #expect(first.items.map(\.id) == ["ftjob-3", "ftjob-2"] && first.hasMore)
            let rest = try store.listJobs(project: project, after: "ftjob-2", limit: 10)
            #expect(rest.items.map(\.id) == ["ftjob-1", "ftjob-0"] && !rest.hasMore)
            #expect(throws: StoreError.unknownCursor("ftjob-x")) { try store.listJobs(project: project, after: "ftjob-x", limit: 10) }
            #expect(throws: StoreError.self) { try store.listJobs(project: project, after: nil, limit: 101) }
            #expect(try store.listJobs(project: project, after: nil, limit: 10, metadata: ["team": "a"]).items.map(\.id) == ["ftjob-3", "ftjob-0"])
            #expect(try store.listJobs(project: project, after: nil, limit: 10, metadata: ["team": "a", "tier": "x"]).items.map(\.id) == ["ftjob-0"])
            #expect(try store.listJobs(project: project, after: nil, limit: 10, metadataIsNull: true).items.map(\.id) == ["ftjob-2"])

            #expect(try store.jobs(withStatus: [.queued, .running]).map(\.id) == ["ftjob-0", "ftjob-1", "ftjob-3", "ftjob-x"])
            #expect(try store.jobCountsByStatus() == ["queued": 3, "running": 1, "succeeded": 1])

            let updated = try #require(try store.updateJob(id: "ftjob-1") { $0.status = .paused; $0.claimedBy = nil; $0.error = "{\"code\":\"x\"}" })
            #expect(updated.status == .paused && updated.error == "{\"code\":\"x\"}")
            #expect(try store.job(id: "ftjob-1") == updated)
            #expect(try store.updateJob(id: "ftjob-none") { $0.step = 1 } == nil)
            // A change that throws writes nothing.
            #expect(throws: StoreError.self) {
                try store.updateJob(id: "ftjob-1") { $0.step = 99; throw StoreError.unknownKey("boom") }
            }
            #expect(try store.job(id: "ftjob-1")?.step == 0)
        }
    }

    @Test(arguments: testBackends) func eventsListBothWaysAndCommitWithTheirJob(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            try store.createJob(job("ftjob-e", project))
            let created = try store.addEvent(job: "ftjob-e", level: "info", message: "created", type: "message", data: nil)
            #expect(created.seq != nil && created.id.hasPrefix("ftevent-"))
            for step in 1...4 {
                _ = try store.addEvent(job: "ftjob-e", level: "info", message: "step \(step)", type: "metrics", data: "{\"step\":\(step)}")
            }
            let (job, events) = try #require(try store.updateJobWithEvents(id: "ftjob-e") { job in
                job.status = .running
                return [JobEventDraft(message: "running"), JobEventDraft(level: "warn", message: "slow", type: "message")]
            })
            #expect(job.status == .running && events.map(\.message) == ["running", "slow"])
            #expect(events[0].seq! < events[1].seq!)

            let newest = try store.listEvents(job: "ftjob-e", after: nil, limit: 3)
            #expect(newest.items.map(\.message) == ["slow", "running", "step 4"] && newest.hasMore)
            let older = try store.listEvents(job: "ftjob-e", after: newest.items.last!.id, limit: 10)
            #expect(older.items.map(\.message) == ["step 3", "step 2", "step 1", "created"] && !older.hasMore)
            #expect(try store.events(job: "ftjob-e", afterSeq: created.seq!, limit: 2).map(\.message) == ["step 1", "step 2"])
            let together = try #require(try store.jobWithEvents(id: "ftjob-e", afterSeq: events[0].seq!))
            #expect(together.job.status == .running && together.events.map(\.message) == ["slow"])

            // A resumed run logs steps after 2 again: the old ones go, other events stay.
            try store.deleteMetricsEvents(job: "ftjob-e", afterStep: 2)
            #expect(try store.events(job: "ftjob-e", afterSeq: 0).map(\.message) == ["created", "step 1", "step 2", "running", "slow"])
        }
    }

    @Test(arguments: testBackends) func checkpointsAndModels(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            try store.createJob(job("ftjob-c", project, status: .succeeded))
            for step in [10, 20, 30] {
                try store.addCheckpoint(CheckpointRecord(id: "ftckpt-\(step)", jobID: "ftjob-c", stepNumber: step, createdAt: 5,
                                                         modelName: "ft:base:ckpt-step-\(step)", metrics: "{}", directory: "/d/\(step)"))
            }
            #expect(throws: (any Error).self, "model names are unique") {
                try store.addCheckpoint(CheckpointRecord(id: "ftckpt-dup", jobID: "ftjob-c", stepNumber: 40, createdAt: 5,
                                                         modelName: "ft:base:ckpt-step-10", metrics: "{}", directory: "/d"))
            }
            let page = try store.listCheckpoints(job: "ftjob-c", after: nil, limit: 2)
            #expect(page.items.map(\.stepNumber) == [30, 20] && page.hasMore)
            #expect(try store.listCheckpoints(job: "ftjob-c", after: "ftckpt-20", limit: 10).items.map(\.stepNumber) == [10])
            #expect(try store.checkpoints(job: "ftjob-c").map(\.id) == ["ftckpt-10", "ftckpt-20", "ftckpt-30"])
            try store.renameCheckpoint(id: "ftckpt-30", to: "ft:base:final")
            #expect(try store.checkpoint(modelName: "ft:base:final")?.id == "ftckpt-30")
            try store.deleteCheckpoint(id: "ftckpt-10")
            #expect(try store.checkpoints(job: "ftjob-c").count == 2)

            let model = FineTunedModelRecord(id: "ft:base:final", projectID: project, baseModel: "base", jobID: "ftjob-c",
                                             adapterDirectory: "/d/final", createdAt: 6, ownedBy: "default")
            try store.addModel(model)
            try store.addModel(FineTunedModelRecord(id: "ft:base:other", projectID: project, baseModel: "base", jobID: nil,
                                                    adapterDirectory: "/d/o", createdAt: 7, ownedBy: "default"))
            #expect(try store.model(id: "ft:base:final") == model)
            #expect(try store.allModels().map(\.id) == ["ft:base:final", "ft:base:other"])
            // A job that has not finished and starts from the model keeps it.
            try store.createJob(job("ftjob-next", project, status: .queued, model: "ft:base:final"))
            #expect(throws: StoreError.modelInUse(model: "ft:base:final", jobID: "ftjob-next")) {
                try store.deleteModel(id: "ft:base:final", project: project)
            }
            #expect(try store.deleteModel(id: "ft:base:other", project: "proj_elsewhere") == false)
            #expect(try store.deleteModel(id: "ft:base:other", project: project))
            #expect(try store.model(id: "ft:base:other") == nil)

            try store.addBaseModel(name: "a", path: "/m/a")
            try store.addBaseModel(name: "b", path: "/m/b")
            try store.addBaseModel(name: "a", path: "/m/a2")
            #expect(try store.baseModels().map(\.id) == ["b", "a"], "a re-added model lists last, as SQLite's REPLACE does")
            #expect(try store.baseModels().last?.path == "/m/a2")
            #expect(try store.removeBaseModel(name: "a"))
            #expect(try !store.removeBaseModel(name: "a"))
        }
    }

    /// A job's evaluation is written by the change that leaves it succeeded, in its transaction: a reader that sees
    /// the job succeeded finds the eval; a change that leaves it otherwise (a cancel that won) writes no eval.
    @Test(arguments: testBackends) func anEvaluationCommitsWithTheSuccessOnly(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            for (id, status) in [("won", JobStatus.succeeded), ("lost", .cancelled)] {
                try store.createJob(job("ftjob-\(id)", project, status: .running))
                let eval = EvalRecord(id: "eval_\(id)", projectID: project, name: id, dataSourceConfig: "{}", testingCriteria: "[]",
                                      metadata: nil, createdAt: 1)
                let runs = [EvalRunRecord(id: "evalrun_\(id)", evalID: eval.id, projectID: project, name: "base", model: "m",
                                          dataSource: "{}", items: "[]", metadata: nil, tally: "{}", createdAt: 1)]
                let written = try store.updateJobWithEvents(id: "ftjob-\(id)", evaluationOnSuccess: (eval, runs)) { j in
                    j.status = status
                    return []
                }
                #expect(written?.job.status == status)
                let stored = try store.eval(id: eval.id), storedRun = try store.evalRun(id: "evalrun_\(id)")
                #expect((stored != nil) == (status == .succeeded), "\(id): the eval is written with a success only")
                #expect((storedRun != nil) == (status == .succeeded), "\(id): and so are its runs")
            }
        }
    }

    @Test(arguments: testBackends) func evalRunsItemsAndAJobsEvaluation(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            try store.createJob(job("ftjob-v", project, status: .succeeded))
            let eval = EvalRecord(id: "eval_v", projectID: project, name: "v", dataSourceConfig: "{}", testingCriteria: "[]",
                                  metadata: nil, createdAt: 1)
            let runs = (0..<3).map { i in
                EvalRunRecord(id: "evalrun_\(i)", evalID: "eval_v", projectID: project, name: "r\(i)", model: "m",
                              dataSource: "{}", items: "[]", metadata: nil, tally: "{}", createdAt: 1)
            }
            try store.createJobEvaluation(eval, runs: runs, job: "ftjob-v", jobEvaluation: "{\"eval_id\":\"eval_v\"}")
            #expect(try store.job(id: "ftjob-v")?.evaluationRuns == "{\"eval_id\":\"eval_v\"}")
            #expect(try store.eval(id: "eval_v")?.name == "v")
            #expect(try store.updateEval(id: "eval_v", project: project) { $0.name = "renamed" }?.name == "renamed")
            #expect(try store.updateEval(id: "eval_v", project: "proj_other") { $0.name = "x" } == nil)

            try store.updateEvalRun(id: "evalrun_1") { $0.status = .inProgress; $0.startedAt = 2 }
            #expect(try store.evalRuns(withStatus: [.inProgress]).map(\.id) == ["evalrun_1"])
            #expect(try store.listEvalRuns(evalID: "eval_v", after: nil, limit: 10, order: .desc, status: .queued).items.map(\.id)
                    == ["evalrun_2", "evalrun_0"])
            #expect(try store.evalRun(id: "evalrun_1", evalID: "eval_v", project: project)?.startedAt == 2)

            func item(_ i: Int) -> EvalOutputItemRecord {
                EvalOutputItemRecord(id: "outputitem_\(i)", runID: "evalrun_1", evalID: "eval_v", datasourceItemID: i,
                                     status: i == 1 ? "fail" : "pass", datasourceItem: "{}", results: "[]", sample: "{}", createdAt: 3)
            }
            for i in 0..<3 {
                #expect(try store.addEvalOutputItem(item(i)) { run in run.tally = "{\"n\":\(i + 1)}"; return true }?.tally == "{\"n\":\(i + 1)}")
            }
            #expect(try store.addEvalOutputItem(item(0)) { _ in true } == nil, "an item graded twice is stored once")
            #expect(try store.addEvalOutputItem(item(5)) { _ in false } == nil, "a run that refuses stores nothing")
            #expect(try store.gradedItemIndices(run: "evalrun_1") == [0, 1, 2])
            #expect(try store.evalRun(id: "evalrun_1")?.tally == "{\"n\":3}")
            #expect(try store.evalOutputItem(id: "outputitem_1", runID: "evalrun_1")?.status == "fail")
            #expect(try store.listEvalOutputItems(runID: "evalrun_1", after: nil, limit: 10, order: .asc, status: "pass").items.map(\.id)
                    == ["outputitem_0", "outputitem_2"])

            #expect(try store.deleteEvalRun(id: "evalrun_1", evalID: "eval_v", project: project))
            #expect(try store.gradedItemIndices(run: "evalrun_1").isEmpty, "items go with their run")
            #expect(try store.deleteEval(id: "eval_v", project: project))
            #expect(try store.evalRun(id: "evalrun_0") == nil, "runs go with their eval")
        }
    }
}
