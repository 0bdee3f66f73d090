// How a process joins the shared queue of jobs and eval runs (`serve` with workers, and `worker`): its node id and the
// lease length.
import ArgumentParser
import Foundation
import TailorJobs

struct QueueOptions: ParsableArguments {
    @Option(name: .customLong("node-id"),
            help: "This node's name on the job queue, stable across restarts (env TAILOR_NODE_ID; default the host name). Give each process on one host its own: at start a process releases at once the jobs its node's earlier process held.")
    var nodeID: String?
    @Option(name: .customLong("lease-seconds"),
            help: "How long a worker's claim on a job or eval run lasts without a heartbeat (env TAILOR_LEASE_SECONDS; default 60). A worker that dies or loses the database loses its jobs and eval runs this long after its last renewal; another worker resumes them (a job from its last checkpoint, a run after its last graded item).")
    var leaseSeconds: Double?

    func node(_ env: [String: String]) -> String? { nodeID ?? env["TAILOR_NODE_ID"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Sets the lease of the job runner's claims and of the eval runner's (one lease length per process).
    func apply(to runner: JobRunner, evals: EvalRunner, _ env: [String: String]) throws {
        if let lease = leaseSeconds ?? env["TAILOR_LEASE_SECONDS"].flatMap(Double.init) {
            guard lease >= 0.3 else { throw ValidationError("--lease-seconds must be at least 0.3 (the heartbeat renews every third of it)") }
            runner.leaseSeconds = lease
            evals.leaseSeconds = lease
        }
    }
}
