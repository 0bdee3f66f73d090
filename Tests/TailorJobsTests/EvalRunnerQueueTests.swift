// Eval runners of several nodes over one store (each with its own identity, as separate processes would have): every
// item of every run sampled and graded exactly once; a run whose node's lease lapsed is taken over and resumed after
// its last stored item; a cancel made on another node stops a run mid-item (seen by the heartbeat); a clean shutdown
// gives the run back so another node resumes it at once. Real SQLite store, stand-in sampler (EvalRunnerTests).
import Foundation
import Logging
import Testing
@testable import TailorJobs
import TailorStore

@Suite struct EvalRunnerQueueTests {
    typealias Fixture = EvalRunnerTests.Fixture
    typealias FakeSampler = EvalRunnerTests.FakeSampler

    private var quiet: Logger { var l = Logger(label: "test"); l.logLevel = .critical; return l }

    /// Polls `condition` until it holds or `seconds` pass (a condition, not a guess at how long the work takes).
    private func eventually(_ seconds: Double = 120, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return try condition()
    }

    private func questions(_ run: Int, _ count: Int) -> String {
        "[" + (0..<count).map { #"{"item":{"question":"r\#(run)-q\#($0)","answer":"4"}}"# }.joined(separator: ",") + "]"
    }

    @Test func twoNodesGradeEveryItemOfEveryRunExactlyOnce() throws {
        let f = try Fixture(node: "a"); defer { f.close() }
        let other = FakeSampler()
        let b = EvalRunner(store: f.store, sampler: other, logger: quiet, identity: WorkerIdentity(node: "b"))
        for runner in [f.runner, b] { runner.pollSeconds = 0.02; runner.leaseSeconds = 0.6 }
        let runs = try (0..<6).map { try f.run(questions($0, 4), model: "base") }
        f.runner.start(); b.start()
        let done = try eventually { try runs.allSatisfy { try f.store.evalRun(id: $0.id)?.status == .completed } }
        f.runner.shutdown(); b.shutdown()
        #expect(done, "every run completed")
        let asked = (f.sampler.calls + other.calls).map { $0.messages[0].content }
        #expect(asked.count == 24 && Set(asked).count == 24, "each item sampled once: \(asked.count) samples, \(Set(asked).count) distinct")
        for run in runs {
            #expect(try f.tally(run.id).total == 4)
            #expect(try f.store.gradedItemIndices(run: run.id) == [0, 1, 2, 3])
            #expect(try f.store.evalRun(id: run.id)?.claimedBy == nil, "released at its end")
        }
    }

    @Test func aRunWhoseNodeDiedIsTakenOverAfterItsLastStoredItem() throws {
        let f = try Fixture(node: "live"); defer { f.close() }
        let run = try f.run(questions(0, 3), model: "base")
        // A node that claimed the run, graded item 0 and died: its lease (0 ms) has lapsed at once.
        let dead = try #require(try f.store.claimNextEvalRun(worker: "dead/1-x/eval", leaseMilliseconds: 0))
        try f.runner.transition(run.id, .start, lease: dead.lease)
        var tally = EvalTally(criteria: ["exact-1", "fuzzy-2"])
        tally.add(status: "pass", criteriaPassed: [true, true], usage: [])
        func item(_ i: Int) -> EvalOutputItemRecord {
            EvalOutputItemRecord(id: "outputitem_dead\(i)", runID: run.id, evalID: run.evalID, datasourceItemID: i, status: "pass",
                                 datasourceItem: "{}", results: "[]", sample: "{}", createdAt: 1)
        }
        try f.store.addEvalOutputItem(item(0), lease: dead.lease) { r in r.tally = tally.json; return true }

        f.runner.start()
        let done = try eventually { try f.store.evalRun(id: run.id)?.status == .completed }
        f.runner.shutdown()
        #expect(done)
        #expect(f.sampler.calls.map { $0.messages[0].content } == ["r0-q1", "r0-q2"], "resumed after the stored item")
        #expect(try f.tally(run.id).total == 3)
        let row = try #require(try f.store.evalRun(id: run.id))
        #expect(row.leaseGeneration == 2 && row.claimedBy == nil)
        #expect(throws: StoreError.leaseLost(jobID: run.id, worker: "dead/1-x/eval", generation: 1)) {
            try f.store.addEvalOutputItem(item(1), lease: dead.lease) { _ in true }
        }
    }

    @Test func aCancelMadeOnAnotherNodeStopsTheRunMidItem() throws {
        let f = try Fixture(block: true, node: "worker"); defer { f.close() }
        f.runner.leaseSeconds = 0.3
        let run = try f.run(questions(0, 2), model: "base")
        f.runner.start()
        f.sampler.lock.lock()
        while !f.sampler.started { f.sampler.lock.wait() }
        f.sampler.lock.unlock()
        // The API node: its own runner (never started), on its own identity; it cannot interrupt the worker directly.
        let api = EvalRunner(store: f.store, sampler: FakeSampler(), logger: quiet, identity: WorkerIdentity(node: "api"))
        #expect(try api.cancel(run.id).applied)
        let released = try eventually { try f.store.evalRun(id: run.id)?.claimedBy == nil }
        f.runner.shutdown()
        #expect(released, "the worker's heartbeat saw the cancel, stopped the item and gave the run back")
        #expect(try f.store.evalRun(id: run.id)?.status == .canceled)
        #expect(try f.tally(run.id).total == 0 && f.sampler.calls.count == 1, "the interrupted item is not stored, the next not started")
    }

    @Test func aCleanShutdownGivesTheRunBackForAnotherNodeAtOnce() throws {
        let f = try Fixture(block: true, node: "a"); defer { f.close() }
        let run = try f.run(questions(0, 2), model: "base")
        f.runner.start()
        f.sampler.lock.lock()
        while !f.sampler.started { f.sampler.lock.wait() }
        f.sampler.lock.unlock()
        f.runner.shutdown()
        let left = try #require(try f.store.evalRun(id: run.id))
        #expect(left.status == .inProgress && left.claimedBy == nil, "released, still in progress")
        // Another node with the default lease of 60 s picks it up at once: no lapse to wait for.
        let sampler = FakeSampler()
        let b = EvalRunner(store: f.store, sampler: sampler, logger: quiet, identity: WorkerIdentity(node: "b"))
        b.start()
        let done = try eventually(30) { try f.store.evalRun(id: run.id)?.status == .completed }
        b.shutdown()
        #expect(done)
        #expect(sampler.calls.map { $0.messages[0].content } == ["r0-q0", "r0-q1"], "the interrupted item is graded by the node resuming")
        #expect(try f.tally(run.id).total == 2)
    }
}
