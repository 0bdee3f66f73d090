// A value behind a pthread mutex (NSLock), for the few fields several threads share.
// Not Synchronization.Mutex: on Linux that is built on raw futexes, which ThreadSanitizer cannot see,
// so every access through it is reported as a race and real races would drown in the noise.
import Foundation

final class LockedValue<Value>: @unchecked Sendable {
    // @unchecked: `value` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
