// The keys and values of one sequence, per layer (positions × NKV*HD), filled by prefill and decode. Stored in f32,
// or in f16 for serving (half the bytes a decode step's attention reads — at 16 sequences it streams tens of MB a
// step — and llama.cpp's default); reference checks keep f32. Owned by one generation thread; capacity is reserved
// up front for prompt + max tokens so decoding never allocates.
import CKernels

public final class KVCache {
    public let layers: Int
    public let kvDim: Int
    /// Keys and values stored as IEEE f16 (rounded to nearest even when written), else f32.
    public let halfPrecision: Bool
    public private(set) var capacity = 0
    /// Positions filled so far.
    public internal(set) var count = 0
    /// Per layer, capacity × kvDim elements of 2 or 4 bytes.
    private(set) var k: [UnsafeMutableRawPointer] = []
    private(set) var v: [UnsafeMutableRawPointer] = []
    private var elementBytes: Int { halfPrecision ? 2 : 4 }

    public init(config: LlamaConfig, capacity: Int = 256, halfPrecision: Bool = false) {
        layers = config.layers
        kvDim = config.kvDim
        self.halfPrecision = halfPrecision
        reserve(capacity)
    }

    deinit { for p in k + v { p.deallocate() } }

    /// Makes room for `positions` in total, keeping what is cached.
    public func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        let newCapacity = max(positions, capacity * 2), e = elementBytes
        for l in 0..<layers {
            let nk = UnsafeMutableRawPointer.allocate(byteCount: newCapacity * kvDim * e, alignment: 64)
            let nv = UnsafeMutableRawPointer.allocate(byteCount: newCapacity * kvDim * e, alignment: 64)
            if capacity > 0 {
                nk.copyMemory(from: k[l], byteCount: count * kvDim * e); k[l].deallocate(); k[l] = nk
                nv.copyMemory(from: v[l], byteCount: count * kvDim * e); v[l].deallocate(); v[l] = nv
            } else { k.append(nk); v.append(nv) }
        }
        capacity = newCapacity
    }

    /// Forgets positions from `position` on (a shared prompt prefix can be kept and the rest recomputed).
    public func truncate(to position: Int) { count = min(count, position) }

    /// A copy holding the same positions, or only the first `positions` of them (the other choices of an n > 1
    /// request share their prompt's prefill; a prompt that repeats a cached one starts from its rows).
    public func clone(capacity: Int, positions: Int? = nil) -> KVCache {
        let kept = min(positions ?? count, count)
        let c = KVCache(layers: layers, kvDim: kvDim, halfPrecision: halfPrecision)
        c.reserve(max(capacity, kept))
        for l in 0..<layers {
            c.k[l].copyMemory(from: k[l], byteCount: kept * kvDim * elementBytes)
            c.v[l].copyMemory(from: v[l], byteCount: kept * kvDim * elementBytes)
        }
        c.count = kept
        return c
    }

    private init(layers: Int, kvDim: Int, halfPrecision: Bool) {
        self.layers = layers; self.kvDim = kvDim; self.halfPrecision = halfPrecision
    }

    /// Writes one position's key and value rows (kvDim floats each) of layer `l`.
    func store(layer l: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        if halfPrecision {
            tk_f32_to_f16_row(key, halves(k[l]) + position * kvDim, Int64(kvDim))
            tk_f32_to_f16_row(value, halves(v[l]) + position * kvDim, Int64(kvDim))
        } else {
            (floats(k[l]) + position * kvDim).update(from: key, count: kvDim)
            (floats(v[l]) + position * kvDim).update(from: value, count: kvDim)
        }
    }

    /// Layer `l`'s keys and values from position `from` as f32: the stored rows themselves, or — in f16 — the
    /// positions `from..<to` widened into `scratchK` / `scratchV` (each at least (to − from) × kvDim floats).
    func floatRows(layer l: Int, from: Int, to: Int, scratchK: UnsafeMutablePointer<Float>, scratchV: UnsafeMutablePointer<Float>)
        -> (k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        guard halfPrecision else { return (UnsafePointer(floats(k[l]) + from * kvDim), UnsafePointer(floats(v[l]) + from * kvDim)) }
        let n = Int64((to - from) * kvDim)
        tk_f16_to_f32_row(halves(k[l]) + from * kvDim, scratchK, n)
        tk_f16_to_f32_row(halves(v[l]) + from * kvDim, scratchV, n)
        return (UnsafePointer(scratchK), UnsafePointer(scratchV))
    }

    func floats(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Float> { p.assumingMemoryBound(to: Float.self) }
    func halves(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UInt16> { p.assumingMemoryBound(to: UInt16.self) }

    public var bytes: Int { 2 * layers * capacity * kvDim * elementBytes }

    /// What a cache of `positions` positions takes for `config`.
    public static func bytes(_ config: LlamaConfig, positions: Int, halfPrecision: Bool = false) -> Int {
        2 * config.layers * positions * config.kvDim * (halfPrecision ? 2 : 4)
    }
}
