// What a LoRA run adapts and how strongly. Defaults follow the issue and common practice (PEFT, mlx-lm).

public struct LoRAConfig: Sendable, Codable, Equatable {
    /// Rank r of A (r, in) and B (out, r). 8 is enough for style and format adaptation on small models.
    public var rank = 8
    /// Scale numerator: the update is (alpha / r)·B·A, so alpha = 2r keeps the effective step size as r changes.
    public var alpha: Float = 16
    /// Dropout on the adapter's input during training (PEFT's lora_dropout). Off by default: small datasets
    /// memorise slowly enough at these ranks, and it costs a mask regeneration per projection.
    public var dropout: Float = 0
    /// All attention and MLP projections: adapting only q and v (the LoRA paper) learns formats visibly slower.
    public var targets: [LoRATarget] = LoRATarget.allCases

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, targets: [LoRATarget] = LoRATarget.allCases) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targets = targets
    }

    public var scale: Float { alpha / Float(rank) }

    /// Trainable values for `model`: rank × (in + out) for each adapted projection of each layer.
    public func parameterCount(for model: LlamaConfig) -> Int {
        model.layers * LoRATarget.allCases.filter(targets.contains).reduce(0) { total, t in
            let (out, input) = t.shape(model)
            return total + rank * (input + out)
        }
    }
}
