// The training loop (after mlx-lm's tuner/trainer.py): epochs of shuffled examples, `batchSize` examples per optimizer
// step packed into micro-batches, AdamW with warm-up and decay, periodic validation and checkpoints. Progress leaves
// the loop only through TrainingObserver, which the job runner turns into events, rows and files.
import Foundation

public protocol TrainingObserver: AnyObject {
    /// The full validation set on the untouched base model (the adapter starts at zero), before step 1.
    func trainer(didEvaluateBaseline evaluation: Evaluation)
    func trainer(didFinishStep metrics: StepMetrics)
    /// Where to write the checkpoint after `step` (nil: skip it). Called at epoch ends and every checkpointInterval.
    func trainer(checkpointDirectoryForStep step: Int, epochEnd: Bool) -> String?
    func trainer(didWriteCheckpoint directory: String, step: Int, metrics: StepMetrics)
    /// Asked between optimizer steps and, at most every `Trainer.abandonPollInterval`, between layers; nil to go on.
    func trainerStopRequest() -> TrainingStop?
}

/// Why a run should end before its last step.
public enum TrainingStop: Sendable, Equatable {
    /// At the next step boundary, after a checkpoint, so the run can resume from exactly there (pause, shutdown).
    case pause
    /// At once, even mid-step, without a checkpoint: nothing will resume it (cancel).
    case abandon
}

public enum TrainingOutcome: Sendable, Equatable {
    case completed
    case stopped(atStep: Int)
    case earlyStopped(atStep: Int)
}

public struct TrainingResult: Sendable {
    public var outcome: TrainingOutcome
    public var adapter: LoRAAdapter
    public var state: TrainerState
    public var baseline: Evaluation?
    public var final: Evaluation?
}

public final class Trainer {
    public let config: TrainingConfig
    public let train: [TrainingExample]
    public let validation: [TrainingExample]
    public let lora: LoRAParameters
    public let model: TrainingModel
    public weak var observer: TrainingObserver?
    private let baseModelName: String
    /// How often a step asks whether it was abandoned: a cancel then stops the run within about this long.
    static let abandonPollInterval: TimeInterval = 0.2

    public init(base: FrozenBase, baseModelName: String, train: [TrainingExample], validation: [TrainingExample],
                config: TrainingConfig) {
        precondition(!train.isEmpty, "no training examples")
        self.config = config; self.train = train; self.validation = validation; self.baseModelName = baseModelName
        lora = LoRAParameters(config: config.lora, model: base.config)
        let longest = (train + validation).map(\.tokens.count).max() ?? 1
        model = TrainingModel(base: base, lora: lora, maxTokens: max(longest, config.maxTokensPerMicroBatch),
                              checkpointing: config.gradientCheckpointing)
    }

    public var totalSteps: Int { config.totalSteps(examples: train.count) }

    /// The order of the training set in `epoch`: a Fisher–Yates shuffle seeded by (seed, epoch).
    func order(epoch: Int) -> [Int] {
        var rng = SeededRandom(seed: config.seed ^ (UInt64(epoch + 1) &* 0xA24B_AED4_963E_E407))
        var idx = Array(train.indices)
        for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return idx
    }

    /// Packs examples into micro-batches of at most maxTokensPerMicroBatch tokens (one example may exceed it alone).
    func microBatches(_ examples: [TrainingExample]) -> [PackedBatch] {
        var batches: [PackedBatch] = []
        var current = PackedBatch()
        for e in examples {
            if current.count > 0 && current.count + e.tokens.count > model.maxTokens {
                batches.append(current); current = PackedBatch()
            }
            current.append(tokens: e.tokens, lossMask: e.lossMask)
        }
        if current.count > 0 { batches.append(current) }
        return batches
    }

    public func evaluate(_ examples: [TrainingExample]) -> Evaluation? {
        guard !examples.isEmpty else { return nil }
        var loss = 0.0, correct = 0, tokens = 0
        for b in microBatches(examples) {
            let r = model.evaluate(b)
            loss += r.lossSum; correct += r.correct; tokens += r.tokens
        }
        return Evaluation(loss: loss / Double(max(tokens, 1)), accuracy: Double(correct) / Double(max(tokens, 1)), tokens: tokens)
    }

    /// Runs from the start, or from `checkpoint` (a directory written by a previous run with the same data and config).
    /// A fresh run may start from `initial` (continuing a fine-tuned model) instead of a zero adapter.
    public func run(resumingFrom checkpoint: String? = nil, startingFrom initial: LoRAAdapter? = nil) throws -> TrainingResult {
        let schedule = config.schedule(examples: train.count)
        var state: TrainerState
        var baseline: Evaluation? = nil
        if let checkpoint {
            state = try TrainingCheckpoint.load(into: lora, from: checkpoint)
            guard state.config == config, state.trainExamples == train.count else {
                throw LoRAError.mismatch("the checkpoint at \(checkpoint) belongs to a run with other settings or data")
            }
        } else {
            var rng = SeededRandom(seed: config.seed)
            lora.initialize(rng: &rng)
            if let initial { try lora.load(initial) }
            state = TrainerState(step: 0, totalSteps: totalSteps, epoch: 0, epochOffset: 0, tokensSoFar: 0,
                                 seed: config.seed, config: config, trainExamples: train.count, bestValidLoss: nil,
                                 bestStep: nil, epochsWithoutImprovement: 0, baseModel: baseModelName, metrics: nil)
            if let e = evaluate(validation) {
                baseline = e
                observer?.trainer(didEvaluateBaseline: e)
            }
        }
        var validCursor = state.step * config.batchSize
        var outcome = TrainingOutcome.completed
        var lastFull: Evaluation? = nil
        var lastCheckpoint = state.step

        // Mid-step, the model asks between layers whether the run was abandoned; the answer costs the observer a look
        // at the job, so it is asked at most every abandonPollInterval.
        var lastPoll = Date.distantPast
        model.isAbandoned = { [weak self] in
            guard let self, Date().timeIntervalSince(lastPoll) >= Self.abandonPollInterval else { return false }
            lastPoll = Date()
            return self.observer?.trainerStopRequest() == .abandon
        }
        defer { model.isAbandoned = nil }

        training: while state.step < totalSteps {
            if let stop = observer?.trainerStopRequest() {
                // Paused: keep the progress so the run can resume from exactly here. Abandoned: nothing resumes it.
                if stop == .pause, state.step > lastCheckpoint,
                   let dir = observer?.trainer(checkpointDirectoryForStep: state.step, epochEnd: false) {
                    try TrainingCheckpoint.write(lora: lora, state: state, to: dir)
                    if let m = state.metrics { observer?.trainer(didWriteCheckpoint: dir, step: state.step, metrics: m) }
                }
                outcome = .stopped(atStep: state.step)
                break
            }
            let started = Date()
            let epochOrder = order(epoch: state.epoch)
            let picks = epochOrder[state.epochOffset..<min(train.count, state.epochOffset + config.batchSize)]
            let examples = picks.map { train[$0] }
            let lossTokens = examples.reduce(0) { $0 + $1.lossTokens }
            lora.zeroGrad()
            var lossSum = 0.0, correct = 0, tokens = 0
            for (i, batch) in microBatches(examples).enumerated() {
                let seed = config.seed &+ UInt64(state.step) &* 0x9E37_79B9 &+ UInt64(i)
                guard let r = model.forwardBackward(batch, gradScale: 1 / Float(lossTokens), dropoutSeed: seed) else {
                    // Cancelled mid-step: the half-accumulated gradients are dropped with the run.
                    outcome = .stopped(atStep: state.step)
                    break training
                }
                lossSum += r.lossSum; correct += r.correct; tokens += batch.count
            }
            state.step += 1
            let lr = schedule.rate(step: state.step)
            let norm = AdamW.step(lora, lr: lr, t: state.step, config: config.adam)
            state.tokensSoFar += tokens
            state.epochOffset += examples.count
            let epochEnd = state.epochOffset >= train.count
            var m = StepMetrics(step: state.step, totalSteps: totalSteps, epoch: state.epoch + 1,
                                trainLoss: lossSum / Double(lossTokens), trainAccuracy: Double(correct) / Double(lossTokens),
                                learningRate: lr, gradNorm: norm, tokens: tokens, lossTokens: lossTokens, tokensSoFar: state.tokensSoFar,
                                seconds: 0, validLoss: nil, validAccuracy: nil, fullValidLoss: nil, fullValidAccuracy: nil)
            if !validation.isEmpty && config.evalInterval > 0 && state.step % config.evalInterval == 0 {
                let batch = (0..<min(config.batchSize, validation.count)).map { validation[(validCursor + $0) % validation.count] }
                validCursor += batch.count
                if let e = evaluate(batch) { m.validLoss = e.loss; m.validAccuracy = e.accuracy }
            }
            if epochEnd || state.step == totalSteps, let e = evaluate(validation) {
                m.fullValidLoss = e.loss; m.fullValidAccuracy = e.accuracy
                lastFull = e
            }
            if epochEnd { state.epoch += 1; state.epochOffset = 0 }
            m.seconds = Date().timeIntervalSince(started)
            state.metrics = m
            observer?.trainer(didFinishStep: m)

            var stopEarly = false
            if let full = m.fullValidLoss, epochEnd {
                if state.bestValidLoss.map({ full < $0 }) ?? true {
                    state.bestValidLoss = full; state.bestStep = state.step; state.epochsWithoutImprovement = 0
                } else {
                    state.epochsWithoutImprovement += 1
                    stopEarly = config.earlyStoppingPatience > 0 && state.epochsWithoutImprovement >= config.earlyStoppingPatience
                }
            }
            let periodic = config.checkpointInterval > 0 && state.step % config.checkpointInterval == 0
            if epochEnd || periodic || state.step == totalSteps || stopEarly,
               let dir = observer?.trainer(checkpointDirectoryForStep: state.step, epochEnd: epochEnd) {
                try TrainingCheckpoint.write(lora: lora, state: state, to: dir)
                lastCheckpoint = state.step
                observer?.trainer(didWriteCheckpoint: dir, step: state.step, metrics: m)
            }
            if stopEarly { outcome = .earlyStopped(atStep: state.step); break training }
        }
        return TrainingResult(outcome: outcome, adapter: lora.snapshot(), state: state, baseline: baseline, final: lastFull)
    }
}
