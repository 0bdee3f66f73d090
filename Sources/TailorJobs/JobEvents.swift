// Job events: written to the store (OpenAI's event list) and handed to live subscribers (the SSE stream of
// GET …/events?stream=true and the dashboard), so nothing a subscriber sees is missing from the list.
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
    // @unchecked Sendable: `subscribers` is guarded by `lock`.
    public let store: Store
    private let lock = NSLock()
    private var subscribers: [UUID: (job: String, send: @Sendable (JobNews) -> Void)] = [:]

    /// Every event but the per-step metrics is also a log line (status changes, checkpoints, errors).
    let logger: Logger

    public init(store: Store, logger: Logger = Logger(label: "tailor.jobs")) { self.store = store; self.logger = logger }

    @discardableResult
    public func emit(_ job: String, _ message: String, level: String = "info", type: String = "message",
                     data: [String: Any]? = nil) throws -> JobEventRecord {
        let json = try data.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        let event = try store.addEvent(job: job, level: level, message: message, type: type, data: json)
        publish([event], of: job)
        return event
    }

    /// Logs events already stored (by `emit`, or beside a transition) and hands them to the job's subscribers.
    func publish(_ events: [JobEventRecord], of job: String) {
        for event in events where event.type != "metrics" {
            logger.log(level: event.level == "error" ? .error : event.level == "warn" ? .warning : .info, "\(event.message)",
                       metadata: ["job": "\(job)", "event": "\(event.id)"])
        }
        for send in targets(job) { for event in events { send(.event(event)) } }
    }

    /// The job has ended: its subscribers hear it after the events that announced it.
    func publishEnd(of job: String) {
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
        return id
    }

    public func unsubscribe(_ id: UUID) {
        lock.lock(); subscribers.removeValue(forKey: id); lock.unlock()
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
