// The trainable LoRA weights with their gradients and AdamW moments, laid out once in four equal flat buffers
// (values, grads, m, v) with one view per (layer, target). Publishes immutable LoRAAdapter snapshots for serving.

public final class LoRAParameters {
    public struct Slot {
        public let layer: Int
        public let target: LoRATarget
        public let inFeatures: Int
        public let outFeatures: Int
        /// Offsets of A (r, in) and B (out, r) in the flat buffers.
        public let aOffset: Int
        public let bOffset: Int
    }

    public let config: LoRAConfig
    public let modelConfig: LlamaConfig
    public let slots: [Slot]
    /// slotIndex[layer][target] → index into slots.
    private let slotIndex: [[LoRATarget: Int]]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>

    public init(config: LoRAConfig, model: LlamaConfig) {
        self.config = config
        modelConfig = model
        var slots: [Slot] = []
        var index: [[LoRATarget: Int]] = []
        var offset = 0
        for l in 0..<model.layers {
            var perLayer: [LoRATarget: Int] = [:]
            for t in LoRATarget.allCases where config.targets.contains(t) {
                let (o, i) = t.shape(model)
                slots.append(Slot(layer: l, target: t, inFeatures: i, outFeatures: o, aOffset: offset,
                                  bOffset: offset + config.rank * i))
                perLayer[t] = slots.count - 1
                offset += config.rank * (i + o)
            }
            index.append(perLayer)
        }
        self.slots = slots
        slotIndex = index
        count = offset
        values = .allocate(capacity: count); values.initialize(repeating: 0, count: count)
        grads = .allocate(capacity: count); grads.initialize(repeating: 0, count: count)
        m = .allocate(capacity: count); m.initialize(repeating: 0, count: count)
        v = .allocate(capacity: count); v.initialize(repeating: 0, count: count)
    }

    /// No adapter at all (full fine-tuning trains the weights themselves).
    public static func none(model: LlamaConfig) -> LoRAParameters {
        LoRAParameters(config: LoRAConfig(rank: 0, alpha: 0, targets: []), model: model)
    }

    deinit { values.deallocate(); grads.deallocate(); m.deallocate(); v.deallocate() }

    public func slot(layer: Int, target: LoRATarget) -> Slot? {
        slotIndex[layer][target].map { slots[$0] }
    }

    /// A ~ U(−1/√in, 1/√in) (PEFT's kaiming_uniform with a = √5), B = 0: the adapted model starts equal to the base.
    public func initialize(rng: inout SeededRandom) {
        values.update(repeating: 0, count: count)
        for s in slots {
            let bound = 1 / Float(s.inFeatures).squareRoot()
            for i in 0..<(config.rank * s.inFeatures) { values[s.aOffset + i] = (rng.nextUnitFloat() * 2 - 1) * bound }
        }
        m.update(repeating: 0, count: count)
        v.update(repeating: 0, count: count)
    }

    public func zeroGrad() { grads.update(repeating: 0, count: count) }

    /// An immutable copy for inference.
    public func snapshot() -> LoRAAdapter {
        let r = config.rank
        var layers = [[LoRATarget: LoRAPair]](repeating: [:], count: modelConfig.layers)
        for s in slots {
            let a = Array(UnsafeBufferPointer(start: values + s.aOffset, count: r * s.inFeatures))
            let b = Array(UnsafeBufferPointer(start: values + s.bOffset, count: s.outFeatures * r))
            layers[s.layer][s.target] = LoRAPair(a: a, b: b, rank: r)
        }
        return LoRAAdapter(rank: r, alpha: config.alpha, targets: config.targets, layers: layers)
    }

    /// An adapter of `config`'s shape for `model` with every value (A and B alike) drawn from N(0, std²) by `seed`:
    /// a stand-in for a trained adapter in benchmarks and tests of serving, where B must not be zero.
    public static func randomAdapter(_ config: LoRAConfig = LoRAConfig(), model: LlamaConfig, seed: UInt64, std: Float) -> LoRAAdapter {
        let p = LoRAParameters(config: config, model: model)
        var rng = SeededRandom(seed: seed)
        for i in 0..<p.count { p.values[i] = rng.nextGaussian() * std }
        return p.snapshot()
    }

    /// Loads values from an adapter of the same shape (resuming, or continuing a fine-tuned model).
    public func load(_ adapter: LoRAAdapter) throws {
        guard adapter.rank == config.rank, Set(adapter.targets) == Set(config.targets) else {
            throw LoRAError.mismatch("rank \(adapter.rank) and targets \(adapter.targets.map(\.moduleName)) differ from the run's rank \(config.rank) and targets \(config.targets.map(\.moduleName))")
        }
        try adapter.validate(for: modelConfig)
        for s in slots {
            guard let pair = adapter.layers[s.layer][s.target] else {
                throw LoRAError.mismatch("layer \(s.layer) has no \(s.target.moduleName) adapter")
            }
            pair.a.withUnsafeBufferPointer { (values + s.aOffset).update(from: $0.baseAddress!, count: $0.count) }
            pair.b.withUnsafeBufferPointer { (values + s.bOffset).update(from: $0.baseAddress!, count: $0.count) }
        }
    }
}
