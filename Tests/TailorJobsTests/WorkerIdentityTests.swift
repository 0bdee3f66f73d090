// Who a process is on the shared queue: what start-up recovery releases at once (an earlier process of this node)
// and what it leaves to the leases (this process, other nodes, a node whose name only starts the same).
import Testing
@testable import TailorJobs

@Suite struct WorkerIdentityTests {
    @Test func onlyAnEarlierProcessOfThisNodeIsReleasedAtStart() {
        let now = WorkerIdentity(node: "gpu-1", processID: 200)
        let before = WorkerIdentity(node: "gpu-1", processID: 100)
        #expect(now.node == "gpu-1" && now.process.hasPrefix("gpu-1/200-"))
        #expect(now.worker("train-0") == now.process + "/train-0")
        #expect(now.isEarlierProcessOfThisNode(before.worker("train-0")))
        #expect(!now.isEarlierProcessOfThisNode(now.worker("train-1")), "this process's own claims are its threads'")
        #expect(!now.isEarlierProcessOfThisNode(WorkerIdentity(node: "gpu-10", processID: 100).worker("train-0")))
        #expect(!now.isEarlierProcessOfThisNode(WorkerIdentity(node: "gpu-2", processID: 100).worker("validate")))
        #expect(!now.isEarlierProcessOfThisNode("tailor-train-0"), "a claim from before leases is left to its (missing) lease")
        // The same pid after a reboot is still another start: the random part tells them apart.
        let samePid = WorkerIdentity(node: "gpu-1", processID: 200)
        #expect(samePid.process != now.process && now.isEarlierProcessOfThisNode(samePid.worker("train-0")))
        #expect(WorkerIdentity(node: "a/b", processID: 1).node == "a_b", "a node id cannot contain the separator")
    }
}
