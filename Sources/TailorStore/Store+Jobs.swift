// Fine-tuning jobs, their events and checkpoints, and the models they produce: OpenAI's list orders and cursors
// (newest first; `after` is the last id seen) and the few queries the job runner needs. Project scoping as for files:
// another project's object looks missing.

extension Store {
    public static let jobListLimits = 1...100

    public func createJob(_ job: JobRecord) throws {
        try requireProject(job.projectID)
        try database.write { db in try db.insert(job) }
    }

    public func job(id: String, project: String) throws -> JobRecord? {
        try database.read { db in
            try db.fetchOne(JobRecord.self, "SELECT * FROM jobs WHERE id = ? AND project_id = ?", [id, project])
        }
    }

    /// Any project's job (the job runner's view).
    public func job(id: String) throws -> JobRecord? {
        try database.read { db in try db.row(JobRecord.self, id: id) }
    }

    /// Reads, changes and writes a job in one transaction; returns the new row (nil if the job is gone). With a
    /// `lease`, the change is refused (`leaseLost`) unless that lease still holds the job.
    @discardableResult
    public func updateJob(id: String, lease: JobLease? = nil, _ change: (inout JobRecord) throws -> Void) throws -> JobRecord? {
        try database.write { db in
            guard var job = try db.row(JobRecord.self, id: id, forUpdate: true) else { return nil }
            if let lease { try Self.check(.held(lease), job, db) }
            try change(&job)
            try db.update(job)
            try Self.notifyChanged(job: id, db)
            return job
        }
    }

    /// Reads, changes and writes a job and appends the events `change` returns, all in one transaction: a reader sees
    /// the new status and the events that announce it together, or neither. Returns the new row and the events as
    /// stored (nil if the job is gone). With a `requirement`, nothing is written (`leaseLost`) unless the job's
    /// lease meets it. `evaluationOnSuccess` (a job's base-vs-fine-tuned eval and its runs) is inserted in the same
    /// transaction when the change leaves the job succeeded, so whoever sees the job succeeded finds its eval.
    public func updateJobWithEvents(id: String, requiring requirement: LeaseRequirement? = nil,
                                    evaluationOnSuccess: (eval: EvalRecord, runs: [EvalRunRecord])? = nil,
                                    _ change: (inout JobRecord) throws -> [JobEventDraft]) throws
        -> (job: JobRecord, events: [JobEventRecord])? {
        try database.write { db in
            guard var job = try db.row(JobRecord.self, id: id, forUpdate: true) else { return nil }
            if let requirement { try Self.check(requirement, job, db) }
            let drafts = try change(&job)
            try db.update(job)
            if let evaluation = evaluationOnSuccess, job.status == .succeeded {
                try db.insert(evaluation.eval)
                for run in evaluation.runs { try db.insert(run) }
            }
            try Self.notifyChanged(job: id, db)
            let events = try drafts.map { try Self.insertEvent($0, job: id, db) }
            return (job, events)
        }
    }

    /// A job and its events after `afterSeq`, read together (the job's status matches the events read).
    public func jobWithEvents(id: String, afterSeq: Int64 = 0) throws -> (job: JobRecord, events: [JobEventRecord])? {
        try database.read { db in
            guard let job = try db.row(JobRecord.self, id: id) else { return nil }
            let events = try db.fetchAll(JobEventRecord.self, "SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                                         [id, afterSeq])
            return (job, events)
        }
    }

    /// Newest first. `metadata` filters on exact values (`metadata[k]=v`); `metadataIsNull` selects jobs without any.
    public func listJobs(project: String, after: String?, limit: Int, metadata: [String: String] = [:],
                         metadataIsNull: Bool = false) throws -> Page<JobRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM jobs WHERE project_id = ?"
            var args: [any SQLValueConvertible] = [project]
            if let after {
                guard let seq = try db.scalar(Int64.self, "SELECT seq FROM jobs WHERE id = ? AND project_id = ?", [after, project]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND seq < ?"; args.append(seq)
            }
            if metadataIsNull { sql += " AND metadata IS NULL" }
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) {
                let field = db.dialect.jsonText("metadata", k)
                sql += " AND \(field.sql) = ?"
                args.append(field.argument); args.append(v)
            }
            sql += " ORDER BY seq DESC LIMIT ?"; args.append(limit + 1)
            let rows = try db.fetchAll(JobRecord.self, sql, args)
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    /// Jobs in any of `statuses`, oldest first (the runner's queue and crash recovery).
    public func jobs(withStatus statuses: [JobStatus]) throws -> [JobRecord] {
        try database.read { db in
            try db.fetchAll(JobRecord.self, "SELECT * FROM jobs WHERE status IN (\(placeholders(statuses.count))) ORDER BY seq",
                            statuses.map(\.rawValue))
        }
    }

    /// How many jobs of every project are in each status (for /metrics).
    public func jobCountsByStatus() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try db.fetchAll(StatusCount.self, "SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", []) {
                counts[row.status] = row.n
            }
            return counts
        }
    }

    // MARK: events

    @discardableResult
    public func addEvent(job: String, level: String, message: String, type: String, data: String?,
                         lease: JobLease? = nil) throws -> JobEventRecord {
        try database.write { db in
            try Self.requireLease(lease, job: job, db)
            return try Self.insertEvent(JobEventDraft(level: level, message: message, type: type, data: data), job: job, db)
        }
    }

    static func insertEvent(_ d: JobEventDraft, job: String, _ db: any SQLSession) throws -> JobEventRecord {
        if let lock = db.dialect.beforeAppend { try db.execute(lock, []) }
        var event = JobEventRecord(seq: nil, id: IDGenerator.make(prefix: "ftevent-"), jobID: job, createdAt: unixNow(),
                                   level: d.level, message: d.message, type: d.type, data: d.data)
        event.seq = try db.insert(event)
        try notifyChanged(job: job, db)
        return event
    }

    private struct StatusCount: FetchedRecord {
        var status: String
        var n: Int
    }

    /// A checkpoint takes another servable name (the fine-tuned model's, or back to its step's).
    public func renameCheckpoint(id: String, to modelName: String, job: String? = nil, lease: JobLease? = nil) throws {
        try database.write { db in
            if let job { try Self.requireLease(lease, job: job, db) }
            try db.execute("UPDATE checkpoints SET model_name = ? WHERE id = ?", [modelName, id])
        }
    }

    /// Newest first, OpenAI's event listing.
    public func listEvents(job: String, after: String?, limit: Int) throws -> Page<JobEventRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM job_events WHERE job_id = ?"
            var args: [any SQLValueConvertible] = [job]
            if let after {
                guard let seq = try db.scalar(Int64.self, "SELECT seq FROM job_events WHERE id = ? AND job_id = ?", [after, job]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND seq < ?"; args.append(seq)
            }
            sql += " ORDER BY seq DESC LIMIT ?"; args.append(limit + 1)
            let rows = try db.fetchAll(JobEventRecord.self, sql, args)
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    /// Oldest first, after a sequence number (live event streams).
    public func events(job: String, afterSeq: Int64, limit: Int = 500) throws -> [JobEventRecord] {
        try database.read { db in
            try db.fetchAll(JobEventRecord.self, "SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                            [job, afterSeq, limit])
        }
    }

    // MARK: checkpoints

    /// Removes the job's metrics events for steps after `step`: a run resumed from that step's checkpoint logs
    /// them again (its CSV is cut back the same way), and a loss curve must not show a step twice.
    public func deleteMetricsEvents(job: String, afterStep step: Int, lease: JobLease? = nil) throws {
        try database.write { db in
            try Self.requireLease(lease, job: job, db)
            try db.execute("""
                DELETE FROM job_events WHERE job_id = ? AND type = 'metrics' AND \(db.dialect.jsonNumber("data", "step")) > ?
                """, [job, step])
        }
    }

    public func addCheckpoint(_ c: CheckpointRecord, lease: JobLease? = nil) throws {
        try database.write { db in
            try Self.requireLease(lease, job: c.jobID, db)
            try db.insert(c)
        }
    }

    /// Highest step first.
    public func listCheckpoints(job: String, after: String?, limit: Int) throws -> Page<CheckpointRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM checkpoints WHERE job_id = ?"
            var args: [any SQLValueConvertible] = [job]
            if let after {
                guard let step = try db.scalar(Int.self, "SELECT step_number FROM checkpoints WHERE id = ? AND job_id = ?", [after, job]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND step_number < ?"; args.append(step)
            }
            sql += " ORDER BY step_number DESC LIMIT ?"; args.append(limit + 1)
            let rows = try db.fetchAll(CheckpointRecord.self, sql, args)
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    public func checkpoints(job: String) throws -> [CheckpointRecord] {
        try database.read { db in
            try db.fetchAll(CheckpointRecord.self, "SELECT * FROM checkpoints WHERE job_id = ? ORDER BY step_number", [job])
        }
    }

    public func checkpoint(modelName: String) throws -> CheckpointRecord? {
        try database.read { db in try db.fetchOne(CheckpointRecord.self, "SELECT * FROM checkpoints WHERE model_name = ?", [modelName]) }
    }

    public func deleteCheckpoint(id: String, job: String? = nil, lease: JobLease? = nil) throws {
        try database.write { db in
            if let job { try Self.requireLease(lease, job: job, db) }
            try db.execute("DELETE FROM checkpoints WHERE id = ?", [id])
        }
    }

    // MARK: models

    /// With a `lease`, only while it still holds the model's job.
    public func addModel(_ m: FineTunedModelRecord, lease: JobLease? = nil) throws {
        try database.write { db in
            if let job = m.jobID { try Self.requireLease(lease, job: job, db) }
            try db.insert(m)
        }
    }

    /// Every fine-tuned model (all projects: the server serves them all; handlers check the project).
    public func allModels() throws -> [FineTunedModelRecord] {
        try database.read { db in try db.fetchAll(FineTunedModelRecord.self, "SELECT * FROM models ORDER BY seq", []) }
    }

    public func model(id: String) throws -> FineTunedModelRecord? {
        try database.read { db in try db.row(FineTunedModelRecord.self, id: id) }
    }

    /// False if no such model in this project; refused while a job that has not finished starts from it.
    @discardableResult
    public func deleteModel(id: String, project: String) throws -> Bool {
        try database.write { db in
            // Checked in the same transaction as the delete, so a job cannot start from the model in between.
            if let job = try db.scalar(String.self, """
                SELECT id FROM jobs WHERE model = ? AND status NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY created_at LIMIT 1
                """, [id]) {
                throw StoreError.modelInUse(model: id, jobID: job)
            }
            return try db.execute("DELETE FROM models WHERE id = ? AND project_id = ?", [id, project]) > 0
        }
    }

    public func baseModels() throws -> [BaseModelRecord] {
        try database.read { db in try db.fetchAll(BaseModelRecord.self, "SELECT * FROM base_models ORDER BY seq", []) }
    }

    public func addBaseModel(name: String, path: String) throws {
        try database.write { db in
            // Delete and insert (SQLite's INSERT OR REPLACE, spelled for both engines): a re-added model lists last.
            try db.execute("DELETE FROM base_models WHERE id = ?", [name])
            try db.execute("INSERT INTO base_models (id, path, created_at) VALUES (?, ?, ?)", [name, path, unixNow()])
        }
    }

    @discardableResult
    public func removeBaseModel(name: String) throws -> Bool {
        try database.write { db in
            try db.execute("DELETE FROM base_models WHERE id = ?", [name]) > 0
        }
    }

    /// Where a job keeps its checkpoints and final adapter: DATA/jobs/<job id>.
    public func jobDirectory(_ id: String) -> String { layout.root + "/jobs/" + id }
}
