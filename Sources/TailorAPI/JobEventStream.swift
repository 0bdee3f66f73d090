// GET /v1/fine_tuning/jobs/:id/events?stream=true: the job's events as Server-Sent Events, oldest first, written as
// they are emitted (JobEvents pushes them; nothing polls), until the job has ended. Not here: the event list (JobHandlers).
import Foundation
import TailorHTTP
import TailorJobs
import TailorStore

enum EventStream {
    /// How long after an event the stream looks whether the job has ended: the runner writes the terminal status,
    /// then its last events, then lets go of the job.
    static let settle: TimeInterval = 0.25

    static func response(job: JobRecord, call: APICall) -> HTTPResponse {
        let s = call.services
        // A dashboard may watch a long job for hours: its stream gets a thread of its own (asleep until an event or a
        // keep-alive is due) rather than holding one of the handler threads.
        return .eventStream { stream in Thread.detachNewThread { follow(job: job, services: s, stream: stream) } }
    }

    static func follow(job: JobRecord, services s: Services, stream: ResponseStream) {
        defer { stream.finish() }
        let feed = EventFeed<JobEventRecord>()
        let token = s.events.subscribe(job: job.id) { feed.push($0) }
        defer { s.events.unsubscribe(token) }
        var lastSeq: Int64 = 0
        /// Each event once, in sequence order: the backlog and the live feed overlap.
        func deliver(_ e: JobEventRecord) -> FeedStep {
            guard let seq = e.seq, seq > lastSeq else { return .more }
            lastSeq = seq
            return stream.writeEvent(data: Wire.event(e).serialized) ? .check(after: settle) : .gone
        }
        /// Ended: a terminal status, and the runner done with the job (a cancelled running job still writes its last event).
        func ended() -> FeedStep {
            guard let current = try? s.store.job(id: job.id) else { return .finished }
            guard current.status.isTerminal else { return .more }
            return s.runner.runningJobs.contains { $0.jobID == job.id } ? .check(after: settle) : .finished
        }
        // The backlog after subscribing, so no event falls between the two.
        for e in (try? s.store.events(job: job.id, afterSeq: 0, limit: 100_000)) ?? [] {
            if case .gone = deliver(e) { return }
        }
        if case .finished = ended() { return }
        feed.pump(into: stream, idle: ended, deliver: deliver)
    }
}
