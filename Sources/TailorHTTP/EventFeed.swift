// The one way to write Server-Sent Events fed by another thread (the generation thread, a job's trainer): producers
// push items and return at once, so a slow client never holds them up; one writer thread sleeps until an item comes,
// writes it, sends a keep-alive comment when the stream has been quiet, and stops when the client leaves.
// Not here: what an item looks like on the wire (the caller's `deliver`).
import Foundation

/// What the writer does after an item (or a quiet spell).
public enum FeedStep: Sendable {
    case more
    /// Go on, and call `idle` if nothing arrives within this many seconds (to notice an end no item announces).
    case check(after: TimeInterval)
    /// The stream is complete.
    case finished
    /// A write failed: the client left or the server is stopping.
    case gone
}

public final class EventFeed<Item: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `items` and `closed` are guarded by `condition`.
    private let condition = NSCondition()
    private var items: [Item] = []
    private var closed = false
    /// Seconds of silence after which a comment line goes out, so proxies and clients do not time the stream out.
    public let keepAlive: TimeInterval

    public init(keepAlive: TimeInterval = 15) {
        self.keepAlive = keepAlive
    }

    /// From any thread; never blocks on the client.
    public func push(_ item: Item) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Writes to `stream` on the calling thread: each pushed item, in order, through `deliver`, until `deliver` or
    /// `idle` says .finished (returns true) or the client goes away (returns false). `idle` runs when a .check
    /// deadline passes quietly and after each keep-alive comment. Does not finish the stream: the caller does.
    @discardableResult
    public func pump(into stream: ResponseStream, idle: () -> FeedStep = { .more }, deliver: (Item) -> FeedStep) -> Bool {
        stream.onClose { [self] in
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }
        var quietSince = Date()
        var checkAt: Date?
        while true {
            condition.lock()
            while items.isEmpty && !closed {
                let keepAliveAt = quietSince.addingTimeInterval(keepAlive)
                if !condition.wait(until: min(checkAt ?? keepAliveAt, keepAliveAt)) { break }
            }
            let batch = items
            items = []
            let gone = closed
            condition.unlock()
            if gone { return false }

            if batch.isEmpty {
                let now = Date()
                let step: FeedStep
                if now >= quietSince.addingTimeInterval(keepAlive) {
                    guard stream.writeComment() else { return false }
                    quietSince = now
                    step = idle()
                } else if let due = checkAt, now >= due {
                    step = idle()
                } else {
                    continue   // woken early: wait on
                }
                checkAt = nil
                switch step {
                case .more: break
                case .check(let seconds): checkAt = now.addingTimeInterval(seconds)
                case .finished: return true
                case .gone: return false
                }
                continue
            }
            for item in batch {
                switch deliver(item) {
                case .more: break
                case .check(let seconds): checkAt = Date().addingTimeInterval(seconds)
                case .finished: return true
                case .gone: return false
                }
            }
            quietSince = Date()
        }
    }
}
