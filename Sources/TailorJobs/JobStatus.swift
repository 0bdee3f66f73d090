// A fine-tuning job's lifecycle as a pure state machine (OpenAI's statuses plus `paused`): which actions are allowed
// in which state and where they lead. The store saves the result; nothing here does I/O.

public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case validatingFiles = "validating_files", queued, running, paused, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

public enum JobAction: String, Sendable {
    case cancel, pause, resume
}

public enum JobTransition: Equatable, Sendable {
    /// The new status, saved at once; a running trainer sees it at its next step boundary, checkpoints and stops.
    case now(JobStatus)
    /// Already there: answer with the job unchanged (cancelling a cancelled job is idempotent).
    case unchanged
    case invalid(String)
}

public enum JobStateMachine {
    public static func apply(_ action: JobAction, to status: JobStatus) -> JobTransition {
        switch (action, status) {
        case (.cancel, .cancelled): return .unchanged
        case (.cancel, .validatingFiles), (.cancel, .queued), (.cancel, .paused), (.cancel, .running): return .now(.cancelled)
        case (.cancel, _): return .invalid("the job has already \(status.rawValue) and cannot be cancelled")
        case (.pause, .paused): return .unchanged
        case (.pause, .queued), (.pause, .validatingFiles), (.pause, .running): return .now(.paused)
        case (.pause, _): return .invalid("only a queued or running job can be paused; this one is \(status.rawValue)")
        case (.resume, .paused): return .now(.queued)
        case (.resume, .queued), (.resume, .running): return .unchanged
        case (.resume, _): return .invalid("only a paused job can be resumed; this one is \(status.rawValue)")
        }
    }
}
