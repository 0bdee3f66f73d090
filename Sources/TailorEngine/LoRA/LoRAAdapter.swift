// A LoRA adapter as inference uses it: per layer and target projection, A (r, in) and B (out, r) in f32, applied at
// the matmul as y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with s = alpha / r, on top of the shared read-only base weights.
// Immutable once built; training keeps its own mutable parameters and publishes snapshots of this type.
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

public struct LoRAPair: Sendable {
    public let a: [Float]   // (r, in)
    public let b: [Float]   // (out, r)
    /// B transposed, (r, out): the layout the decode kernel streams (tk_lora_row).
    public let bT: [Float]
    public init(a: [Float], b: [Float], rank: Int) {
        self.a = a; self.b = b
        let out = rank > 0 ? b.count / rank : 0
        var t = [Float](repeating: 0, count: b.count)
        for o in 0..<out { for k in 0..<rank { t[k * out + o] = b[o * rank + k] } }
        bT = t
    }
}

public final class LoRAAdapter: Sendable {
    public let rank: Int
    public let alpha: Float
    public let targets: [LoRATarget]
    /// layers[l][target]
    public let layers: [[LoRATarget: LoRAPair]]
    public var scale: Float { alpha / Float(rank) }

    public init(rank: Int, alpha: Float, targets: [LoRATarget], layers: [[LoRATarget: LoRAPair]]) {
        self.rank = rank; self.alpha = alpha; self.targets = targets; self.layers = layers
    }

    /// Checks shapes against a base model so that a mismatched adapter fails at load, not mid-request.
    public func validate(for config: LlamaConfig) throws {
        guard (1...256).contains(rank) else { throw LoRAError.mismatch("the adapter's rank is \(rank); Tailor serves ranks 1 to 256") }
        guard layers.count == config.layers else {
            throw LoRAError.mismatch("the adapter has \(layers.count) layers but the base model has \(config.layers)")
        }
        for (l, layer) in layers.enumerated() {
            for (t, pair) in layer {
                let (o, i) = t.shape(config)
                guard pair.a.count == rank * i, pair.b.count == o * rank else {
                    throw LoRAError.mismatch("layer \(l) \(t.moduleName): A has \(pair.a.count) values and B \(pair.b.count), expected \(rank * i) and \(o * rank)")
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
