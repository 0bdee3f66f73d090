// The training loop of a T5 run, LoRA or full fine-tuning (config.trainingType): Trainer's loop (shuffled epochs, `batchSize` pairs per AdamW step with
// warm-up and decay, validation, checkpoints, pause and cancel through the same TrainingObserver) over
// (source, target) pairs instead of packed decoder sequences. Not a second Trainer with options: it has no
// preference pairs and no activation budget, because a step's batch runs whole through one T5TrainingModel pass (its
// pairs packed there) laid out for the largest batch the data can make (T5PassSize.fitting).
import Foundation

public struct T5TrainingResult {
    public var outcome: TrainingOutcome
    public var state: TrainerState
    public var baseline: Evaluation?
    public var final: Evaluation?
}

public final class T5Trainer {
    public let config: TrainingConfig
    public let train: [T5TrainingExample]
    public let validation: [T5TrainingExample]
    /// The adapter of a LoRA run; nil in full fine-tuning.
    public let lora: T5LoRAParameters?
    /// Every weight of a full fine-tuning run; nil in LoRA.
    public let full: T5FullParameters?
    public let model: T5TrainingModel
    public weak var observer: TrainingObserver?
    /// Full fine-tuning: the files written beside each checkpoint's and the export's weights (the base's config.json
    /// and tokenizer files, T5FullParameters.companions), so that each is a Hugging Face model directory.
    public var modelFiles: [String: Data] = [:]
    /// Called before each step's pass and between its layers: the server parks training here while generation runs.
    public var yieldPoint: (() -> Void)? { didSet { model.yieldPoint = yieldPoint } }
    private let baseModelName: String

    /// A LoRA run on `model`, or (config.trainingType full) a full run on a copy of its weights.
    public convenience init(model: T5Model, baseModelName: String, train: [T5TrainingExample], validation: [T5TrainingExample],
                            config: TrainingConfig) {
        if config.isFull {
            self.init(full: T5FullParameters(model.weights, config: model.config), baseModelName: baseModelName, train: train,
                      validation: validation, config: config)
        } else {
            self.init(model: model, full: nil, baseModelName: baseModelName, train: train, validation: validation, config: config)
        }
    }

    /// A full run on `full` (T5FullParameters(directory:) reads a model straight into it, never holding it twice).
    public convenience init(full: T5FullParameters, baseModelName: String, train: [T5TrainingExample],
                            validation: [T5TrainingExample], config: TrainingConfig) {
        precondition(config.isFull, "a LoRA run adapts a T5Model: init(model:…)")
        self.init(model: nil, full: full, baseModelName: baseModelName, train: train, validation: validation, config: config)
    }

    private init(model: T5Model?, full: T5FullParameters?, baseModelName: String, train: [T5TrainingExample],
                 validation: [T5TrainingExample], config: TrainingConfig) {
        precondition(!train.isEmpty, "no training examples")
        precondition(config.preferenceBeta == nil, "T5 runs are supervised")
        self.config = config; self.train = train; self.validation = validation; self.baseModelName = baseModelName
        let size = T5PassSize.fitting(train + validation, batchSize: config.batchSize)
        if let full {
            lora = nil; self.full = full
            self.model = T5TrainingModel(full: full, size: size)
        } else {
            let model = model!
            let lora = T5LoRAParameters(config: config.lora, model: model.config)
            self.lora = lora; self.full = nil
            self.model = T5TrainingModel(model: model, lora: lora, size: size)
        }
    }

    public var totalSteps: Int { config.totalSteps(examples: train.count) }

    /// The order of the training set in `epoch`: Trainer's seeded Fisher–Yates shuffle.
    func order(epoch: Int) -> [Int] {
        var rng = SeededRandom(seed: config.seed ^ (UInt64(epoch + 1) &* 0xA24B_AED4_963E_E407))
        var idx = Array(0..<train.count)
        for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return idx
    }

    /// Mean loss and accuracy per target token of pairs of this run, `batchSize` pairs per pass.
    public func evaluate(_ examples: [T5TrainingExample]) -> Evaluation? {
        guard !examples.isEmpty else { return nil }
        var loss = 0.0, correct = 0, tokens = 0
        for start in stride(from: 0, to: examples.count, by: config.batchSize) {
            let batch = Array(examples[start..<min(examples.count, start + config.batchSize)])
            let r = model.evaluate(batch)
            loss += r.lossSum; correct += r.correct; tokens += batch.reduce(0) { $0 + $1.target.count }
        }
        return Evaluation(loss: loss / Double(tokens), accuracy: Double(correct) / Double(tokens), tokens: tokens)
    }

    /// Runs from the start, or from `checkpoint` (a directory written by a run with the same data and config).
    /// `initial`: a PEFT adapter directory of this shape to continue (its values, not its moments), instead of a
    /// fresh adapter (B = 0: the base model itself).
    public func run(resumingFrom checkpoint: String? = nil, startingFrom initial: String? = nil) throws -> T5TrainingResult {
        let schedule = config.schedule(examples: train.count)
        var rng = SeededRandom(seed: config.seed)
        lora?.initialize(rng: &rng)
        if let initial {
            guard let lora else { preconditionFailure("a full fine-tuning run starts from the weights it was given") }
            try T5PEFTAdapter.load(into: lora, directory: initial)
        }
        var state: TrainerState
        var baseline: Evaluation? = nil
        if let checkpoint {
            state = try lora.map { try TrainingCheckpoint.load(into: $0, from: checkpoint) }
                ?? TrainingCheckpoint.load(into: full!, from: checkpoint)
            guard state.config == config, state.trainExamples == train.count else {
                throw LoRAError.mismatch("the checkpoint at \(checkpoint) belongs to a run with other settings or data")
            }
        } else {
            state = TrainerState(step: 0, totalSteps: totalSteps, epoch: 0, epochOffset: 0, tokensSoFar: 0,
                                 seed: config.seed, config: config, trainExamples: train.count, bestValidLoss: nil,
                                 bestStep: nil, epochsWithoutImprovement: 0, baseModel: baseModelName, metrics: nil)
            if let e = evaluate(validation) {
                baseline = e
                observer?.trainer(didEvaluateBaseline: e)
            }
        }
        var outcome = TrainingOutcome.completed
        var lastFull: Evaluation? = nil
        var lastCheckpoint = state.step
        var validCursor = state.step * config.batchSize

        // Cleared once here: every step that goes on to the next ends in AdamW, which clears them as it reads them.
        lora?.zeroGrad(); full?.zeroGrad()
        training: while state.step < totalSteps {
            if let stop = observer?.trainerStopRequest() {
                if stop == .pause, state.step > lastCheckpoint,
                   let dir = observer?.trainer(checkpointDirectoryForStep: state.step, epochEnd: false) {
                    try writeCheckpoint(state, to: dir)
                    if let m = state.metrics { observer?.trainer(didWriteCheckpoint: dir, step: state.step, metrics: m) }
                }
                outcome = .stopped(atStep: state.step)
                break
            }
            let started = Date()
            let picks = order(epoch: state.epoch)[state.epochOffset..<min(train.count, state.epochOffset + config.batchSize)]
            let batch = picks.map { train[$0] }
            let lossTokens = batch.reduce(0) { $0 + $1.target.count }
            let tokens = batch.reduce(0) { $0 + $1.source.count + $1.target.count }
            yieldPoint?()
            // The whole batch in one pass; transformers' loss is the mean over the batch's target tokens.
            let seed = config.seed &+ UInt64(state.step) &* 0x9E37_79B9
            let (lossSum, correct) = model.forwardBackward(batch, gradScale: 1 / Float(lossTokens), dropoutSeed: seed)
            state.step += 1
            let lr = schedule.rate(step: state.step)
            let norm = step(lr: lr, t: state.step)
            state.tokensSoFar += tokens
            state.epochOffset += picks.count
            let epochEnd = state.epochOffset >= train.count
            var m = StepMetrics(step: state.step, totalSteps: totalSteps, epoch: state.epoch + 1,
                                trainLoss: lossSum / Double(lossTokens), trainAccuracy: Double(correct) / Double(lossTokens),
                                learningRate: lr, gradNorm: norm, tokens: tokens, lossTokens: lossTokens,
                                tokensSoFar: state.tokensSoFar, seconds: 0, validLoss: nil, validAccuracy: nil,
                                fullValidLoss: nil, fullValidAccuracy: nil)
            if !validation.isEmpty && config.evalInterval > 0 && state.step % config.evalInterval == 0 {
                let picked = (0..<min(config.batchSize, validation.count)).map { validation[(validCursor + $0) % validation.count] }
                validCursor += picked.count
                if let e = evaluate(picked) { m.validLoss = e.loss; m.validAccuracy = e.accuracy }
            }
            if epochEnd || state.step == totalSteps, let e = evaluate(validation) {
                m.fullValidLoss = e.loss; m.fullValidAccuracy = e.accuracy
                lastFull = e
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
        return T5TrainingResult(outcome: outcome, state: state, baseline: baseline, final: lastFull)
    }

    /// One AdamW update of the trained values; full fine-tuning decays the matrices alone (Trainer's grouping).
    private func step(lr: Float, t: Int) -> Float {
        if let lora {
            return AdamW.step(values: lora.values, grads: lora.grads, m: lora.m, v: lora.v, count: lora.count, lr: lr, t: t,
                              config: config.adam, clearingGradients: true)
        }
        return AdamW.step(full!, lr: lr, t: t, config: config.adam, clearingGradients: true)
    }

    private func writeCheckpoint(_ state: TrainerState, to dir: String) throws {
        if let lora { try TrainingCheckpoint.write(lora: lora, state: state, to: dir) }
        else { try TrainingCheckpoint.write(full: full!, files: modelFiles, state: state, to: dir) }
    }

    /// Writes the adapter as a PEFT directory that `PeftModel.from_pretrained` loads onto the base T5 model, or, in
    /// full fine-tuning, the model as a Hugging Face directory (model.safetensors in f32 and `modelFiles`).
    public func export(to directory: String) throws {
        if let lora { return try T5PEFTAdapter.write(lora, baseModel: baseModelName, to: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, data) in modelFiles { try writeFileAtomically(data, to: (directory as NSString).appendingPathComponent(name)) }
        try full!.writeSafetensors(to: (directory as NSString).appendingPathComponent("model.safetensors"))
    }
}
