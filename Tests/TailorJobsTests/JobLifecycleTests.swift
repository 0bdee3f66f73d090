// The job lifecycle's transition table: every reachable state against every event, illegal ones included, and the
// effects that matter (what wakes the queue, when a trained result is thrown away, what a trainer is told).
import Testing
import TailorStore
@testable import TailorJobs

@Suite struct JobLifecycleTests {
    static let error = JobError(code: "x", message: "boom", param: nil)
    static let events: [LifecycleEvent] = [.pause, .resume, .cancel, .filesValidated, .filesInvalid(error), .claimed,
                                           .released(atStep: 3), .succeeded(model: "ft:m"), .failed(error), .foundClaimedAtStart,
                                           .leaseExpired]

    static func state(_ status: JobStatus, claimed: Bool = false, validated: Bool = false) -> JobState {
        JobState(status: status, claimed: claimed, validated: validated)
    }

    /// One row per reachable state; one column per event, in `events` order: "=" unchanged, "!" invalid, else the
    /// next state.
    static let table: [(JobState, [String])] = [
        (state(.validatingFiles),
         ["paused", "=", "cancelled", "queued+validated", "failed", "validating_files+claimed", "!", "!", "failed", "=", "="]),
        (state(.validatingFiles, claimed: true),
         ["paused+claimed", "=", "cancelled+claimed", "queued+validated", "failed", "!", "!", "!", "failed", "validating_files",
          "validating_files"]),
        (state(.queued, validated: true),
         ["paused+validated", "=", "cancelled+validated", "!", "!", "running+claimed+validated", "!", "!", "failed+validated", "=", "="]),
        (state(.running, claimed: true, validated: true),
         ["paused+claimed+validated", "=", "cancelled+claimed+validated", "!", "!", "!", "queued+validated", "succeeded+validated",
          "failed+validated", "queued+validated", "queued+validated"]),
        (state(.paused), ["=", "validating_files", "cancelled", "paused+validated", "failed", "!", "!", "!", "failed", "=", "="]),
        (state(.paused, claimed: true),
         ["=", "validating_files+claimed", "cancelled+claimed", "paused+validated", "failed", "!", "!", "!", "failed", "paused", "paused"]),
        (state(.paused, validated: true),
         ["=", "queued+validated", "cancelled+validated", "paused+validated", "failed+validated", "!", "!", "!", "failed+validated", "=",
          "="]),
        (state(.paused, claimed: true, validated: true),
         ["=", "running+claimed+validated", "cancelled+claimed+validated", "paused+claimed+validated", "failed+validated", "!",
          "paused+validated", "succeeded+validated", "failed+validated", "paused+validated", "paused+validated"]),
        (state(.cancelled, claimed: true), ["!", "!", "=", "cancelled", "cancelled", "!", "!", "!", "cancelled", "cancelled", "cancelled"]),
        (state(.cancelled, validated: true), ["!", "!", "=", "=", "=", "!", "!", "!", "=", "=", "="]),
        (state(.cancelled, claimed: true, validated: true),
         ["!", "!", "=", "=", "=", "!", "cancelled+validated", "cancelled+validated", "cancelled+validated", "cancelled+validated",
          "cancelled+validated"]),
        (state(.succeeded, validated: true), ["!", "!", "!", "!", "!", "!", "!", "!", "!", "=", "="]),
        (state(.failed, validated: true), ["!", "!", "!", "!", "!", "!", "!", "!", "!", "=", "="]),
    ]

    @Test func everyStateAgainstEveryEvent() {
        for (state, expected) in Self.table {
            for (event, want) in zip(Self.events, expected) {
                let got: String
                switch JobLifecycle.apply(event, to: state) {
                case .unchanged: got = "="
                case .invalid(let why):
                    got = "!"
                    #expect(!why.isEmpty)
                case .next(let next, _): got = next.description
                }
                #expect(got == want, "\(state) + \(event): \(got), expected \(want)")
            }
        }
    }

    @Test func theTableCoversEveryStatus() {
        #expect(Set(Self.table.map(\.0.status)) == Set(JobStatus.allCases))
    }

    @Test func terminalJobsNeverLeaveTheirStatus() {
        for (state, _) in Self.table where state.status.isTerminal {
            for event in Self.events {
                if case .next(let next, _) = JobLifecycle.apply(event, to: state) { #expect(next.status == state.status) }
            }
        }
    }

    @Test func onlyAClaimPutsAWorkerOnAJobAndOnlyItsWorkerEndsIt() {
        for (state, _) in Self.table where !state.claimed {
            for event in Self.events where event != .claimed {
                if case .next(let next, _) = JobLifecycle.apply(event, to: state) { #expect(!next.claimed, "\(state) + \(event)") }
            }
            for event: LifecycleEvent in [.released(atStep: 1), .succeeded(model: "ft:m")] {
                if case .next = JobLifecycle.apply(event, to: state) { Issue.record("\(event) on unclaimed \(state)") }
            }
        }
    }

    @Test func aTrainerStoppedByADatabaseOutageSaysSoNotThatTheServerIsStopping() {
        let running = Self.state(.running, claimed: true, validated: true)
        guard case .next(let next, let effects) = JobLifecycle.apply(.released(atStep: 4, unreachable: true), to: running) else {
            Issue.record("no transition"); return
        }
        #expect(next == Self.state(.queued, validated: true))
        #expect(effects == [.announce("The worker could not reach the database at step 4, so the job stopped; it will resume from its last checkpoint", level: "warn"), .wake])
        guard case .next(_, let stopping) = JobLifecycle.apply(.released(atStep: 4), to: running) else { Issue.record("no transition"); return }
        #expect(stopping == [.announce("The server is stopping; the job will resume from step 4")])
        // Paused or cancelled meanwhile: the outage changes nothing of that.
        for status: JobStatus in [.paused, .cancelled] {
            let state = Self.state(status, claimed: true, validated: true)
            #expect(JobLifecycle.apply(.released(atStep: 4, unreachable: true), to: state) == JobLifecycle.apply(.released(atStep: 4), to: state))
        }
    }

    @Test func aCancelThatRacesTheLastStepThrowsTheResultAway() {
        guard case .next(let next, let effects) = JobLifecycle.apply(.succeeded(model: "ft:m"), to: Self.state(.cancelled, claimed: true, validated: true)) else {
            Issue.record("no transition"); return
        }
        #expect(next.status == .cancelled && effects.contains(.discardResult))
    }

    @Test func aPauseWithdrawnBeforeTheStepBoundarySaysSoAndKeepsTraining() {
        let pausing = Self.state(.paused, claimed: true, validated: true)
        guard case .next(let next, let effects) = JobLifecycle.apply(.resume, to: pausing) else { Issue.record("no transition"); return }
        #expect(next == Self.state(.running, claimed: true, validated: true))
        #expect(effects == [.announce("Pause withdrawn before the job stopped; training continues")])
        #expect(JobLifecycle.directive(next) == nil)
        #expect(JobLifecycle.directive(pausing) == .pause)
        #expect(JobLifecycle.directive(Self.state(.cancelled, claimed: true)) == .abandon)
    }

    @Test func newWorkWakesTheQueue() {
        for (state, event) in [(Self.state(.validatingFiles), LifecycleEvent.filesValidated),
                               (Self.state(.paused, validated: true), .resume), (Self.state(.paused), .resume),
                               (Self.state(.running, claimed: true, validated: true), .foundClaimedAtStart),
                               (Self.state(.validatingFiles, claimed: true), .foundClaimedAtStart),
                               (Self.state(.running, claimed: true, validated: true), .leaseExpired),
                               (Self.state(.validatingFiles, claimed: true), .leaseExpired)] {
            guard case .next(_, let effects) = JobLifecycle.apply(event, to: state) else { Issue.record("\(state) + \(event)"); continue }
            #expect(effects.contains(.wake), "\(state) + \(event)")
        }
    }

    @Test func aLapsedLeaseSendsTheJobBackToTheQueueAndSaysItResumesFromItsCheckpoint() {
        guard case .next(let next, let effects) = JobLifecycle.apply(.leaseExpired, to: Self.state(.running, claimed: true, validated: true)) else {
            Issue.record("no transition"); return
        }
        #expect(next == Self.state(.queued, validated: true))
        #expect(effects.contains { if case .announce(let m, "warn") = $0 { m.contains("resume from its last checkpoint") } else { false } })
        // A claim is then possible again, by any worker.
        guard case .next(let again, _) = JobLifecycle.apply(.claimed, to: next) else { Issue.record("no re-claim"); return }
        #expect(again == Self.state(.running, claimed: true, validated: true))
    }

    @Test func aValidatorsClaimEndsWithItsVerdictWhateverTheUserDidMeanwhile() {
        let validating = Self.state(.validatingFiles, claimed: true)
        for (user, verdict, want) in [(LifecycleEvent.pause, LifecycleEvent.filesValidated, Self.state(.paused, validated: true)),
                                      (.cancel, .filesValidated, Self.state(.cancelled)),
                                      (.cancel, .filesInvalid(Self.error), Self.state(.cancelled)),
                                      (.pause, .filesInvalid(Self.error), Self.state(.failed))] {
            guard case .next(let during, _) = JobLifecycle.apply(user, to: validating),
                  case .next(let after, _) = JobLifecycle.apply(verdict, to: during) else { Issue.record("\(user) then \(verdict)"); continue }
            #expect(during.claimed, "the validator still holds the job after a \(user)")
            #expect(after == want, "\(user) then \(verdict)")
        }
    }
}
