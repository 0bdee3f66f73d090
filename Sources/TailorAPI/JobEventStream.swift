// GET /v1/fine_tuning/jobs/:id/events?stream=true: the job's events as Server-Sent Events, oldest first, until the
// job has ended — without a thread per stream: the backlog goes out from the handler, later events from the thread
// that emits them (never waiting on the client), keep-alives from one shared timer. Not here: the event list.
import Foundation
import TailorHTTP
import TailorJobs
import TailorStore

/// Every open job-events stream of the server.
final class JobEventStreams: @unchecked Sendable {
    // @unchecked Sendable: `open` is guarded by `lock`; the timer is created once in init.
    /// Seconds between keep-alive comments, so proxies and clients do not time a quiet stream out.
    static let keepAlive: TimeInterval = 15

    private let lock = NSLock()
    private var open: [ObjectIdentifier: JobEventFollower] = [:]
    private let timer = DispatchSource.makeTimerSource(queue: .global())

    init() {
        timer.schedule(deadline: .now() + Self.keepAlive, repeating: Self.keepAlive)
        timer.setEventHandler { [weak self] in self?.followers().forEach { $0.keepAlive() } }
        timer.resume()
    }

    deinit { timer.cancel() }

    func response(job: JobRecord, services s: Services) -> HTTPResponse {
        .eventStream { [self] stream in
            let follower = JobEventFollower(stream: stream)
            // Subscribed before the backlog is read, so no event falls between the two; the follower holds back what
            // arrives meanwhile and drops what the backlog already had.
            let token = s.events.subscribe(job: job.id) { follower.hear($0) }
            let key = ObjectIdentifier(follower)
            lock.withLock { open[key] = follower }
            stream.onClose { [self] in
                s.events.unsubscribe(token)
                lock.withLock { _ = open.removeValue(forKey: key) }
            }
            guard let (current, backlog) = try? s.store.jobWithEvents(id: job.id) else { return stream.finish() }
            // The status and the events that announced it are stored together: an ended job's backlog is complete.
            follower.start(backlog: backlog, ended: current.status.isTerminal && current.claimedBy == nil)
        }
    }

    private func followers() -> [JobEventFollower] { lock.withLock { Array(open.values) } }
}

/// One stream's queue: news in order, each event once, written as fast as the client reads and no faster.
final class JobEventFollower: @unchecked Sendable {
    // @unchecked Sendable: every field but `stream` is guarded by `lock`.
    private let lock = NSLock()
    private let stream: ResponseStream
    /// Not yet written from `next` on; nil until the backlog has been queued (news that comes earlier waits in `early`).
    private var outbox: [JobNews]?
    private var next = 0
    private var early: [JobNews] = []
    private var lastSeq: Int64 = 0
    private var waiting = false
    private var done = false

    init(stream: ResponseStream) { self.stream = stream }

    func start(backlog: [JobEventRecord], ended: Bool) {
        lock.withLock {
            outbox = backlog.map(JobNews.event) + (ended ? [.ended] : []) + early
            early = []
        }
        flush()
    }

    func hear(_ news: JobNews) {
        lock.withLock {
            if outbox == nil { early.append(news) } else { outbox!.append(news) }
        }
        flush()
    }

    /// A comment when nothing is waiting to go out (a client that is behind is not idle).
    func keepAlive() {
        let quiet = lock.withLock { outbox.map { next == $0.count } == true && !waiting && !done }
        if quiet { _ = stream.offer(ResponseStream.comment()) }
    }

    /// Writes what the client can take now; when it is a megabyte behind, resumes once it has caught up.
    private func flush() {
        lock.lock()
        defer { lock.unlock() }
        guard !waiting && !done, outbox != nil else { return }
        defer {
            // Drop what went out, now and then rather than one item at a time (a backlog can be long).
            if next > 256 && next * 2 > outbox!.count { outbox!.removeFirst(next); next = 0 }
        }
        while next < outbox!.count {
            switch outbox![next] {
            case .ended:
                done = true
                stream.finish()
                return
            case .event(let e):
                guard let seq = e.seq, seq > lastSeq else { next += 1; continue }
                switch stream.offer(ResponseStream.event(data: Wire.event(e).serialized)) {
                case .sent:
                    lastSeq = seq
                    next += 1
                case .full:
                    waiting = true
                    stream.whenWritable { [self] in
                        lock.withLock { waiting = false }
                        flush()
                    }
                    return
                case .closed:
                    done = true
                    outbox = []; next = 0
                    return
                }
            }
        }
    }
}
