// The server's lifecycle as a value with pure transitions, so the rules can be tested without a socket.
// Not the connections' lifecycle: that is ConnectionPhase, driven by bytes and timers.

enum ServerState: Equatable {
    case created
    /// start() has bound the socket; run() has not begun.
    case listening
    case running
    /// No longer accepting; open streams are closed once `graceDeadline` (uv_now milliseconds) passes.
    case draining(graceDeadline: UInt64)
    /// The last connection is gone; the loop is closing its own handles and run() is about to return.
    case stopped
}

enum ServerEvent: Equatable {
    case bound
    case runStarted
    case shutdownRequested(now: UInt64, graceMillis: UInt64)
    case lastConnectionClosed
}

extension ServerState {
    /// The state after `event`, or nil when the event does not apply (it is then ignored).
    func after(_ event: ServerEvent) -> ServerState? {
        switch (self, event) {
        case (.created, .bound): .listening
        case (.listening, .runStarted): .running
        case (.running, .shutdownRequested(let now, let grace)): .draining(graceDeadline: now + grace)
        case (.draining, .lastConnectionClosed): .stopped
        default: nil
        }
    }

    var isStopping: Bool {
        switch self {
        case .draining, .stopped: true
        default: false
        }
    }
}
