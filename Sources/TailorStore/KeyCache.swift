// An in-memory map from key hash to principal, so authenticating a request costs a stat(2), not a database read.
// Exact across processes: any change that can take a key away (revoke, restore) appends a byte to DATA/keys.changed
// after its commit, and an entry is only trusted while that file's size is what it was when the entry was read.
import Foundation

final class KeyCache: Sendable {
    /// Bounds memory if clients cycle through many keys; past it the cache starts over.
    static let capacity = 1024

    private struct Entry {
        var principal: Principal
        var version: Int
    }

    private let entries = Locked<[String: Entry]>([:])

    func principal(forHash hash: String, version: Int) -> Principal? {
        entries.withLock { entries in
            guard let entry = entries[hash] else { return nil }
            guard entry.version == version else {
                entries[hash] = nil
                return nil
            }
            return entry.principal
        }
    }

    func insert(_ principal: Principal, forHash hash: String, version: Int) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(principal: principal, version: version)
        }
    }
}
