// A short-lived in-memory map from key hash to principal, so authenticating a request costs no database read.
// Not a source of truth: entries live 2 s, so a revocation made by another process takes effect within that.
import Foundation

final class KeyCache: Sendable {
    /// Long enough to absorb a burst of requests, short enough that `tailor keys revoke` run beside the
    /// server bites within seconds without any cross-process signalling.
    static let lifetime = Duration.seconds(2)
    /// Bounds memory if clients cycle through many keys; past it the cache starts over.
    static let capacity = 1024

    private struct Entry {
        var principal: Principal
        var fetchedAt: ContinuousClock.Instant
    }

    private let entries = Locked<[String: Entry]>([:])

    func principal(forHash hash: String, at now: ContinuousClock.Instant) -> Principal? {
        entries.withLock { entries in
            guard let entry = entries[hash] else { return nil }
            guard now - entry.fetchedAt < Self.lifetime else {
                entries[hash] = nil
                return nil
            }
            return entry.principal
        }
    }

    func insert(_ principal: Principal, forHash hash: String, at now: ContinuousClock.Instant) {
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                entries = entries.filter { now - $0.value.fetchedAt < Self.lifetime }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[hash] = Entry(principal: principal, fetchedAt: now)
        }
    }

    /// Drops a key at once when this process revokes or changes it.
    func invalidate(keyID: String) {
        entries.withLock { entries in
            entries = entries.filter { $0.value.principal.keyID != keyID }
        }
    }
}
