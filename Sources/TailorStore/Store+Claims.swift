// The queue shared by every process on one database: a worker claims a job atomically and holds it under a lease
// that it renews (a heartbeat); every write it makes on the job names the lease, and is refused once the lease was
// taken over (fencing). Which changes of status a claim or a lapse makes is TailorJobs' JobLifecycle: the caller's
// closure applies it, here rows are chosen, locked and stamped.

/// What a worker holds on a job: its id and the generation its claim was given.
public struct JobLease: Sendable, Hashable, CustomStringConvertible {
    public var worker: String
    public var generation: Int
    public init(worker: String, generation: Int) { self.worker = worker; self.generation = generation }

    /// The lease a job's row records (nil if unclaimed).
    public init?(_ job: JobRecord) {
        guard let worker = job.claimedBy else { return nil }
        self.init(worker: worker, generation: job.leaseGeneration)
    }

    public var description: String { "\(worker)@\(generation)" }
}

/// What a fenced change of a job requires of its lease, checked in the change's own transaction.
public enum LeaseRequirement: Sendable, Equatable {
    /// The writer still holds it: its worker and generation are the row's.
    case held(JobLease)
    /// Someone else is retiring it: the row still has this lease and it has expired by the database's clock.
    case expired(JobLease)
}

extension Store {
    /// Claims the next job in `status` for `worker` in one write transaction, or returns nil when there is none:
    /// the oldest such job of the project that had a job started least recently (one busy project does not starve the
    /// others), unclaimed, with a plan if it is queued. `change` applies the claim to the row (the lifecycle's
    /// `.claimed`) and returns the events announcing it, or nil to leave the job alone (the claim is then undone).
    /// The store bumps the row's lease generation and sets its expiry `leaseMilliseconds` from now; `fair` also
    /// records the project's start. On PostgreSQL the candidate is locked with SKIP LOCKED, so concurrent claims
    /// take different jobs without waiting; SQLite's single writer serialises them.
    public func claimNextJob(in status: JobStatus = .queued, worker: String, leaseMilliseconds: Int, fair: Bool = true,
                             _ change: (inout JobRecord) throws -> [JobEventDraft]?) throws -> (job: JobRecord, events: [JobEventRecord])? {
        // A read first: an idle worker polling an empty queue takes no write lock.
        let waiting = try database.read { db in
            try db.scalar(String.self, "SELECT id FROM jobs WHERE status = ? AND claimed_by IS NULL LIMIT 1", [status])
        }
        guard waiting != nil else { return nil }
        return try database.write { db -> (job: JobRecord, events: [JobEventRecord])? in
            let order = fair ? "COALESCE((SELECT last_started_ms FROM project_starts WHERE project_starts.project_id = jobs.project_id), 0), seq" : "seq"
            guard var job = try db.fetchOne(JobRecord.self, """
                SELECT * FROM jobs WHERE status = ? AND claimed_by IS NULL AND (status <> 'queued' OR plan IS NOT NULL)
                ORDER BY \(order) LIMIT 1\(db.dialect.claimLock("jobs"))
                """, [status]) else { return nil }
            let now = try Self.databaseNow(db)
            let before = job
            guard let drafts = try change(&job) else { return nil }
            guard job.claimedBy == worker, before.claimedBy == nil else {
                preconditionFailure("a claim's change must give the job to its worker")
            }
            job.leaseGeneration = before.leaseGeneration + 1
            job.leaseExpiresMs = now + leaseMilliseconds
            try db.update(job)
            try Self.notifyChanged(job: job.id, db)
            if fair {
                // Strictly after every earlier start, even within one millisecond, so the order across projects holds.
                let latest = try db.scalar(Int.self, "SELECT COALESCE(MAX(last_started_ms), 0) FROM project_starts", []) ?? 0
                try db.execute("""
                    INSERT INTO project_starts (project_id, last_started_ms) VALUES (?, ?)
                    ON CONFLICT (project_id) DO UPDATE SET last_started_ms = excluded.last_started_ms
                    """, [job.projectID, max(now, latest + 1)])
            }
            let events = try drafts.map { try Self.insertEvent($0, job: job.id, db) }
            return (job, events)
        }
    }

    /// Pushes the expiry of each lease still held `leaseMilliseconds` from now; returns the jobs whose lease was lost
    /// (re-queued after it lapsed, or claimed by another worker) — their worker must stop them.
    public func renewLeases(_ leases: [String: JobLease], leaseMilliseconds: Int) throws -> Set<String> {
        guard !leases.isEmpty else { return [] }
        return try database.write { db in
            let now = try Self.databaseNow(db)
            var lost: Set<String> = []
            for (job, lease) in leases.sorted(by: { $0.key < $1.key }) {
                let renewed = try db.execute("""
                    UPDATE jobs SET lease_expires_ms = ? WHERE id = ? AND claimed_by = ? AND lease_generation = ?
                    """, [now + leaseMilliseconds, job, lease.worker, lease.generation])
                if renewed == 0 { lost.insert(job) }
            }
            return lost
        }
    }

    /// Claimed jobs whose lease has expired by the database's clock (a row claimed before leases existed has none:
    /// it counts as expired), with the lease each holds.
    public func expiredLeases() throws -> [(jobID: String, lease: JobLease)] {
        try database.read { db in
            try db.fetchAll(JobRecord.self, """
                SELECT * FROM jobs WHERE claimed_by IS NOT NULL AND (lease_expires_ms IS NULL OR lease_expires_ms <= \(db.dialect.nowMilliseconds))
                ORDER BY seq
                """, []).compactMap { job in JobLease(job).map { (job.id, $0) } }
        }
    }

    /// Every claimed job (start-up recovery looks at whose they are).
    public func claimedJobs() throws -> [JobRecord] {
        try database.read { db in
            try db.fetchAll(JobRecord.self, "SELECT * FROM jobs WHERE claimed_by IS NOT NULL ORDER BY seq", [])
        }
    }

    static func databaseNow(_ db: any SQLSession) throws -> Int {
        try db.scalar(Int.self, "SELECT \(db.dialect.nowMilliseconds)", []) ?? 0
    }

    /// Throws `leaseLost` unless `job`'s row (read in this transaction) satisfies `requirement`.
    static func check(_ requirement: LeaseRequirement, _ job: JobRecord, _ db: any SQLSession) throws {
        switch requirement {
        case .held(let lease):
            guard JobLease(job) == lease else {
                throw StoreError.leaseLost(jobID: job.id, worker: lease.worker, generation: lease.generation)
            }
        case .expired(let lease):
            guard JobLease(job) == lease else {
                throw StoreError.leaseLost(jobID: job.id, worker: lease.worker, generation: lease.generation)
            }
            let now = try databaseNow(db)
            if let expires = job.leaseExpiresMs, expires > now {
                throw StoreError.leaseLost(jobID: job.id, worker: lease.worker, generation: lease.generation)
            }
        }
    }

    /// For a write beside a job's row (its events, checkpoints, model): locks the row for the rest of the transaction
    /// and checks that `lease` still holds it. Nothing to check without a lease (the user's own actions).
    static func requireLease(_ lease: JobLease?, job: String, _ db: any SQLSession) throws {
        guard let lease else { return }
        guard let row = try db.row(JobRecord.self, id: job, forUpdate: true) else {
            throw StoreError.leaseLost(jobID: job, worker: lease.worker, generation: lease.generation)
        }
        try check(.held(lease), row, db)
    }
}
