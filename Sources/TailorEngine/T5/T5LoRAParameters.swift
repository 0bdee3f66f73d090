// The trainable LoRA weights of a T5 model, laid out as LoRAParameters lays out a decoder's: four equal flat buffers
// (values, grads, m, v) with one slot per adapted projection, keyed by its module path in the checkpoint
// ("decoder.block.1.layer.1.EncDecAttention.q"), which is also PEFT's key. Not a second optimizer: AdamW steps the
// same flat buffers.

public final class T5LoRAParameters {
    public struct Slot: Sendable {
        public let module: String
        public let inFeatures: Int
        public let outFeatures: Int
        /// Offsets of A (r, in) and B (out, r) in the flat buffers.
        public let aOffset: Int
        public let bOffset: Int
    }

    public let config: LoRAConfig
    public let modelConfig: T5Config
    public let slots: [Slot]
    private let slotIndex: [String: Int]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>

    /// The T5 projections a decoder's LoRA targets name: q, k, v, o in self- and cross-attention; gate is the
    /// feed-forward's input (wi, or wi_0 through the activation when gated), up the gated models' linear branch wi_1
    /// (wi again in a ReLU model, which has no second input), down its output wo.
    public static func moduleNames(_ targets: [LoRATarget], config c: T5Config) -> [String] {
        var ffn: [String] = []
        if c.gated {
            if targets.contains(.gate) { ffn.append("wi_0") }
            if targets.contains(.up) { ffn.append("wi_1") }
        } else if targets.contains(.gate) || targets.contains(.up) {
            ffn.append("wi")
        }
        if targets.contains(.down) { ffn.append("wo") }
        return ["q", "k", "v", "o"].filter { LoRATarget(rawValue: $0).map(targets.contains) ?? false } + ffn
    }

    /// Every adapted module path with (out, in), encoder blocks first, in checkpoint order.
    static func modules(_ targets: [LoRATarget], config c: T5Config) -> [(module: String, out: Int, in: Int)] {
        let names = moduleNames(targets, config: c)
        func shape(_ n: String) -> (Int, Int) {
            switch n {
            case "q", "k", "v": (c.inner, c.dim)
            case "o": (c.dim, c.inner)
            case "wo": (c.dim, c.hiddenDim)
            default: (c.hiddenDim, c.dim)
            }
        }
        var out: [(String, Int, Int)] = []
        func block(_ stack: String, _ l: Int, attention: [(Int, String)], ffn: Int) {
            for (sub, module) in attention {
                for n in names where ["q", "k", "v", "o"].contains(n) {
                    let (o, i) = shape(n); out.append((T5TensorNames.module(stack, l, sub, module, n), o, i))
                }
            }
            for n in names where !["q", "k", "v", "o"].contains(n) {
                let (o, i) = shape(n); out.append((T5TensorNames.module(stack, l, ffn, "DenseReluDense", n), o, i))
            }
        }
        for l in 0..<c.encoderLayers { block("encoder", l, attention: [(0, "SelfAttention")], ffn: 1) }
        for l in 0..<c.decoderLayers { block("decoder", l, attention: [(0, "SelfAttention"), (1, "EncDecAttention")], ffn: 2) }
        return out
    }

    public init(config: LoRAConfig, model: T5Config) {
        self.config = config
        modelConfig = model
        var slots: [Slot] = [], index: [String: Int] = [:], offset = 0
        for (module, o, i) in Self.modules(config.targets, config: model) {
            index[module] = slots.count
            slots.append(Slot(module: module, inFeatures: i, outFeatures: o, aOffset: offset, bOffset: offset + config.rank * i))
            offset += config.rank * (i + o)
        }
        self.slots = slots
        slotIndex = index
        count = offset
        values = .allocate(capacity: max(count, 1)); values.initialize(repeating: 0, count: max(count, 1))
        grads = .allocate(capacity: max(count, 1)); grads.initialize(repeating: 0, count: max(count, 1))
        m = .allocate(capacity: max(count, 1)); m.initialize(repeating: 0, count: max(count, 1))
        v = .allocate(capacity: max(count, 1)); v.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { values.deallocate(); grads.deallocate(); m.deallocate(); v.deallocate() }

    public func slot(_ module: String) -> Slot? { slotIndex[module].map { slots[$0] } }

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

    /// The adapter of `module` for one pass, or nil when it is not adapted. Dropout masks differ per module.
    func view(_ module: String, dropoutSeed: UInt64) -> LoRAView? {
        guard let i = slotIndex[module] else { return nil }
        let s = slots[i]
        return LoRAView(a: values + s.aOffset, b: values + s.bOffset, da: grads + s.aOffset, db: grads + s.bOffset,
                        rank: config.rank, scale: config.scale, dropout: config.dropout,
                        dropoutSeed: dropoutSeed &+ UInt64(i) &* 0xD1B5_4A32_D192_ED03)
    }

    /// A (r, in) and B (out, r) of a slot, copied.
    public func pair(_ s: Slot) -> (a: [Float], b: [Float]) {
        (Array(UnsafeBufferPointer(start: values + s.aOffset, count: config.rank * s.inFeatures)),
         Array(UnsafeBufferPointer(start: values + s.bOffset, count: s.outFeatures * config.rank)))
    }
}
