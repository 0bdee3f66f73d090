// Notifications of job changes between processes on one PostgreSQL database: every transaction that changes a job's
// row or appends to its events NOTIFYs the job channel with the job's id (sent at its commit, so a listener that
// reads the job on hearing it sees the change), and a process that follows jobs it does not run (an API node) LISTENs.
// Not delivery of the changes themselves: a listener reads them from the store, so a lost notification costs only
// time, and a listener that lost its connection hears `.resync` when it is back and reads everything it follows.

/// What a watcher of job changes hears.
public enum JobChange: Sendable, Equatable {
    /// This job's row or events changed (committed).
    case changed(jobID: String)
    /// Notifications may have been missed (the watch was connected for the first time or again): read every job
    /// followed from the store.
    case resync
    /// The watch lost its connection: until `.resync`, nothing is heard (poll meanwhile).
    case interrupted
}

/// A watch on job changes; it ends with `stop` or when the store closes.
public final class JobChangeWatch: Sendable {
    private let listener: PostgresListener
    init(listener: PostgresListener) { self.listener = listener }
    public func stop() { listener.stop() }
}

extension Store {
    /// The channel job changes are notified on.
    static let jobChannel = "tailor_jobs"

    /// Calls `handler` for every committed change of any job, from any process on this database, on a connection of
    /// its own that reconnects by itself; nil on SQLite, which has no notifications (follow it by polling).
    /// `handler` runs on the database's event loop thread: it must not block (nor call the store).
    public func watchJobChanges(_ handler: @escaping @Sendable (JobChange) -> Void) throws -> JobChangeWatch? {
        guard let postgres = database as? PostgresDatabase else { return nil }
        let listener = try postgres.listen(channel: Self.jobChannel) { notice in
            switch notice {
            case .listening: handler(.resync)
            case .notified(let job): handler(.changed(jobID: job))
            case .lost: handler(.interrupted)
            }
        }
        return JobChangeWatch(listener: listener)
    }

    /// Tells the job's watchers, when this transaction commits, that the job changed.
    static func notifyChanged(job: String, _ db: any SQLSession) throws {
        if let notify = db.dialect.notifyJob { try db.execute(notify, [job]) }
    }
}
