// A value behind a lock, for the store's few pieces of shared mutable state (key cache, disk usage, lock file).
// Not Synchronization.Mutex: that needs macOS 15 and the package still builds for macOS 14.
import Foundation

final class Locked<Value>: @unchecked Sendable {
    // @unchecked is sound because `value` is only ever touched inside `withLock`, under `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
