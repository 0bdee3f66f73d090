// Fine-tuning jobs, their events and checkpoints, and the models they produce: OpenAI's list orders and cursors
// (newest first; `after` is the last id seen) and the few queries the job runner needs. Project scoping as for files:
// another project's object looks missing.
import GRDB

extension Store {
    public static let jobListLimits = 1...100

    public func createJob(_ job: JobRecord) throws {
        try requireProject(job.projectID)
        try database.write { db in try job.insert(db) }
    }

    public func job(id: String, project: String) throws -> JobRecord? {
        try database.read { db in
            try JobRecord.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ? AND project_id = ?", arguments: [id, project])
        }
    }

    /// Any project's job (the job runner's view).
    public func job(id: String) throws -> JobRecord? {
        try database.read { db in try JobRecord.fetchOne(db, key: ["id": id]) }
    }

    /// Reads, changes and writes a job in one transaction; returns the new row (nil if the job is gone).
    @discardableResult
    public func updateJob(id: String, _ change: (inout JobRecord) throws -> Void) throws -> JobRecord? {
        try database.write { db in
            guard var job = try JobRecord.fetchOne(db, key: ["id": id]) else { return nil }
            try change(&job)
            try job.update(db)
            return job
        }
    }

    /// Reads, changes and writes a job and appends the events `change` returns, all in one transaction: a reader sees
    /// the new status and the events that announce it together, or neither. Returns the new row and the events as
    /// stored (nil if the job is gone).
    public func updateJobWithEvents(id: String, _ change: (inout JobRecord) throws -> [JobEventDraft]) throws
        -> (job: JobRecord, events: [JobEventRecord])? {
        try database.write { db in
            guard var job = try JobRecord.fetchOne(db, key: ["id": id]) else { return nil }
            let drafts = try change(&job)
            try job.update(db)
            let events = try drafts.map { try Self.insertEvent($0, job: id, db) }
            return (job, events)
        }
    }

    /// A job and its events after `afterSeq`, read together (the job's status matches the events read).
    public func jobWithEvents(id: String, afterSeq: Int64 = 0) throws -> (job: JobRecord, events: [JobEventRecord])? {
        try database.read { db in
            guard let job = try JobRecord.fetchOne(db, key: ["id": id]) else { return nil }
            let events = try JobEventRecord.fetchAll(db, sql: "SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                                                     arguments: [id, afterSeq])
            return (job, events)
        }
    }

    /// Newest first. `metadata` filters on exact values (`metadata[k]=v`); `metadataIsNull` selects jobs without any.
    public func listJobs(project: String, after: String?, limit: Int, metadata: [String: String] = [:],
                         metadataIsNull: Bool = false) throws -> Page<JobRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM jobs WHERE project_id = ?"
            var args: [any DatabaseValueConvertible] = [project]
            if let after {
                guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM jobs WHERE id = ? AND project_id = ?", arguments: [after, project]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND seq < ?"; args.append(seq)
            }
            if metadataIsNull { sql += " AND metadata IS NULL" }
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) {
                sql += " AND json_extract(metadata, ?) = ?"
                args.append("$.\"" + k.replacingOccurrences(of: "\"", with: "\\\"") + "\""); args.append(v)
            }
            sql += " ORDER BY seq DESC LIMIT ?"; args.append(limit + 1)
            let rows = try JobRecord.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    /// Jobs in any of `statuses`, oldest first (the runner's queue and crash recovery).
    public func jobs(withStatus statuses: [JobStatus]) throws -> [JobRecord] {
        try database.read { db in
            let marks = statuses.map { _ in "?" }.joined(separator: ",")
            return try JobRecord.fetchAll(db, sql: "SELECT * FROM jobs WHERE status IN (\(marks)) ORDER BY seq",
                                          arguments: StatementArguments(statuses.map(\.rawValue)))
        }
    }

    /// How many jobs of every project are in each status (for /metrics).
    public func jobCountsByStatus() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM jobs GROUP BY status") {
                counts[row["status"]] = row["n"]
            }
            return counts
        }
    }

    // MARK: events

    @discardableResult
    public func addEvent(job: String, level: String, message: String, type: String, data: String?) throws -> JobEventRecord {
        try database.write { db in
            try Self.insertEvent(JobEventDraft(level: level, message: message, type: type, data: data), job: job, db)
        }
    }

    private static func insertEvent(_ d: JobEventDraft, job: String, _ db: Database) throws -> JobEventRecord {
        var event = JobEventRecord(seq: nil, id: IDGenerator.make(prefix: "ftevent-"), jobID: job, createdAt: unixNow(),
                                   level: d.level, message: d.message, type: d.type, data: d.data)
        try event.insert(db)
        event.seq = db.lastInsertedRowID
        return event
    }

    /// A checkpoint takes another servable name (the fine-tuned model's, or back to its step's).
    public func renameCheckpoint(id: String, to modelName: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE checkpoints SET model_name = ? WHERE id = ?", arguments: [modelName, id])
        }
    }

    /// Newest first, OpenAI's event listing.
    public func listEvents(job: String, after: String?, limit: Int) throws -> Page<JobEventRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM job_events WHERE job_id = ?"
            var args: [any DatabaseValueConvertible] = [job]
            if let after {
                guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM job_events WHERE id = ? AND job_id = ?", arguments: [after, job]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND seq < ?"; args.append(seq)
            }
            sql += " ORDER BY seq DESC LIMIT ?"; args.append(limit + 1)
            let rows = try JobEventRecord.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    /// Oldest first, after a sequence number (live event streams).
    public func events(job: String, afterSeq: Int64, limit: Int = 500) throws -> [JobEventRecord] {
        try database.read { db in
            try JobEventRecord.fetchAll(db, sql: "SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                        arguments: [job, afterSeq, limit])
        }
    }

    // MARK: checkpoints

    /// Removes the job's metrics events for steps after `step`: a run resumed from that step's checkpoint logs
    /// them again (its CSV is cut back the same way), and a loss curve must not show a step twice.
    public func deleteMetricsEvents(job: String, afterStep step: Int) throws {
        try database.write { db in
            try db.execute(sql: """
                DELETE FROM job_events WHERE job_id = ? AND type = 'metrics' AND json_extract(data, '$.step') > ?
                """, arguments: [job, step])
        }
    }

    public func addCheckpoint(_ c: CheckpointRecord) throws {
        try database.write { db in try c.insert(db) }
    }

    /// Highest step first.
    public func listCheckpoints(job: String, after: String?, limit: Int) throws -> Page<CheckpointRecord> {
        guard Self.jobListLimits.contains(limit) else { throw StoreError.invalidLimit(limit, range: Self.jobListLimits) }
        return try database.read { db in
            var sql = "SELECT * FROM checkpoints WHERE job_id = ?"
            var args: [any DatabaseValueConvertible] = [job]
            if let after {
                guard let step = try Int.fetchOne(db, sql: "SELECT step_number FROM checkpoints WHERE id = ? AND job_id = ?", arguments: [after, job]) else {
                    throw StoreError.unknownCursor(after)
                }
                sql += " AND step_number < ?"; args.append(step)
            }
            sql += " ORDER BY step_number DESC LIMIT ?"; args.append(limit + 1)
            let rows = try CheckpointRecord.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            return Page(items: Array(rows.prefix(limit)), hasMore: rows.count > limit)
        }
    }

    public func checkpoints(job: String) throws -> [CheckpointRecord] {
        try database.read { db in
            try CheckpointRecord.fetchAll(db, sql: "SELECT * FROM checkpoints WHERE job_id = ? ORDER BY step_number", arguments: [job])
        }
    }

    public func checkpoint(modelName: String) throws -> CheckpointRecord? {
        try database.read { db in try CheckpointRecord.fetchOne(db, sql: "SELECT * FROM checkpoints WHERE model_name = ?", arguments: [modelName]) }
    }

    public func deleteCheckpoint(id: String) throws {
        _ = try database.write { db in try CheckpointRecord.deleteOne(db, key: ["id": id]) }
    }

    // MARK: models

    public func addModel(_ m: FineTunedModelRecord) throws {
        try database.write { db in try m.insert(db) }
    }

    /// Every fine-tuned model (all projects: the server serves them all; handlers check the project).
    public func allModels() throws -> [FineTunedModelRecord] {
        try database.read { db in try FineTunedModelRecord.fetchAll(db, sql: "SELECT * FROM models ORDER BY seq") }
    }

    public func model(id: String) throws -> FineTunedModelRecord? {
        try database.read { db in try FineTunedModelRecord.fetchOne(db, key: ["id": id]) }
    }

    /// False if no such model in this project; refused while a job that has not finished starts from it.
    @discardableResult
    public func deleteModel(id: String, project: String) throws -> Bool {
        try database.write { db in
            // Checked in the same transaction as the delete, so a job cannot start from the model in between.
            if let job = try String.fetchOne(db, sql: """
                SELECT id FROM jobs WHERE model = ? AND status NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY created_at LIMIT 1
                """, arguments: [id]) {
                throw StoreError.modelInUse(model: id, jobID: job)
            }
            try db.execute(sql: "DELETE FROM models WHERE id = ? AND project_id = ?", arguments: [id, project])
            return db.changesCount > 0
        }
    }

    public func baseModels() throws -> [BaseModelRecord] {
        try database.read { db in try BaseModelRecord.fetchAll(db, sql: "SELECT * FROM base_models ORDER BY seq") }
    }

    public func addBaseModel(name: String, path: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO base_models (id, path, created_at) VALUES (?, ?, ?)", arguments: [name, path, unixNow()])
        }
    }

    @discardableResult
    public func removeBaseModel(name: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM base_models WHERE id = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// Where a job keeps its checkpoints and final adapter: DATA/jobs/<job id>.
    public func jobDirectory(_ id: String) -> String { layout.root + "/jobs/" + id }
}
