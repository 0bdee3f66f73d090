// A fixed set of threads that run handlers off the loop, fed from one FIFO queue.
// Not a general executor: no priorities, no cancellation; a job that blocks holds its thread.
import Foundation

final class HandlerPool: @unchecked Sendable {
    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    private var running = 0

    init(threads: Int, name: String) {
        running = max(1, threads)
        for index in 0..<running {
            // Named from inside the thread: Foundation's Thread.name does not reliably reach the OS thread
            // on Linux, and the OS name is what top, perf and gdb show.
            let threadName = "\(name)-\(index)"
            Thread { [self] in
                setCurrentThreadName(threadName)
                work()
            }.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets queued jobs finish, then ends the threads; returns once they have all exited.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        while let job = next() { job() }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func next() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !stopping { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        // Compact occasionally instead of removeFirst() on every job.
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }
}
