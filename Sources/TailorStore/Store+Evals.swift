// Evals, their runs and output items: OpenAI's listings (`after` is the last id seen; `order` asc by default, as the
// Evals API documents), project scoping as for files (another project's eval looks missing), and the few queries
// the eval runner needs. An output item and its run's counts are written in one transaction.

extension Store {
    public static let evalListLimits = 1...100

    public func createEval(_ eval: EvalRecord) throws {
        try requireProject(eval.projectID)
        try database.write { db in try db.insert(eval) }
    }

    public func eval(id: String, project: String) throws -> EvalRecord? {
        try database.read { db in
            try db.fetchOne(EvalRecord.self, "SELECT * FROM evals WHERE id = ? AND project_id = ?", [id, project])
        }
    }

    /// Reads, changes and writes an eval in one transaction; nil if there is no such eval in the project.
    public func updateEval(id: String, project: String, _ change: (inout EvalRecord) throws -> Void) throws -> EvalRecord? {
        try database.write { db in
            guard var e = try db.fetchOne(EvalRecord.self, "SELECT * FROM evals WHERE id = ? AND project_id = ?" + db.dialect.forUpdate,
                                          [id, project]) else { return nil }
            try change(&e)
            try db.update(e)
            return e
        }
    }

    /// Removes the eval with its runs and their output items (foreign-key cascade). False when there was none.
    public func deleteEval(id: String, project: String) throws -> Bool {
        try database.write { db in
            try db.execute("DELETE FROM evals WHERE id = ? AND project_id = ?", [id, project]) > 0
        }
    }

    public func listEvals(project: String, after: String?, limit: Int, order: ListOrder) throws -> Page<EvalRecord> {
        try page(EvalRecord.self, scope: ("project_id", project), after: after, limit: limit, order: order)
    }

    /// A fine-tuning job's evaluation: the eval and its runs created, and the job's `evaluationRuns` set to
    /// `jobEvaluation`, in one transaction, so it happens once however often a restart asks again.
    public func createJobEvaluation(_ eval: EvalRecord, runs: [EvalRunRecord], job: String, jobEvaluation: String) throws {
        try requireProject(eval.projectID)
        try database.write { db in
            try db.insert(eval)
            for run in runs { try db.insert(run) }
            try db.execute("UPDATE jobs SET evaluation_runs = ? WHERE id = ?", [jobEvaluation, job])
            try Self.notifyChanged(job: job, db)
        }
    }

    // MARK: runs

    public func createEvalRun(_ run: EvalRunRecord) throws {
        try database.write { db in try db.insert(run) }
    }

    public func evalRun(id: String, evalID: String, project: String) throws -> EvalRunRecord? {
        try database.read { db in
            try db.fetchOne(EvalRunRecord.self, "SELECT * FROM eval_runs WHERE id = ? AND eval_id = ? AND project_id = ?",
                            [id, evalID, project])
        }
    }

    /// Any project's run (the runner's view).
    public func evalRun(id: String) throws -> EvalRunRecord? {
        try database.read { db in try db.row(EvalRunRecord.self, id: id) }
    }

    /// Any project's eval (the runner's view).
    public func eval(id: String) throws -> EvalRecord? {
        try database.read { db in try db.row(EvalRecord.self, id: id) }
    }

    public func listEvalRuns(evalID: String, after: String?, limit: Int, order: ListOrder,
                             status: EvalRunStatus? = nil) throws -> Page<EvalRunRecord> {
        try page(EvalRunRecord.self, scope: ("eval_id", evalID), after: after, limit: limit, order: order,
                 filter: status.map { ("status", $0.rawValue) })
    }

    /// Runs in any of `statuses`, oldest first (the runner's queue and start-up recovery).
    public func evalRuns(withStatus statuses: [EvalRunStatus]) throws -> [EvalRunRecord] {
        try database.read { db in
            try db.fetchAll(EvalRunRecord.self, "SELECT * FROM eval_runs WHERE status IN (\(placeholders(statuses.count))) ORDER BY seq",
                            statuses.map(\.rawValue))
        }
    }

    /// Reads, changes and writes a run in one transaction; nil if the run is gone. With a `lease` (the node executing
    /// the run), nothing is written and `leaseLost` is thrown unless that lease still holds the run.
    @discardableResult
    public func updateEvalRun(id: String, lease: JobLease? = nil, _ change: (inout EvalRunRecord) throws -> Void) throws -> EvalRunRecord? {
        try database.write { db in
            guard var run = try db.row(EvalRunRecord.self, id: id, forUpdate: true) else { return nil }
            try Self.check(lease, run)
            try change(&run)
            try db.update(run)
            return run
        }
    }

    public func deleteEvalRun(id: String, evalID: String, project: String) throws -> Bool {
        try database.write { db in
            try db.execute("DELETE FROM eval_runs WHERE id = ? AND eval_id = ? AND project_id = ?", [id, evalID, project]) > 0
        }
    }

    // MARK: output items

    /// Stores an output item and lets `change` update its run, in one transaction, so the counts always agree with
    /// the items stored. Returns the run as written; nil (and nothing stored) when the run is gone or `change`
    /// returns false (the run was canceled meanwhile), or the item was already stored. With a `lease`, nothing is
    /// stored and `leaseLost` is thrown unless that lease still holds the run (another node took it over).
    @discardableResult
    public func addEvalOutputItem(_ item: EvalOutputItemRecord, lease: JobLease? = nil,
                                  _ change: (inout EvalRunRecord) throws -> Bool) throws -> EvalRunRecord? {
        try database.write { db in
            guard var run = try db.row(EvalRunRecord.self, id: item.runID, forUpdate: true) else { return nil }
            try Self.check(lease, run)
            guard try change(&run) else { return nil }
            let exists = try db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM eval_output_items WHERE run_id = ? AND datasource_item_id = ?)",
                                       [item.runID, item.datasourceItemID]) ?? false
            guard !exists else { return nil }
            try db.insert(item)
            try db.update(run)
            return run
        }
    }

    /// The data source indices a run has already graded (a resumed run skips them).
    public func gradedItemIndices(run: String) throws -> Set<Int> {
        try database.read { db in
            Set(try db.scalars(Int.self, "SELECT datasource_item_id FROM eval_output_items WHERE run_id = ?", [run]))
        }
    }

    public func evalOutputItem(id: String, runID: String) throws -> EvalOutputItemRecord? {
        try database.read { db in
            try db.fetchOne(EvalOutputItemRecord.self, "SELECT * FROM eval_output_items WHERE id = ? AND run_id = ?", [id, runID])
        }
    }

    public func listEvalOutputItems(runID: String, after: String?, limit: Int, order: ListOrder,
                                    status: String? = nil) throws -> Page<EvalOutputItemRecord> {
        try page(EvalOutputItemRecord.self, scope: ("run_id", runID), after: after, limit: limit, order: order,
                 filter: status.map { ("status", $0) })
    }

    /// One page of `R`'s table within `scope` (a column and its value), in `seq` order; `after` must be an id in
    /// the same scope. Column names come from this file only, never from a request.
    private func page<R: StoredRecord>(
        _ type: R.Type, scope: (column: String, value: String), after: String?, limit: Int, order: ListOrder,
        filter: (column: String, value: String)? = nil) throws -> Page<R> {
        guard Self.evalListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.evalListLimits) }
        let table = R.databaseTableName
        return try database.read { db in
            var sql = "SELECT * FROM \(table) WHERE \(scope.column) = ?"
            var args: [any SQLValueConvertible] = [scope.value]
            if let after {
                guard let seq = try db.scalar(Int64.self, "SELECT seq FROM \(table) WHERE id = ? AND \(scope.column) = ?",
                                              [after, scope.value]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += order == .asc ? " AND seq > ?" : " AND seq < ?"
                args.append(seq)
            }
            if let filter { sql += " AND \(filter.column) = ?"; args.append(filter.value) }
            sql += " ORDER BY seq \(order == .asc ? "ASC" : "DESC") LIMIT ?"
            args.append(limit + 1)
            let rows = try db.fetchAll(R.self, sql, args)
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }
}
