// Eval runs on the shared queue, claimed like jobs (Store+Claims.swift): one node's eval thread executes a run under a
// lease it renews; a run whose lease lapsed (its node died, hung or lost the database) is taken over under a higher
// generation and resumes after its last stored item, and the old holder's writes of items, counts and status are
// refused. Not the job queue's fairness across projects: runs go oldest first, interrupted ones before queued ones.

extension JobLease {
    /// The lease an eval run's row records (nil if unclaimed).
    public init?(_ run: EvalRunRecord) {
        guard let worker = run.claimedBy else { return nil }
        self.init(worker: worker, generation: run.leaseGeneration)
    }
}

extension Store {
    /// Claims the next runnable eval run for `worker` in one write transaction, or returns nil when there is none: an
    /// in_progress run that nobody holds or whose lease lapsed first (it was interrupted: it resumes), then a queued
    /// one, oldest first; never one of `excluding`. The status is left as it is (the runner's `.start` moves it); the
    /// store bumps the lease generation and sets the expiry `leaseMilliseconds` from now. `previous` is the lapsed
    /// lease taken over, if any. On PostgreSQL the candidate is locked with SKIP LOCKED, so concurrent claims take
    /// different runs without waiting; SQLite's single writer serialises them.
    public func claimNextEvalRun(worker: String, leaseMilliseconds: Int, excluding: Set<String> = [])
        throws -> (run: EvalRunRecord, lease: JobLease, previous: JobLease?)? {
        let unclaimed = { (now: String) in
            "status IN ('in_progress', 'queued') AND (claimed_by IS NULL OR lease_expires_ms IS NULL OR lease_expires_ms <= \(now))"
        }
        let skip = excluding.sorted()
        let notExcluded = skip.isEmpty ? "" : " AND id NOT IN (\(placeholders(skip.count)))"
        // A read first: an idle node polling an empty queue takes no write lock.
        let waiting = try database.read { db in
            try db.scalar(String.self, "SELECT id FROM eval_runs WHERE \(unclaimed(db.dialect.nowMilliseconds))\(notExcluded) LIMIT 1", skip)
        }
        guard waiting != nil else { return nil }
        return try database.write { db -> (run: EvalRunRecord, lease: JobLease, previous: JobLease?)? in
            let now = try Self.databaseNow(db)
            guard var run = try db.fetchOne(EvalRunRecord.self, """
                SELECT * FROM eval_runs WHERE \(unclaimed("?"))\(notExcluded)
                ORDER BY CASE WHEN status = 'in_progress' THEN 0 ELSE 1 END, seq LIMIT 1\(db.dialect.claimLock("eval_runs"))
                """, [now] + skip) else { return nil }
            let previous = JobLease(run)
            run.claimedBy = worker
            run.leaseGeneration += 1
            run.leaseExpiresMs = now + leaseMilliseconds
            try db.update(run)
            return (run, JobLease(run)!, previous)
        }
    }

    /// Pushes the expiry of `lease` on run `id` `leaseMilliseconds` from now. Returns the run's status (a run canceled
    /// on another node reads `.canceled`: its holder stops), or nil when the lease is lost (taken over, or the run is
    /// gone): the holder must stop without writing more.
    public func renewEvalRunLease(id: String, lease: JobLease, leaseMilliseconds: Int) throws -> EvalRunStatus? {
        try database.write { db in
            let now = try Self.databaseNow(db)
            let renewed = try db.execute("""
                UPDATE eval_runs SET lease_expires_ms = ? WHERE id = ? AND claimed_by = ? AND lease_generation = ?
                """, [now + leaseMilliseconds, id, lease.worker, lease.generation])
            guard renewed > 0 else { return nil }
            return try db.scalar(String.self, "SELECT status FROM eval_runs WHERE id = ?", [id]).flatMap(EvalRunStatus.init(rawValue:))
        }
    }

    /// Gives the run back if `lease` still holds it (a clean stop, or the run's end), so another node can claim an
    /// unfinished one at once instead of after the lease; false when it no longer did.
    @discardableResult
    public func releaseEvalRun(id: String, lease: JobLease) throws -> Bool {
        try database.write { db in
            try db.execute("""
                UPDATE eval_runs SET claimed_by = NULL, lease_expires_ms = NULL WHERE id = ? AND claimed_by = ? AND lease_generation = ?
                """, [id, lease.worker, lease.generation]) > 0
        }
    }

    /// Every claimed eval run (start-up: a node releases those its earlier process held).
    public func claimedEvalRuns() throws -> [EvalRunRecord] {
        try database.read { db in
            try db.fetchAll(EvalRunRecord.self, "SELECT * FROM eval_runs WHERE claimed_by IS NOT NULL ORDER BY seq", [])
        }
    }

    /// Throws `leaseLost` unless `lease` (when given) still holds `run`, read in this transaction.
    static func check(_ lease: JobLease?, _ run: EvalRunRecord) throws {
        guard let lease, JobLease(run) != lease else { return }
        throw StoreError.leaseLost(jobID: run.id, worker: lease.worker, generation: lease.generation)
    }
}
