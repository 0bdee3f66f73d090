// A fine-tuning job's whole lifecycle as one pure function: every event any writer can bring (the user's actions,
// the validator, a worker, recovery at start, a lease that lapsed) against the job's state gives the next state and
// what to announce.
// JobRunner.transition applies it inside one store transaction; nothing here does I/O.
import TailorEngine
import TailorStore

/// What the lifecycle decides on: the stored status, whether a worker holds the job, and whether its files are
/// validated (a plan exists).
public struct JobState: Equatable, Sendable, CustomStringConvertible {
    public var status: JobStatus
    /// A worker is executing the job (validating its files, or training): it stops at its next step boundary and
    /// then releases it. Who holds it, and under which lease, is the store's (Store+Claims.swift).
    public var claimed: Bool
    public var validated: Bool

    public init(status: JobStatus, claimed: Bool = false, validated: Bool = false) {
        self.status = status; self.claimed = claimed; self.validated = validated
    }

    public init(_ job: JobRecord) { self.init(status: job.status, claimed: job.claimedBy != nil, validated: job.plan != nil) }

    public var description: String { "\(status.rawValue)\(claimed ? "+claimed" : "")\(validated ? "+validated" : "")" }
}

public enum LifecycleEvent: Equatable, Sendable {
    // The user's actions.
    case pause, resume, cancel
    // The validator.
    case filesValidated
    case filesInvalid(JobError)
    // A worker: takes a validating job to read its files, or a queued one to train it.
    case claimed
    /// The trainer stopped at a step boundary (paused, cancelled, or the server is stopping) and let the job go;
    /// `unreachable`: it stopped because its worker could not read the job from the database (an outage or a
    /// restart of the database), without a checkpoint.
    case released(atStep: Int, unreachable: Bool = false)
    /// Training finished and `model` is ready to publish.
    case succeeded(model: String)
    case failed(JobError)
    // Recovery: the process that held the job is gone.
    case foundClaimedAtStart
    /// The worker holding the job stopped renewing its lease (it died, hangs, or lost the database): the job goes
    /// back to where another worker takes it.
    case leaseExpired

    public var name: String {
        switch self {
        case .pause: "pause"; case .resume: "resume"; case .cancel: "cancel"; case .filesValidated: "files validated"
        case .filesInvalid: "files invalid"; case .claimed: "claim"; case .released: "release"; case .succeeded: "success"
        case .failed: "failure"; case .foundClaimedAtStart: "recovery"; case .leaseExpired: "lease expiry"
        }
    }
}

public enum LifecycleEffect: Equatable, Sendable {
    /// An entry for the job's event list.
    case announce(String, level: String = "info")
    /// There is new work for the validator or the workers.
    case wake
    /// Training finished after the job was cancelled: the trained model must not be published.
    case discardResult
}

public enum LifecycleOutcome: Equatable, Sendable {
    case next(JobState, [LifecycleEffect])
    /// Already so: nothing is written (cancelling a cancelled job, pausing a paused one).
    case unchanged
    /// Not allowed in this state; the message says why, for the API's `invalid_state` answer.
    case invalid(String)
}

public enum JobLifecycle {
    public static func apply(_ event: LifecycleEvent, to s: JobState) -> LifecycleOutcome {
        func next(_ status: JobStatus, claimed: Bool? = nil, validated: Bool? = nil, _ effects: LifecycleEffect...) -> LifecycleOutcome {
            .next(JobState(status: status, claimed: claimed ?? s.claimed, validated: validated ?? s.validated), effects)
        }
        func failure(_ e: JobError) -> LifecycleOutcome {
            next(.failed, claimed: false, .announce(e.message, level: "error"), .announce("The job failed", level: "error"))
        }
        let invalid = LifecycleOutcome.invalid("a \(event.name) does not apply to a job that is \(s.status.rawValue)")

        switch (event, s.status) {
        // The user.
        case (.pause, .paused), (.cancel, .cancelled), (.resume, .queued), (.resume, .running), (.resume, .validatingFiles):
            return .unchanged
        case (.pause, .validatingFiles), (.pause, .queued):
            return next(.paused, .announce("Fine-tuning job paused"))
        case (.pause, .running):
            return next(.paused, .announce("Pausing the job at the end of the current step"))
        case (.pause, _):
            return .invalid("only a job that is validating, queued or running can be paused; this one is \(s.status.rawValue)")
        case (.resume, .paused) where s.claimed && !s.validated:
            // Its validator still has the files: validation simply goes on.
            return next(.validatingFiles, .announce("Pause withdrawn before validation finished; validation continues"))
        case (.resume, .paused) where s.claimed:
            // Its trainer has not reached the step boundary yet: the pause is withdrawn and training simply goes on.
            return next(.running, .announce("Pause withdrawn before the job stopped; training continues"))
        case (.resume, .paused) where !s.validated:
            return next(.validatingFiles, .announce("Fine-tuning job resumed; validating its files"), .wake)
        case (.resume, .paused):
            return next(.queued, .announce("Fine-tuning job resumed; moving job to queued state"), .wake)
        case (.resume, _):
            return .invalid("only a paused job can be resumed; this one is \(s.status.rawValue)")
        case (.cancel, .running), (.cancel, .paused) where s.claimed:
            return next(.cancelled, .announce("Cancelling the job; training stops within a moment"))
        case (.cancel, .validatingFiles), (.cancel, .queued), (.cancel, .paused):
            return next(.cancelled, .announce("Fine-tuning job cancelled"))
        case (.cancel, _):
            return .invalid("the job has already \(s.status.rawValue) and cannot be cancelled")

        // The validator: claims a validating job, and lets it go with its verdict. A job paused or cancelled while
        // its files were read keeps that status.
        case (.claimed, .validatingFiles) where !s.claimed && !s.validated:
            return next(.validatingFiles, claimed: true)
        case (.filesValidated, .validatingFiles):
            return next(.queued, claimed: false, validated: true, .announce("Files validated, moving job to queued state"), .wake)
        case (.filesValidated, .paused):
            // Its validator lets it go (a trainer's claim, on a job validated already, is not the validator's).
            return next(.paused, claimed: s.claimed && s.validated, validated: true, .announce("Files validated; the job stays paused until it is resumed"))
        case (.filesValidated, .cancelled), (.filesInvalid, .cancelled):
            return s.claimed && !s.validated ? next(.cancelled, claimed: false) : .unchanged
        case (.filesInvalid(let e), .validatingFiles), (.filesInvalid(let e), .paused):
            return failure(e)

        // A worker.
        case (.claimed, .queued) where !s.claimed && s.validated:
            return next(.running, claimed: true)
        case (.released(let step, _), .paused) where s.claimed && s.validated:
            return next(.paused, claimed: false, .announce("Fine-tuning job paused at step \(step); resume it to continue from there"))
        case (.released(let step, _), .cancelled) where s.claimed && s.validated:
            return next(.cancelled, claimed: false, .announce("Fine-tuning job cancelled at step \(step)"))
        case (.released(let step, false), .running) where s.claimed && s.validated:
            return next(.queued, claimed: false, .announce("The server is stopping; the job will resume from step \(step)"))
        case (.released(let step, true), .running) where s.claimed && s.validated:
            return next(.queued, claimed: false,
                        .announce("The worker could not reach the database at step \(step), so the job stopped; it will resume from its last checkpoint", level: "warn"),
                        .wake)
        case (.succeeded(let model), .running) where s.claimed && s.validated, (.succeeded(let model), .paused) where s.claimed && s.validated:
            // Paused during the last step: there is nothing left to pause.
            return next(.succeeded, claimed: false, .announce("New fine-tuned model created: \(model)"),
                        .announce("The job has successfully completed"))
        case (.succeeded, .cancelled) where s.claimed && s.validated:
            return next(.cancelled, claimed: false, .discardResult,
                        .announce("Training had finished when the cancel arrived; its result was discarded"))
        case (.failed, .cancelled):
            return s.claimed ? next(.cancelled, claimed: false) : .unchanged
        case (.failed(let e), let status) where !status.isTerminal:
            return failure(e)

        // Recovery at start: whoever held the job is gone.
        case (.foundClaimedAtStart, .running) where s.claimed:
            return next(.queued, claimed: false,
                        .announce("The server stopped while the job was running; it will resume from its last checkpoint"), .wake)
        case (.foundClaimedAtStart, .validatingFiles) where s.claimed:
            return next(.validatingFiles, claimed: false, .wake)
        case (.foundClaimedAtStart, _) where s.claimed:
            return next(s.status, claimed: false)
        case (.foundClaimedAtStart, _):
            return .unchanged

        // A lease lapsed: the worker is gone or cut off (it is fenced: its writes are refused from now on).
        case (.leaseExpired, .running) where s.claimed:
            return next(.queued, claimed: false,
                        .announce("The worker running the job stopped renewing its lease; the job will resume from its last checkpoint on another worker", level: "warn"),
                        .wake)
        case (.leaseExpired, .validatingFiles) where s.claimed:
            return next(.validatingFiles, claimed: false,
                        .announce("The worker validating the job stopped renewing its lease; its files will be validated again", level: "warn"),
                        .wake)
        case (.leaseExpired, .paused) where s.claimed:
            return next(.paused, claimed: false,
                        .announce("The worker stopped renewing its lease before the pause took effect; resume the job to continue from its last checkpoint", level: "warn"))
        case (.leaseExpired, _) where s.claimed:
            return next(s.status, claimed: false)
        case (.leaseExpired, _):
            return .unchanged

        default:
            return invalid
        }
    }

    /// What a claimed job's trainer does at its next step boundary (and, for a cancel, between layers).
    public static func directive(_ s: JobState) -> TrainingStop? {
        switch s.status {
        case .running: nil
        case .paused: .pause
        default: .abandon   // cancelled, or gone: nothing will resume it, so no checkpoint either
        }
    }
}
