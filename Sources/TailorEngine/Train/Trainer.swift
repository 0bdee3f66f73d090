// The training loop (after mlx-lm's tuner/trainer.py): epochs of shuffled examples, `batchSize` examples per optimizer
// step packed into micro-batches, AdamW with warm-up and decay, periodic validation and checkpoints. Progress leaves
// the loop only through TrainingObserver, which the job runner turns into events, rows and files. A preference run
// (DPO) is the same loop over pairs: its examples are (chosen, rejected) in turn, and a pair is the unit that is
// shuffled, counted in batchSize and kept whole in a micro-batch.
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
    /// Full fine-tuning: every weight, trained in place (the adapter is then empty).
    public let full: FullParameters?
    /// Full fine-tuning: files written beside the weights in every checkpoint (config.json, tokenizer files:
    /// FullModelFiles.companions), so each checkpoint is a Hugging Face model directory.
    public var modelFiles: [String: Data] = [:]
    public let model: TrainingModel
    public weak var observer: TrainingObserver?
    private let baseModelName: String
    /// Whether micro-batches compute a prompt prefix their examples share once (see init).
    let sharesPrefixes: Bool
    /// DPO: the reference model's log-likelihood of every training and validation example, fixed when the run starts.
    private var referenceTrain: [Double] = []
    private var referenceValidation: [Double] = []
    /// How often a step asks whether it was abandoned: a cancel then stops the run within about this long.
    static let abandonPollInterval: TimeInterval = 0.2

    /// A LoRA run on a (shared, read-only) frozen base.
    public convenience init(base: FrozenBase, baseModelName: String, train: [TrainingExample], validation: [TrainingExample],
                            config: TrainingConfig) {
        precondition(!config.isFull, "a full fine-tuning run trains FullParameters: init(full:…)")
        self.init(base: base, full: nil, baseModelName: baseModelName, train: train, validation: validation, config: config)
    }

    /// A full fine-tuning run (config.trainingType .full) of the weights in `full`, which the run owns and changes.
    public convenience init(full: FullParameters, baseModelName: String, train: [TrainingExample], validation: [TrainingExample],
                            config: TrainingConfig) {
        precondition(config.isFull, "a LoRA run trains an adapter on a FrozenBase: init(base:…)")
        self.init(base: full.weights, full: full, baseModelName: baseModelName, train: train, validation: validation, config: config)
    }

    private init(base: FrozenBase, full: FullParameters?, baseModelName: String, train: [TrainingExample],
                 validation: [TrainingExample], config: TrainingConfig) {
        precondition(!train.isEmpty, "no training examples")
        precondition(config.preferenceBeta == nil || (train.count % 2 == 0 && validation.count % 2 == 0),
                     "a preference run's examples come in (chosen, rejected) pairs")
        self.config = config; self.train = train; self.validation = validation; self.baseModelName = baseModelName
        self.full = full
        lora = full == nil ? LoRAParameters(config: config.lora, model: base.config) : .none(model: base.config)
        let longest = (train + validation).map(\.tokens.count).max() ?? 1
        let pairs = config.preferenceBeta != nil
        let tokens = max(Self.longestUnit(train, pairs: pairs), Self.longestUnit(validation, pairs: pairs),
                         config.maxTokensPerMicroBatch)
        model = TrainingModel(base: base, lora: lora, maxTokens: tokens,
                              activationBudget: config.effectiveActivationBudget, full: full)
        // One pass over a shared prefix stands for every example's only where that is exact: no adapter dropout (each
        // example would draw its own mask over the prefix), and no position reaching a sliding window (the prefix's
        // keys are not windowed).
        let windows = base.config.slidingLayers?.contains(true) == true
        sharesPrefixes = config.sharedPrefixes != false && (full != nil || config.lora.dropout == 0) && (!windows || longest <= base.config.slidingWindow)
    }

    /// The most tokens one unit — an example, or with `pairs` a preference pair (consecutive examples) — packs into:
    /// a pass must hold it whole, so it sizes the pass when it outgrows maxTokensPerMicroBatch.
    public static func longestUnit(_ examples: [TrainingExample], pairs: Bool) -> Int {
        let n = pairs ? 2 : 1
        return stride(from: 0, to: examples.count - n + 1, by: n)
            .map { examples[$0..<($0 + n)].reduce(0) { $0 + $1.tokens.count } }.max() ?? 0
    }

    /// Examples per unit of training: 1, or 2 for a preference pair.
    var unit: Int { config.preferenceBeta == nil ? 1 : 2 }
    /// Units in the training set (examples, or pairs).
    public var trainUnits: Int { train.count / unit }
    public var totalSteps: Int { config.totalSteps(examples: trainUnits) }

    /// The order of the training set's units in `epoch`: a Fisher–Yates shuffle seeded by (seed, epoch).
    func order(epoch: Int) -> [Int] {
        var rng = SeededRandom(seed: config.seed ^ (UInt64(epoch + 1) &* 0xA24B_AED4_963E_E407))
        var idx = Array(0..<trainUnits)
        for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return idx
    }

    /// A micro-batch, and which units (as indices into the list it was packed from) it holds.
    struct MicroBatch { var batch: PackedBatch; var units: [Int] }

    /// Packs units (each one example, or a pair kept together) into micro-batches of at most maxTokensPerMicroBatch
    /// rows (one unit may exceed it alone). Where the examples of a micro-batch begin alike (sharesPrefixes), the
    /// longest prefix they share that carries no loss is computed once for all of them, and counts once in the rows.
    func microBatches(_ units: [ArraySlice<TrainingExample>]) -> [MicroBatch] {
        var batches: [MicroBatch] = []
        func close(_ p: Packing) {
            guard let first = p.first else { return }
            let P = p.shared(sharesPrefixes)
            var batch = P > 0 ? PackedBatch(sharing: first.tokens[..<P]) : PackedBatch()
            for u in p.members { for e in units[u] { batch.append(tokens: e.tokens, lossMask: e.lossMask) } }
            batches.append(MicroBatch(batch: batch, units: p.members))
        }
        var current = Packing()
        for (i, u) in units.enumerated() {
            var next = current
            for e in u { next.add(e) }
            if !current.members.isEmpty && next.rows(sharing: sharesPrefixes) > model.maxTokens {
                close(current)
                next = Packing()
                for e in u { next.add(e) }
            }
            next.members.append(i)
            current = next
        }
        close(current)
        return batches
    }

    /// The examples of one micro-batch as it is packed, and the prefix they could share.
    struct Packing {
        var members: [Int] = []
        var first: TrainingExample?
        var tokens = 0, examples = 0
        /// The leading tokens all the examples have alike and could share (PackedBatch.sharablePrefix).
        var common = 0

        mutating func add(_ e: TrainingExample) {
            let own = PackedBatch.sharablePrefix(e.tokens, e.lossMask)
            if let first {
                common = zip(first.tokens[..<min(common, own)], e.tokens).prefix { $0 == $1 }.count
            } else {
                first = e; common = own
            }
            tokens += e.tokens.count; examples += 1
        }

        /// The prefix the batch shares: none for a lone example (nothing to save).
        func shared(_ sharing: Bool) -> Int { sharing && examples > 1 ? common : 0 }
        func rows(sharing: Bool) -> Int { tokens - max(0, examples - 1) * shared(sharing) }
    }

    /// The units of `examples` at `indices` (all of them when nil).
    func units(_ examples: [TrainingExample], _ indices: [Int]? = nil) -> [ArraySlice<TrainingExample>] {
        (indices ?? Array(0..<(examples.count / unit))).map { examples[($0 * unit)..<(($0 + 1) * unit)] }
    }

    /// Supervised: mean loss and accuracy per loss token. Preference: mean DPO loss per pair against `reference`
    /// (the reference model's log-likelihood of each example), and the share of pairs ranked right.
    public func evaluate(_ examples: [TrainingExample], reference: [Double] = []) -> Evaluation? {
        guard !examples.isEmpty else { return nil }
        var loss = 0.0, correct = 0, tokens = 0
        guard let beta = config.preferenceBeta else {
            for m in microBatches(units(examples)) {
                let r = model.evaluate(m.batch)
                loss += r.lossSum; correct += r.correct; tokens += r.tokens
            }
            return Evaluation(loss: loss / Double(max(tokens, 1)), accuracy: Double(correct) / Double(max(tokens, 1)), tokens: tokens)
        }
        let pairs = examples.count / 2
        let policy = sequenceLogProbs(examples)
        for p in 0..<pairs {
            let t = PreferenceTerms(policyChosen: policy[2 * p], policyRejected: policy[2 * p + 1],
                                    referenceChosen: reference[2 * p], referenceRejected: reference[2 * p + 1], beta: beta)
            loss += t.loss
            if t.chosenReward > t.rejectedReward { correct += 1 }
        }
        tokens = examples.reduce(0) { $0 + $1.tokens.count }
        return Evaluation(loss: loss / Double(pairs), accuracy: Double(correct) / Double(pairs), tokens: tokens)
    }

    /// `evaluate` over the validation units at `indices` (examples, or pairs with their reference log-likelihoods).
    func evaluate(validationUnits indices: [Int]) -> Evaluation? {
        let examples = units(validation, indices).flatMap { $0 }
        let reference = indices.flatMap { u in (0..<unit).map { referenceValidation.isEmpty ? 0 : referenceValidation[u * unit + $0] } }
        return evaluate(examples, reference: reference)
    }

    /// Each example's log-likelihood of its loss tokens under the adapter as it is now.
    func sequenceLogProbs(_ examples: [TrainingExample]) -> [Double] {
        microBatches(units(examples)).flatMap { model.sequenceLogProbs($0.batch, adapter: true) }
    }

    /// Runs from the start, or from `checkpoint` (a directory written by a previous run with the same data and config).
    /// A fresh run may start from `initial` (continuing a fine-tuned model) instead of a zero adapter.
    public func run(resumingFrom checkpoint: String? = nil, startingFrom initial: LoRAAdapter? = nil) throws -> TrainingResult {
        let schedule = config.schedule(examples: trainUnits)
        var state: TrainerState
        var baseline: Evaluation? = nil
        // The adapter as training begins: zero (B = 0, the base model itself) or the one continued.
        var rng = SeededRandom(seed: config.seed)
        lora.initialize(rng: &rng)
        if let initial {
            precondition(full == nil, "a full fine-tuning run starts from the weights it was given")
            try lora.load(initial)
        }
        // DPO's reference model is that starting point, frozen: its log-likelihoods are computed once, here, before
        // any update (a resumed run computes them again, before loading its checkpoint).
        if config.preferenceBeta != nil {
            referenceTrain = sequenceLogProbs(train)
            referenceValidation = sequenceLogProbs(validation)
        }
        if let checkpoint {
            state = try full.map { try TrainingCheckpoint.load(into: $0, from: checkpoint) }
                ?? TrainingCheckpoint.load(into: lora, from: checkpoint)
            guard state.config == config, state.trainExamples == trainUnits else {
                throw LoRAError.mismatch("the checkpoint at \(checkpoint) belongs to a run with other settings or data")
            }
        } else {
            state = TrainerState(step: 0, totalSteps: totalSteps, epoch: 0, epochOffset: 0, tokensSoFar: 0,
                                 seed: config.seed, config: config, trainExamples: trainUnits, bestValidLoss: nil,
                                 bestStep: nil, epochsWithoutImprovement: 0, baseModel: baseModelName, metrics: nil)
            // A fresh adapter adds exactly zero (B = 0): the baseline runs the base alone, without its products.
            if let e = model.withoutAdapter(initial == nil && full == nil, { evaluate(validation, reference: referenceValidation) }) {
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

        // Cleared once here: every step that goes on to the next ends in AdamW, which clears them as it reads them.
        lora.zeroGrad(); full?.zeroGrad()
        training: while state.step < totalSteps {
            if let stop = observer?.trainerStopRequest() {
                // Paused: keep the progress so the run can resume from exactly here. Abandoned: nothing resumes it.
                if stop == .pause, state.step > lastCheckpoint,
                   let dir = observer?.trainer(checkpointDirectoryForStep: state.step, epochEnd: false) {
                    try writeCheckpoint(state, to: dir)
                    if let m = state.metrics { observer?.trainer(didWriteCheckpoint: dir, step: state.step, metrics: m) }
                }
                outcome = .stopped(atStep: state.step)
                break
            }
            let started = Date()
            let epochOrder = order(epoch: state.epoch)
            let picks = Array(epochOrder[state.epochOffset..<min(trainUnits, state.epochOffset + config.batchSize)])
            let stepUnits = units(train, picks)
            let lossTokens = stepUnits.reduce(0) { $0 + $1.reduce(0) { $0 + $1.lossTokens } }
            var lossSum = 0.0, correct = 0, tokens = 0, rows = 0, chosenReward = 0.0, rejectedReward = 0.0
            for (i, m) in microBatches(stepUnits).enumerated() {
                let seed = config.seed &+ UInt64(state.step) &* 0x9E37_79B9 &+ UInt64(i)
                // nil: cancelled mid-step; the half-accumulated gradients are dropped with the run.
                if let beta = config.preferenceBeta {
                    let reference = m.units.flatMap { u in [referenceTrain[2 * picks[u]], referenceTrain[2 * picks[u] + 1]] }
                    guard let r = model.preferenceForwardBackward(m.batch, reference: reference, beta: beta,
                                                                  gradScale: 1 / Float(picks.count), dropoutSeed: seed) else {
                        outcome = .stopped(atStep: state.step)
                        break training
                    }
                    lossSum += r.lossSum; correct += r.correct; chosenReward += r.chosenRewardSum; rejectedReward += r.rejectedRewardSum
                } else {
                    guard let r = model.forwardBackward(m.batch, gradScale: 1 / Float(lossTokens), dropoutSeed: seed) else {
                        outcome = .stopped(atStep: state.step)
                        break training
                    }
                    lossSum += r.lossSum; correct += r.correct
                }
                tokens += m.batch.exampleTokens; rows += m.batch.count
            }
            state.step += 1
            let lr = schedule.rate(step: state.step)
            let norm = full.map { AdamW.step($0, lr: lr, t: state.step, config: config.adam, clearingGradients: true) }
                ?? AdamW.step(lora, lr: lr, t: state.step, config: config.adam, clearingGradients: true)
            state.tokensSoFar += tokens
            state.epochOffset += picks.count
            let epochEnd = state.epochOffset >= trainUnits
            // Supervised: per loss token. Preference: per pair.
            let per = Double(config.preferenceBeta == nil ? lossTokens : picks.count)
            var m = StepMetrics(step: state.step, totalSteps: totalSteps, epoch: state.epoch + 1,
                                trainLoss: lossSum / per, trainAccuracy: Double(correct) / per,
                                learningRate: lr, gradNorm: norm, tokens: tokens, lossTokens: lossTokens, tokensSoFar: state.tokensSoFar,
                                seconds: 0, validLoss: nil, validAccuracy: nil, fullValidLoss: nil, fullValidAccuracy: nil)
            m.rows = rows
            if config.preferenceBeta != nil { m.chosenReward = chosenReward / per; m.rejectedReward = rejectedReward / per }
            let validUnits = validation.count / unit
            var batch: (units: [Int], evaluation: Evaluation)? = nil
            if validUnits > 0 && config.evalInterval > 0 && state.step % config.evalInterval == 0 {
                let picked = (0..<min(config.batchSize, validUnits)).map { (validCursor + $0) % validUnits }
                validCursor += picked.count
                if let e = evaluate(validationUnits: picked) {
                    m.validLoss = e.loss; m.validAccuracy = e.accuracy
                    batch = (picked, e)
                }
            }
            if epochEnd || state.step == totalSteps {
                // The full set: the batch just measured counts as its part, the other units are run (the same sums).
                let full: Evaluation?
                if let batch {
                    let taken = Set(batch.units)
                    let rest = (0..<validUnits).filter { !taken.contains($0) }
                    full = rest.isEmpty ? batch.evaluation
                        : evaluate(validationUnits: rest).map { batch.evaluation.combined(with: $0, units: batch.units.count, rest.count,
                                                                                         perUnit: config.preferenceBeta != nil) }
                } else {
                    full = evaluate(validation, reference: referenceValidation)
                }
                if let e = full { m.fullValidLoss = e.loss; m.fullValidAccuracy = e.accuracy; lastFull = e }
            }
            if epochEnd { state.epoch += 1; state.epochOffset = 0 }
            m.seconds = Date().timeIntervalSince(started)
            state.metrics = m
            observer?.trainer(didFinishStep: m)

            let stopEarly = state.noteStep(fullValidLoss: m.fullValidLoss, epochEnd: epochEnd)
            if state.checkpointDue(epochEnd: epochEnd, stopEarly: stopEarly),
               let dir = observer?.trainer(checkpointDirectoryForStep: state.step, epochEnd: epochEnd) {
                try writeCheckpoint(state, to: dir)
                lastCheckpoint = state.step
                observer?.trainer(didWriteCheckpoint: dir, step: state.step, metrics: m)
            }
            if stopEarly { outcome = .earlyStopped(atStep: state.step); break training }
        }
        return TrainingResult(outcome: outcome, adapter: lora.snapshot(), state: state, baseline: baseline, final: lastFull)
    }

    private func writeCheckpoint(_ state: TrainerState, to dir: String) throws {
        if let full {
            try TrainingCheckpoint.write(full: full, files: modelFiles, state: state, to: dir)
        } else {
            try TrainingCheckpoint.write(lora: lora, state: state, to: dir)
        }
    }
}
