// The writer side of a chunked (or SSE) response, usable from any thread: writes hop onto the loop through
// the mailbox, with a bounded amount in flight so a slow client slows the writer instead of growing memory.
import Foundation

public final class ResponseStream: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `condition`; `connectionID` and `mailbox` never change.
    private let condition = NSCondition()
    private var closed = false
    private var finishing = false
    private var inFlight = 0
    /// Waiting for the client to catch up (`whenWritable`).
    private var writable: (@Sendable () -> Void)?
    /// Runs the close handlers once; the same once-only mechanism as a request's DisconnectSignal.
    private let closing = DisconnectSignal()
    private let mailbox: Mailbox
    let connectionID: UInt64

    /// Bytes queued for the socket beyond which write() waits for the client to catch up.
    static let inFlightLimit = 1 << 20

    init(mailbox: Mailbox, connectionID: UInt64) {
        self.mailbox = mailbox
        self.connectionID = connectionID
    }

    /// Sends `bytes` as one chunk. Blocks while more than a megabyte is still unsent.
    /// Returns false once the client is gone, the stream finished, or the server is stopping.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool { send(bytes, blocking: true) == .sent }

    /// What `offer` did.
    public enum Offer: Sendable { case sent, full, closed }

    /// Queues `bytes` as one chunk without ever waiting, for writers that must not be held up by a client (a job's
    /// trainer emitting an event). `.full`: the client is a megabyte behind and nothing was queued; `whenWritable`
    /// says when to try again.
    public func offer(_ bytes: [UInt8]) -> Offer { send(bytes, blocking: false) }

    /// Runs `body` once on a global queue as soon as the client has caught up below the limit (at once if it has);
    /// never if the stream closes first. One waiter at a time: a second call replaces the first.
    public func whenWritable(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        if inFlight < Self.inFlightLimit {
            condition.unlock()
            DispatchQueue.global().async(execute: body)
            return
        }
        writable = body
        condition.unlock()
    }

    private func send(_ bytes: [UInt8], blocking: Bool) -> Offer {
        if bytes.isEmpty { return isClosed ? .closed : .sent }
        condition.lock()
        while blocking && inFlight >= Self.inFlightLimit && !closed { condition.wait() }
        guard !closed && !finishing else {
            condition.unlock()
            return .closed
        }
        guard inFlight < Self.inFlightLimit else {
            condition.unlock()
            return .full
        }
        inFlight += bytes.count
        condition.unlock()
        if !mailbox.post(.streamChunk(self, bytes)) {
            markClosed()
            return .closed
        }
        return .sent
    }

    @discardableResult
    public func write(_ text: String) -> Bool { write(Array(text.utf8)) }

    /// One Server-Sent Event; a multi-line `data` becomes one "data:" line per line, as the format requires.
    @discardableResult
    public func writeEvent(data: String, event: String? = nil, id: String? = nil) -> Bool {
        write(Self.event(data: data, event: event, id: id))
    }

    /// The bytes of one Server-Sent Event (for `offer`).
    public static func event(data: String, event: String? = nil, id: String? = nil) -> [UInt8] {
        var text = ""
        if let event { text += "event: \(event)\n" }
        if let id { text += "id: \(id)\n" }
        // CR, LF and CRLF all end an SSE line, so each becomes a "data:" line break ("\r\n" is one Character).
        for line in data.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            text += "data: "
            text += line
            text += "\n"
        }
        text += "\n"
        return Array(text.utf8)
    }

    /// An SSE comment line (": ping"), which clients ignore; it keeps proxies from timing the stream out.
    @discardableResult
    public func writeComment(_ text: String = "ping") -> Bool { write(Self.comment(text)) }

    public static func comment(_ text: String = "ping") -> [UInt8] { Array(": \(text)\n\n".utf8) }

    /// Sends the terminating chunk; the connection then carries on with keep-alive if the request allowed it.
    /// onClose handlers run once the terminating chunk has been written.
    public func finish() {
        condition.lock()
        guard !closed && !finishing else {
            condition.unlock()
            return
        }
        finishing = true
        condition.unlock()
        if !mailbox.post(.streamFinish(self)) { markClosed() }
    }

    public var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// Runs `body` once when the client disconnects, the server stops the stream, or finish() has completed;
    /// at once if that has already happened. It may run on the loop thread: keep it short.
    public func onClose(_ body: @escaping @Sendable () -> Void) {
        closing.onDisconnect(body)
    }

    /// Loop side: `count` bytes of an earlier write reached the socket.
    func didFlush(_ count: Int) {
        condition.lock()
        inFlight -= count
        condition.signal()
        var resume: (@Sendable () -> Void)?
        if inFlight < Self.inFlightLimit { swap(&resume, &writable) }
        condition.unlock()
        if let resume { DispatchQueue.global().async(execute: resume) }
    }

    /// Loop side (or a failed post): the stream is over; wakes blocked writers and runs the close handlers.
    func markClosed() {
        condition.lock()
        guard !closed else {
            condition.unlock()
            return
        }
        closed = true
        writable = nil
        condition.broadcast()
        condition.unlock()
        closing.fire()
    }
}
