// A LoRA adapter as inference uses it: per layer and target projection, A (r, in) and B (out, r) in f32, applied at
// the matmul as y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with s = alpha / r, on top of the shared read-only base weights.
// Immutable once built; training keeps its own mutable parameters and publishes snapshots of this type.
import CKernels
import Foundation

public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case q, k, v, o, gate, up, down

    /// The Hugging Face module name PEFT uses in `target_modules`.
    public var moduleName: String {
        switch self {
        case .q: "q_proj"; case .k: "k_proj"; case .v: "v_proj"; case .o: "o_proj"
        case .gate: "gate_proj"; case .up: "up_proj"; case .down: "down_proj"
        }
    }

    static let count = allCases.count
    /// Its position in allCases.
    var index: Int {
        switch self { case .q: 0; case .k: 1; case .v: 2; case .o: 3; case .gate: 4; case .up: 5; case .down: 6 }
    }

    public init?(moduleName: String) {
        guard let t = LoRATarget.allCases.first(where: { $0.moduleName == moduleName }) else { return nil }
        self = t
    }

    /// (out, in) of the projection this target adapts.
    public func shape(_ c: LlamaConfig) -> (out: Int, in: Int) {
        switch self {
        case .q: (c.qDim, c.dim); case .k, .v: (c.kvDim, c.dim); case .o: (c.dim, c.qDim)
        case .gate, .up: (c.hiddenDim, c.dim); case .down: (c.dim, c.hiddenDim)
        }
    }
}

/// One projection's A (r, in) and B (out, r). The values live in one allocation owned by the pair's storage, A then
/// B transposed (r, out) — the layout the decode kernel streams (tk_lora_row) — so that serving hands the kernels
/// addresses, not Swift arrays: arrays' reference counts, touched by both of the pool's threads on every decode
/// step, cost more than the rank-8 products themselves. `a` and `b` are copies, for export and training.
public struct LoRAPair: Sendable {
    public let rank: Int
    /// Values in A and in B (rank × in, out × rank).
    public let aCount: Int, bCount: Int
    let storage: Storage

    final class Storage: @unchecked Sendable {
        let values: UnsafeMutablePointer<Float>
        init(count: Int) { values = .allocate(capacity: max(count, 1)) }
        deinit { values.deallocate() }
    }

    public init(a: [Float], b: [Float], rank: Int) {
        self.rank = rank; aCount = a.count; bCount = b.count
        storage = Storage(count: a.count + b.count)
        let values = storage.values
        a.withUnsafeBufferPointer { values.initialize(from: $0.baseAddress!, count: a.count) }
        let out = rank > 0 ? b.count / rank : 0, bT = values + a.count
        bT.initialize(repeating: 0, count: b.count)
        tk_transpose(bT, b, Int64(out), Int64(rank))
    }

    /// A, (r, in), row-major.
    public var aPointer: UnsafePointer<Float> { UnsafePointer(storage.values) }
    /// B transposed, (r, out), row-major.
    public var bTPointer: UnsafePointer<Float> { UnsafePointer(storage.values + aCount) }
    public var a: [Float] { Array(UnsafeBufferPointer(start: aPointer, count: aCount)) }
    public var bT: [Float] { Array(UnsafeBufferPointer(start: bTPointer, count: bCount)) }
    public var b: [Float] {
        let out = rank > 0 ? bCount / rank : 0
        var b = [Float](repeating: 0, count: bCount)
        tk_transpose(&b, bTPointer, Int64(rank), Int64(out))
        return b
    }
}

public final class LoRAAdapter: Sendable {
    public let rank: Int
    public let alpha: Float
    public let targets: [LoRATarget]
    /// layers[l][target]
    public let layers: [[LoRATarget: LoRAPair]]
    /// The same pairs at [layer · LoRATarget.count + target.index]: the decode step's lookup, without hashing.
    let table: [LoRAPair?]
    public var scale: Float { alpha / Float(rank) }

    public init(rank: Int, alpha: Float, targets: [LoRATarget], layers: [[LoRATarget: LoRAPair]]) {
        self.rank = rank; self.alpha = alpha; self.targets = targets; self.layers = layers
        table = layers.flatMap { layer in LoRATarget.allCases.map { layer[$0] } }
    }

    func pair(layer: Int, _ target: LoRATarget) -> LoRAPair? { table[layer * LoRATarget.count + target.index] }

    /// Checks shapes against a base model so that a mismatched adapter fails at load, not mid-request.
    public func validate(for config: LlamaConfig) throws {
        guard (1...256).contains(rank) else { throw LoRAError.mismatch("the adapter's rank is \(rank); Tailor serves ranks 1 to 256") }
        guard layers.count == config.layers else {
            throw LoRAError.mismatch("the adapter has \(layers.count) layers but the base model has \(config.layers)")
        }
        for (l, layer) in layers.enumerated() {
            for (t, pair) in layer {
                let (o, i) = t.shape(config)
                guard pair.rank == rank, pair.aCount == rank * i, pair.bCount == o * rank else {
                    throw LoRAError.mismatch("layer \(l) \(t.moduleName): A has \(pair.aCount) values and B \(pair.bCount), expected \(rank * i) and \(o * rank)")
                }
            }
        }
    }
}

public enum LoRAError: Error, CustomStringConvertible, Sendable {
    case mismatch(String)
    case badFile(path: String, detail: String)
    public var description: String {
        switch self {
        case .mismatch(let d): return "the adapter does not fit the base model: \(d); train or load it for this base model"
        case let .badFile(path, detail): return "\(path): \(detail)"
        }
    }
}
