// Evals, runs and output items in the store: OpenAI's listings (asc by default, `after` in either order, a filter),
// project scoping, an output item written only while its run is in progress, and deletes that cascade.
import Foundation
import Testing
@testable import TailorStore

@Suite struct EvalStoreTests {
    private func eval(_ id: String, _ project: String) -> EvalRecord {
        EvalRecord(id: id, projectID: project, name: id, dataSourceConfig: "{}", testingCriteria: "[]", metadata: nil, createdAt: 1)
    }

    private func run(_ id: String, _ eval: String, _ project: String) -> EvalRunRecord {
        EvalRunRecord(id: id, evalID: eval, projectID: project, name: id, model: "", dataSource: "{}", items: "[]",
                      metadata: nil, tally: "{}", createdAt: 1)
    }

    @Test(arguments: testBackends) func listsPageInBothOrdersWithinTheProject(_ backend: Backend) throws {
        try withDataDirectory(backend) { dir, database in
            let store = try openStore(dir, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            for i in 0..<5 { try store.createEval(eval("eval_\(i)", project)) }
            let first = try store.listEvals(project: project, after: nil, limit: 2, order: .asc)
            #expect(first.items.map(\.id) == ["eval_0", "eval_1"] && first.hasMore)
            let next = try store.listEvals(project: project, after: "eval_1", limit: 10, order: .asc)
            #expect(next.items.map(\.id) == ["eval_2", "eval_3", "eval_4"] && !next.hasMore)
            #expect(try store.listEvals(project: project, after: "eval_3", limit: 10, order: .desc).items.map(\.id) == ["eval_2", "eval_1", "eval_0"])
            #expect(throws: StoreError.unknownCursor("eval_x")) { try store.listEvals(project: project, after: "eval_x", limit: 10, order: .asc) }
            #expect(try store.eval(id: "eval_0", project: "proj_other") == nil, "another project's eval looks missing")
            #expect(try store.listEvals(project: "proj_other", after: nil, limit: 10, order: .asc).items.isEmpty)
        }
    }

    @Test(arguments: testBackends) func outputItemsFollowTheirRunAndDeletesCascade(_ backend: Backend) throws {
        try withDataDirectory(backend) { dir, database in
            let store = try openStore(dir, database)
            defer { try? store.close() }
            let project = try store.listProjects()[0].id
            try store.createEval(eval("eval_a", project))
            try store.createEvalRun(run("evalrun_a", "eval_a", project))
            try store.createEvalRun(run("evalrun_b", "eval_a", project))
            func item(_ i: Int, _ status: String) -> EvalOutputItemRecord {
                EvalOutputItemRecord(id: "outputitem_\(i)", runID: "evalrun_a", evalID: "eval_a", datasourceItemID: i,
                                     status: status, datasourceItem: "{}", results: "[]", sample: "{}", createdAt: 1)
            }
            #expect(try store.addEvalOutputItem(item(0, "pass")) { _ in false } == nil, "refused by the run's check")
            #expect(try store.addEvalOutputItem(item(0, "pass")) { r in r.tally = "{\"n\":1}"; return true }?.tally == "{\"n\":1}")
            #expect(try store.addEvalOutputItem(item(0, "fail")) { _ in true } == nil, "an item index is stored once")
            try store.addEvalOutputItem(item(1, "fail")) { _ in true }
            try store.addEvalOutputItem(item(2, "error")) { _ in true }
            #expect(try store.gradedItemIndices(run: "evalrun_a") == [0, 1, 2])
            #expect(try store.listEvalOutputItems(runID: "evalrun_a", after: nil, limit: 10, order: .asc, status: "fail").items.map(\.id) == ["outputitem_1"])
            #expect(try store.listEvalRuns(evalID: "eval_a", after: nil, limit: 10, order: .desc).items.map(\.id) == ["evalrun_b", "evalrun_a"])
            #expect(try store.listEvalRuns(evalID: "eval_a", after: nil, limit: 10, order: .asc, status: .queued).items.count == 2)
            #expect(try store.deleteEvalRun(id: "evalrun_b", evalID: "eval_a", project: project))
            #expect(try store.deleteEval(id: "eval_a", project: project))
            #expect(try store.evalRun(id: "evalrun_a") == nil)
            #expect(try store.evalOutputItem(id: "outputitem_0", runID: "evalrun_a") == nil)
            #expect(try !store.deleteEval(id: "eval_a", project: project))
        }
    }
}
