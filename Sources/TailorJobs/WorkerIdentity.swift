// Who a process is on the shared job queue. A job's claim names the thread that holds it as NODE/PID-RANDOM/THREAD:
// NODE stays the same across restarts (the host name, or --node-id when several processes share a host), the rest
// is new at every start. A process starting finds the claims of its node's earlier process and releases them at once
// (that process is gone: nothing else runs under this node id), while other nodes' claims are left to their leases.
import Foundation

public struct WorkerIdentity: Sendable, CustomStringConvertible {
    public let node: String
    /// This start of this process: NODE/PID-RANDOM.
    public let process: String

    public init(node: String? = nil, processID: Int32 = ProcessInfo.processInfo.processIdentifier) {
        // "/" separates the parts of a claim, so a node id cannot contain one.
        let name = (node ?? ProcessInfo.processInfo.hostName).replacingOccurrences(of: "/", with: "_")
        self.node = name.isEmpty ? "tailor" : name
        process = "\(self.node)/\(processID)-\(String(UInt32.random(in: .min ... .max), radix: 36))"
    }

    /// The claim of one of this process's threads.
    public func worker(_ thread: String) -> String { "\(process)/\(thread)" }

    /// Whether `claim` was made by an earlier process of this node (not this one).
    public func isEarlierProcessOfThisNode(_ claim: String) -> Bool {
        claim.hasPrefix(node + "/") && !claim.hasPrefix(process + "/")
    }

    public var description: String { process }
}
