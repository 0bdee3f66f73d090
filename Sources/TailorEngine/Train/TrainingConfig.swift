// Every setting of a training run in one value, each default with its reason. Codable: it is saved in every
// checkpoint so that a resumed run is the same run.

public struct TrainingConfig: Sendable, Codable, Equatable {
    /// What a run trains: a LoRA adapter on the frozen model, or every weight of the model (full fine-tuning).
    public enum TrainingType: String, Sendable, Codable, CaseIterable { case lora, full }
    /// Nil: LoRA (optional so that older checkpoints still decode).
    public var trainingType: TrainingType?
    public var isFull: Bool { trainingType == .full }
    public var lora = LoRAConfig()
    /// Passes over the training set. 3 is OpenAI's default for ~100+ examples.
    public var epochs = 3
    /// Examples per optimizer step, however many micro-batches they take.
    public var batchSize = 4
    /// Peak learning rate. LoRA on a small model tolerates far more than full fine-tuning; 1e-3 learns a new voice
    /// in a few epochs on ~200 examples without diverging (BENCHMARKS.md has the curves).
    public var learningRate: Float = 1e-3
    /// Warm-up as a fraction of all steps: a short ramp keeps Adam's first, poorly estimated steps small.
    public var warmupFraction: Float = 0.05
    public var decay: LearningRateSchedule.Decay = .linear
    /// Final rate as a fraction of the peak.
    public var minLearningRateRatio: Float = 0
    public var adam = AdamWConfig()
    /// Seeds the adapter initialisation, the epoch shuffles and dropout.
    public var seed: UInt64 = 42
    /// Tokens in one forward/backward pass (a longer example gets a pass of its own). Examples of one step beyond it
    /// run as further micro-batches; 1,024 keeps short examples packed without laying out more than a pass needs.
    public var maxTokensPerMicroBatch = 1024
    /// Recompute every layer's activations during backward instead of keeping any (the least memory, ≈ +25 % compute).
    public var gradientCheckpointing = false
    /// Bytes for one pass's activation and gradient buffers (weights excluded): layers keep their activations while
    /// they fit, the rest are recomputed, so a long example trades compute for memory only as much as it must.
    /// Nil: `defaultActivationBudget`. Optional so that older checkpoints still decode.
    public var activationBudget: Int?
    /// 576 MiB keeps every layer of SmolLM2-135M in passes of up to ~750 tokens (a step of four short chats keeps
    /// them all) and trains a 1,650-token example in 1.35 GB of RSS (BENCHMARKS.md); every layer kept costs ~0.75 MB
    /// per token there, every layer recomputed ~0.15 MB.
    public static let defaultActivationBudget = 576 << 20
    /// A validation batch every this many steps (0: never); the full validation set at each epoch end.
    public var evalInterval = 10
    /// Checkpoints every this many steps (0: only at epoch ends).
    public var checkpointInterval = 0
    /// Stop when the full validation loss has not improved for this many epoch-end evaluations (0: never).
    public var earlyStoppingPatience = 0
    /// Set: the run learns from preference pairs by DPO with this β (how far the policy may move from the reference;
    /// 0.1 is OpenAI's and TRL's default). Nil: supervised. Optional so that older checkpoints still decode.
    public var preferenceBeta: Double?
    /// False: every example of a micro-batch is computed whole, even where they begin with the same prompt. Nil or
    /// true: a prompt prefix they all share (and train on none of) is computed once per micro-batch — the same
    /// losses and gradients for less work (Trainer.sharesPrefixes says where it applies). Optional so that older
    /// checkpoints still decode.
    public var sharedPrefixes: Bool?

    public init() {}

    /// The activation budget a model for this run gets: 0 (recompute every layer) with gradientCheckpointing.
    public var effectiveActivationBudget: Int { gradientCheckpointing ? 0 : activationBudget ?? Self.defaultActivationBudget }

    public func stepsPerEpoch(examples n: Int) -> Int { (n + batchSize - 1) / batchSize }
    public func totalSteps(examples n: Int) -> Int { epochs * stepsPerEpoch(examples: n) }

    public func schedule(examples n: Int) -> LearningRateSchedule {
        let total = totalSteps(examples: n)
        return LearningRateSchedule(peak: learningRate, warmupSteps: Int((warmupFraction * Float(total)).rounded()),
                                    totalSteps: total, decay: decay, minRatio: minLearningRateRatio)
    }
}

/// What one optimizer step measured.
public struct StepMetrics: Sendable, Codable, Equatable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var learningRate: Float
    public var gradNorm: Float
    /// The step's examples' tokens, and their sum since the run began.
    public var tokens: Int
    /// Tokens that carried loss in this step.
    public var lossTokens: Int
    public var tokensSoFar: Int
    public var seconds: Double
    public var validLoss: Double?
    public var validAccuracy: Double?
    public var fullValidLoss: Double?
    public var fullValidAccuracy: Double?
    /// DPO: the mean implicit rewards β·(π − ref) of the chosen and rejected answers (trainAccuracy is then the share
    /// of pairs whose chosen reward is the higher).
    public var chosenReward: Double? = nil
    public var rejectedReward: Double? = nil
    /// Rows through the forward pass: `tokens` less the shared prompt prefixes computed once per micro-batch
    /// (nil in metrics written before prefixes were shared).
    public var rows: Int? = nil
}

public struct Evaluation: Sendable, Codable, Equatable {
    public var loss: Double
    public var accuracy: Double
    public var tokens: Int

    /// The evaluation of two disjoint parts of a set as one: means weighted by loss tokens (supervised), or by
    /// units (`perUnit`: DPO's per-pair loss and accuracy); `units` and `otherUnits` are the parts' unit counts.
    func combined(with other: Evaluation, units: Int, _ otherUnits: Int, perUnit: Bool) -> Evaluation {
        let w = Double(perUnit ? units : tokens), v = Double(perUnit ? otherUnits : other.tokens)
        guard w + v > 0 else { return self }
        return Evaluation(loss: (loss * w + other.loss * v) / (w + v), accuracy: (accuracy * w + other.accuracy * v) / (w + v),
                          tokens: tokens + other.tokens)
    }
}
