// Tells a handler that its client has gone before the response was written, so work done only for that client
// (a generation, a long prefill) can stop. The connection fires it; handlers only observe it. A ResponseStream
// uses one too, for its close handlers.
import Foundation

public final class DisconnectSignal: @unchecked Sendable {
    // @unchecked Sendable: `fired` and `handlers` are guarded by `lock`.
    private let lock = NSLock()
    private var fired = false
    private var handlers: [@Sendable () -> Void] = []

    public init() {}

    public var hasFired: Bool {
        lock.lock()
        defer { lock.unlock() }
        return fired
    }

    /// Runs `body` once when the client disconnects; at once if it already has. It may run on the loop thread:
    /// keep it short (cancel a handle, signal a condition).
    public func onDisconnect(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        if fired {
            lock.unlock()
            body()
            return
        }
        handlers.append(body)
        lock.unlock()
    }

    /// Loop side: the connection closed while its handler was still working.
    func fire() {
        lock.lock()
        guard !fired else {
            lock.unlock()
            return
        }
        fired = true
        let run = handlers
        handlers = []
        lock.unlock()
        for handler in run { handler() }
    }
}
