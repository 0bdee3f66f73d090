// The kernel thread pool under jobs submitted from several threads at once (serving and training do): every job
// runs each of its tasks exactly once, never an index past its count, and returns only when they are done.
// Before 2026-12-06 a worker still looping over a finished job could read the next job's task count, claim against
// the old job's counter and run the next job's function with an index past its tasks — the segfault `bench serve`
// and an e2e run hit in the 8-bit product (a worker at task 720 of a job five generations old).
import Foundation
import Testing
@testable import TailorEngine

@Suite struct ThreadPoolTests {
    @Test func jobsFromThreeThreadsRunEachTaskOnce() {
        KernelThreads.set(max(2, KernelThreads.count))
        let submitters = 3, jobs = 40000
        final class Failures: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var total = 0
            func add(_ n: Int) { lock.lock(); total += n; lock.unlock() }
        }
        let failures = Failures()
        let done = DispatchGroup()
        for s in 0..<submitters {
            done.enter()
            Thread {
                var rng = SeededRandom(seed: UInt64(s + 1))
                let slots = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)
                defer { slots.deallocate(); done.leave() }
                for _ in 0..<jobs {
                    // Small and large jobs alternate, as decode's ~8-task products and a long prompt's rows do.
                    let count = rng.next() % 3 == 0 ? 600 + Int(rng.next() % 424) : 2 + Int(rng.next() % 14)
                    slots.initialize(repeating: 0, count: count)
                    var outOfRange = 0
                    withUnsafeMutablePointer(to: &outOfRange) { bad in
                        parallelFor(count) { i in
                            if i < 0 || i >= count { bad.pointee += 1 } else { slots[i] += 1 }
                        }
                    }
                    var wrong = outOfRange
                    for i in 0..<count where slots[i] != 1 { wrong += 1 }
                    failures.add(wrong)
                }
            }.start()
        }
        done.wait()
        #expect(failures.total == 0, "tasks run twice, never, or past their job's count")
    }
}
