// How a process joins the shared job queue (`serve` with workers, and `worker`): its node id and the lease length.
import ArgumentParser
import Foundation
import TailorJobs

struct QueueOptions: ParsableArguments {
    @Option(name: .customLong("node-id"),
            help: "This node's name on the job queue, stable across restarts (env TAILOR_NODE_ID; default the host name). Give each process on one host its own: at start a process releases at once the jobs its node's earlier process held.")
    var nodeID: String?
    @Option(name: .customLong("lease-seconds"),
            help: "How long a worker's claim on a job lasts without a heartbeat (env TAILOR_LEASE_SECONDS; default 60). A worker that dies or loses the database loses its jobs this long after its last renewal; another worker resumes them from their last checkpoint.")
    var leaseSeconds: Double?

    func node(_ env: [String: String]) -> String? { nodeID ?? env["TAILOR_NODE_ID"].flatMap { $0.isEmpty ? nil : $0 } }

    func apply(to runner: JobRunner, _ env: [String: String]) throws {
        if let lease = leaseSeconds ?? env["TAILOR_LEASE_SECONDS"].flatMap(Double.init) {
            guard lease >= 0.3 else { throw ValidationError("--lease-seconds must be at least 0.3 (the heartbeat renews every third of it)") }
            runner.leaseSeconds = lease
        }
    }
}
