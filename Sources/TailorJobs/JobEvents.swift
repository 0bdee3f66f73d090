// Job events: written to the store (OpenAI's event list) and handed to live subscribers (the SSE stream of
// GET …/events?stream=true and the dashboard), so nothing a subscriber sees is missing from the list. Without
// `followingStore` they go from the emitting thread straight to the subscribers (one process alone on its store: the
// tests' services); `tailor serve`, whose jobs other processes may validate and train, has subscribers follow the
// store instead: a watcher thread reads each watched job's new events in the store's order — at once when the store notifies a change of that job (PostgreSQL's LISTEN/NOTIFY,
// Store.watchJobChanges) or this process emits one, and every so often anyway, as a safety net (SQLite has no
// notifications: there the poll is all there is).
import Foundation
import Logging
import TailorStore

/// What a subscriber of a job hears: each new event, then that the job has ended (a terminal status, no worker
/// holding it, and every event announcing that already delivered) — after which nothing more comes.
public enum JobNews: Sendable {
    case event(JobEventRecord)
    case ended
}

public final class JobEvents: @unchecked Sendable {
    // @unchecked Sendable: `subscribers` is guarded by `lock`; `watermarks`, `changed`, `pokedAll` and `notified` by
    // `watch`; `changes` is set once, before the watcher thread starts.
    public let store: Store
    private let lock = NSLock()
    private var subscribers: [UUID: (job: String, send: @Sendable (JobNews) -> Void)] = [:]
    /// Seconds between the watcher's reads of the store; nil: subscribers hear this process's emits directly.
    private let followInterval: Double?
    private let watch = NSCondition()
    /// Per watched job, the last event sequence number the watcher has handed on.
    private var watermarks: [String: Int64] = [:]
    /// Jobs to read at the watcher's next look (notified or emitted here); `pokedAll`: read every watched job.
    private var changed: Set<String> = []
    private var pokedAll = false
    private var watching = false
    /// Whether the store's notifications are heard now (the watch is connected): then the poll is only a safety net.
    private var notified = false
    private var changes: JobChangeWatch?

    /// Seconds between reads of every followed job while the store's notifications are heard: they wake the watcher
    /// at once, so this only bounds the delay should one ever be lost.
    public static let safetyNetSeconds = 5.0

    /// Every event but the per-step metrics is also a log line (status changes, checkpoints, errors).
    let logger: Logger

    /// `followingStore`: the interval at which subscribers' jobs are read from the store (an API node) while there are
    /// no notifications (SQLite, or PostgreSQL's LISTEN connection lost), or nil.
    public init(store: Store, logger: Logger = Logger(label: "tailor.jobs"), followingStore: Double? = nil) {
        self.store = store; self.logger = logger; followInterval = followingStore
    }

    deinit { changes?.stop() }

    /// Stores and publishes an event of `job`; with a `lease` (a worker emitting as the job's validator or trainer),
    /// only while that lease still holds the job (else `StoreError.leaseLost`).
    @discardableResult
    public func emit(_ job: String, _ message: String, level: String = "info", type: String = "message",
                     data: [String: Any]? = nil, lease: JobLease? = nil) throws -> JobEventRecord {
        let json = try data.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        let event = try store.addEvent(job: job, level: level, message: message, type: type, data: json, lease: lease)
        publish([event], of: job)
        return event
    }

    /// Logs events already stored (by `emit`, or beside a transition) and hands them to the job's subscribers.
    func publish(_ events: [JobEventRecord], of job: String) {
        for event in events where event.type != "metrics" {
            logger.log(level: event.level == "error" ? .error : event.level == "warn" ? .warning : .info, "\(event.message)",
                       metadata: ["job": "\(job)", "event": "\(event.id)"])
        }
        if followInterval != nil { return poke(job) }
        for send in targets(job) { for event in events { send(.event(event)) } }
    }

    /// The job has ended: its subscribers hear it after the events that announced it.
    func publishEnd(of job: String) {
        if followInterval != nil { return poke(job) }
        for send in targets(job) { send(.ended) }
    }

    private func targets(_ job: String) -> [@Sendable (JobNews) -> Void] {
        lock.lock(); defer { lock.unlock() }
        return subscribers.values.filter { $0.job == job }.map(\.send)
    }

    /// Calls `send` for every new event of `job`, and once when it ends, until the token is passed to `unsubscribe`.
    /// `send` runs on the thread that emitted: it must not block.
    public func subscribe(job: String, _ send: @escaping @Sendable (JobNews) -> Void) -> UUID {
        let id = UUID()
        lock.lock(); subscribers[id] = (job, send); lock.unlock()
        if followInterval != nil { follow(job) }
        return id
    }

    public func unsubscribe(_ id: UUID) {
        lock.lock(); subscribers.removeValue(forKey: id); lock.unlock()
    }

    // MARK: following the store

    private func poke(_ job: String) { watch.lock(); changed.insert(job); watch.broadcast(); watch.unlock() }

    /// What the store's watch says: a job changed (read it now if followed), or read every followed job.
    private func hear(_ change: JobChange) {
        watch.lock()
        switch change {
        case .changed(let job): if watermarks[job] != nil { changed.insert(job) }
        case .resync: notified = true; pokedAll = true
        case .interrupted: notified = false
        }
        watch.broadcast()
        watch.unlock()
    }

    /// Starts watching `job` (from its first event: subscribers drop what they already have, by sequence number).
    private func follow(_ job: String) {
        watch.lock()
        if watermarks[job] == nil { watermarks[job] = 0 }
        changed.insert(job)
        let start = !watching
        watching = true
        watch.broadcast()
        watch.unlock()
        guard start else { return }
        do {
            changes = try store.watchJobChanges { [weak self] in self?.hear($0) }
        } catch {
            logger.warning("could not listen for job changes; following them by polling", metadata: ["error": "\(error)"])
        }
        let thread = Thread { [self] in watchLoop() }
        thread.name = "tailor-events"
        thread.start()
    }

    /// Reads each watched job's new events and status in one transaction and hands them on in order, the end after
    /// the events that announced it; a job nobody follows any more, or that has ended, is dropped from the watch.
    private func watchLoop() {
        guard let interval = followInterval else { return }
        while true {
            watch.lock()
            if changed.isEmpty && !pokedAll {
                let wait = notified ? Self.safetyNetSeconds : interval
                // Nothing heard within the wait: read every followed job.
                if !watch.wait(until: Date().addingTimeInterval(wait)) || changed.isEmpty { pokedAll = true }
            }
            let jobs = pokedAll ? watermarks : watermarks.filter { changed.contains($0.key) }
            changed = []; pokedAll = false
            watch.unlock()
            for (job, after) in jobs {
                let sends = targets(job)
                var last = after, done = sends.isEmpty
                if !done, let (current, events) = try? store.jobWithEvents(id: job, afterSeq: after) {
                    for event in events { for send in sends { send(.event(event)) } }
                    last = events.last?.seq ?? after
                    if current.status.isTerminal && current.claimedBy == nil {
                        for send in sends { send(.ended) }
                        done = true
                    }
                }
                watch.lock()
                // A subscriber that came after `sends` was read found the job watched: it stays so unless the job ended
                // (then that subscriber's own backlog read already saw the end).
                if done && (!sends.isEmpty || targets(job).isEmpty) {
                    watermarks.removeValue(forKey: job)
                } else if let mark = watermarks[job] {
                    watermarks[job] = max(mark, last)
                }
                watch.unlock()
            }
        }
    }
}

/// OpenAI's `error` object of a failed job.
public struct JobError: Error, Sendable, Codable, Equatable {
    public var code: String
    public var message: String
    public var param: String?
    public init(code: String, message: String, param: String?) { self.code = code; self.message = message; self.param = param }

    /// `param` is written as null when there is none: OpenAI's job error has all three keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encode(param, forKey: .param)
    }

    public var json: String { String(decoding: try! JSONEncoder().encode(self), as: UTF8.self) }
}
