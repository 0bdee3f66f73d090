// The keys and values of one sequence, per layer (positions × NKV*HD, f32), filled by prefill and decode.
// Owned by one generation thread; capacity is reserved up front for prompt + max tokens so decoding never allocates.

public final class KVCache {
    public let layers: Int
    public let kvDim: Int
    public private(set) var capacity = 0
    /// Positions filled so far.
    public internal(set) var count = 0
    private(set) var k: [UnsafeMutablePointer<Float>] = []
    private(set) var v: [UnsafeMutablePointer<Float>] = []

    public init(config: LlamaConfig, capacity: Int = 256) {
        layers = config.layers
        kvDim = config.kvDim
        reserve(capacity)
    }

    deinit { for p in k + v { p.deallocate() } }

    /// Makes room for `positions` in total, keeping what is cached.
    public func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        let newCapacity = max(positions, capacity * 2)
        for l in 0..<layers {
            let nk = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
            let nv = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
            if capacity > 0 {
                nk.update(from: k[l], count: count * kvDim); k[l].deallocate(); k[l] = nk
                nv.update(from: v[l], count: count * kvDim); v[l].deallocate(); v[l] = nv
            } else { k.append(nk); v.append(nv) }
        }
        capacity = newCapacity
    }

    /// Forgets positions from `position` on (a shared prompt prefix can be kept and the rest recomputed).
    public func truncate(to position: Int) { count = min(count, position) }

    /// A copy holding the same positions (the other choices of an n > 1 request share their prompt's prefill).
    public func clone(capacity: Int) -> KVCache {
        let c = KVCache(layers: layers, kvDim: kvDim)
        c.reserve(max(capacity, count))
        for l in 0..<layers {
            c.k[l].update(from: k[l], count: count * kvDim)
            c.v[l].update(from: v[l], count: count * kvDim)
        }
        c.count = count
        return c
    }

    private init(layers: Int, kvDim: Int) { self.layers = layers; self.kvDim = kvDim }

    public var bytes: Int { 2 * layers * capacity * kvDim * 4 }

    /// What a cache of `positions` positions takes for `config`.
    public static func bytes(_ config: LlamaConfig, positions: Int) -> Int { 2 * config.layers * positions * config.kvDim * 4 }
}
