// Tailor's own job settings, beyond OpenAI's hyperparameters. Sent as an extension object `"tailor": {...}` in the
// create request (the OpenAI SDK passes it with `extra_body`), stored with the job, echoed under `tailor`.
import TailorEngine
import TailorStore

public struct JobOptions: Sendable, Codable, Equatable {
    /// "lora" (the default): an adapter on the frozen model; "full": every weight in fp32 (full fine-tuning).
    public var trainingType: String?
    public var loraRank: Int?
    public var loraAlpha: Double?
    public var loraDropout: Double?
    /// Projections to adapt (q, k, v, o, gate, up, down).
    public var loraTargets: [String]?
    /// Base learning rate that learning_rate_multiplier scales (default TrainingConfig.learningRate).
    public var baseLearningRate: Double?
    /// Also checkpoint every N steps (epoch ends always checkpoint).
    public var checkpointInterval: Int?
    /// The job's fine_tuned_model is the checkpoint with the lowest full validation loss instead of the last.
    public var useBestCheckpoint: Bool?
    /// Stop after this many epoch-end evaluations without a better full validation loss (needs a validation file).
    public var earlyStoppingPatience: Int?
    /// Records of any shape (supervised jobs): the field read as the prompt and the one learnt as the completion
    /// (defaults "prompt" and "completion"), and optional truncation of each to a number of tokens (see FieldMapping).
    public var inputField: String?
    public var targetField: String?
    public var maxSourceTokens: Int?
    public var maxTargetTokens: Int?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case trainingType = "training_type"
        case loraRank = "lora_rank", loraAlpha = "lora_alpha", loraDropout = "lora_dropout", loraTargets = "lora_targets"
        case baseLearningRate = "base_learning_rate", checkpointInterval = "checkpoint_interval"
        case useBestCheckpoint = "use_best_checkpoint", earlyStoppingPatience = "early_stopping_patience"
        case inputField = "input_field", targetField = "target_field"
        case maxSourceTokens = "max_source_tokens", maxTargetTokens = "max_target_tokens"
    }

    /// How the training and validation files are read when any of the four mapping options is set; nil otherwise
    /// (the format is then detected from the first line).
    public var fieldMapping: FieldMapping? {
        FieldMapping.asked(input: inputField, target: targetField, maxSourceTokens: maxSourceTokens, maxTargetTokens: maxTargetTokens)
    }

    /// The training type asked for (nil: an unknown name, which validate() refuses).
    public var resolvedTrainingType: TrainingConfig.TrainingType? {
        trainingType.map { TrainingConfig.TrainingType(rawValue: $0) } ?? .lora
    }
    public var isFull: Bool { resolvedTrainingType == .full }

    /// Full fine-tuning's defaults, those of transformers' Trainer that the example uses: a base learning
    /// rate of 5e-5 (Trainer's default; LoRA's 1e-3 would wreck every weight) and AdamW's weight decay 0.01.
    static let fullLearningRate = 5e-5
    static let fullWeightDecay: Float = 0.01

    /// The option names, for refusing a misspelt one instead of silently ignoring it.
    public static let names = CodingKeys.allCases.map(\.rawValue)

    /// Checks values; the message names the option. Bounds keep every product finite (alpha/rank scales every
    /// update; 1e308 would train into infinities and fail at the end).
    public func validate() -> String? {
        if resolvedTrainingType == nil { return "tailor.training_type must be \"lora\" or \"full\", not \"\(trainingType!)\"" }
        if isFull, let lora = [("lora_rank", loraRank != nil), ("lora_alpha", loraAlpha != nil), ("lora_dropout", loraDropout != nil),
                               ("lora_targets", loraTargets != nil)].first(where: \.1) {
            return "tailor.training_type \"full\" trains every weight: tailor.\(lora.0) applies to LoRA jobs alone"
        }
        if let r = loraRank, !(1...256).contains(r) { return "tailor.lora_rank must be between 1 and 256" }
        if let a = loraAlpha, !(a > 0 && a <= 4096) { return "tailor.lora_alpha must be in (0, 4096]; the usual choice is twice the rank" }
        if let d = loraDropout, !(0..<1).contains(d) { return "tailor.lora_dropout must be in [0, 1)" }
        if let t = loraTargets {
            if t.isEmpty { return "tailor.lora_targets must not be empty" }
            if let bad = t.first(where: { LoRATarget(rawValue: $0) == nil && LoRATarget(moduleName: $0) == nil }) {
                return "tailor.lora_targets: unknown projection \(bad); use q, k, v, o, gate, up, down"
            }
        }
        if let lr = baseLearningRate, !(lr > 0 && lr < 1) { return "tailor.base_learning_rate must be in (0, 1)" }
        if let c = checkpointInterval, c < 0 { return "tailor.checkpoint_interval must not be negative" }
        if let p = earlyStoppingPatience, p < 0 { return "tailor.early_stopping_patience must not be negative" }
        for (name, field) in [("input_field", inputField), ("target_field", targetField)] {
            if let f = field, f.isEmpty || f.count > 256 { return "tailor.\(name) must be a field name of 1 to 256 characters" }
        }
        if let i = inputField, i == targetField { return "tailor.input_field and tailor.target_field must name different fields" }
        for (name, limit) in [("max_source_tokens", maxSourceTokens), ("max_target_tokens", maxTargetTokens)] {
            if let n = limit, !(1...1_000_000).contains(n) { return "tailor.\(name) must be between 1 and 1000000" }
        }
        if let n = maxTargetTokens, n < 2 { return "tailor.max_target_tokens must be at least 2 (the end-of-sequence token is one)" }
        return nil
    }

    /// The engine configuration for resolved hyperparameters.
    /// DPO's base LoRA rate: a fifth of the supervised one. DPO moves a model that already answers well, by a margin
    /// β keeps small; the supervised rate overshoots it within an epoch on ~100 pairs (TRL's LoRA recipes use 5e-5–5e-4).
    static let preferenceLearningRate = 2e-4

    func trainingConfig(_ h: ResolvedHyperparameters, seed: Int) -> TrainingConfig {
        var c = TrainingConfig()
        var lora = LoRAConfig()
        if let r = loraRank { lora.rank = r; lora.alpha = Float(2 * r) }
        if let a = loraAlpha { lora.alpha = Float(a) }
        if let d = loraDropout { lora.dropout = Float(d) }
        if let t = loraTargets { lora.targets = t.compactMap { LoRATarget(rawValue: $0) ?? LoRATarget(moduleName: $0) } }
        c.lora = lora
        if isFull {
            c.trainingType = .full
            c.adam.weightDecay = Self.fullWeightDecay
        }
        c.epochs = h.nEpochs
        c.batchSize = h.batchSize
        let defaultRate = isFull ? Self.fullLearningRate : h.beta == nil ? Double(TrainingConfig().learningRate) : Self.preferenceLearningRate
        c.learningRate = Float((baseLearningRate ?? defaultRate) * h.learningRateMultiplier)
        c.preferenceBeta = h.beta
        c.seed = UInt64(seed)
        c.checkpointInterval = checkpointInterval ?? 0
        c.earlyStoppingPatience = earlyStoppingPatience ?? 0
        return c
    }
}

extension JobRecord {
    /// What the job learns from: OpenAI's `method.type` (only the methods the API accepted are ever stored).
    var trainingMethod: TrainingMethod { TrainingMethod(rawValue: methodType) ?? .supervised }
}
