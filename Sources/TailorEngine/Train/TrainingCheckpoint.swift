// A resumable snapshot of a run: the adapter (PEFT files) — or, in full fine-tuning, the whole model as a Hugging Face
// directory (FullModelFiles) —, AdamW moments, and the trainer state (step, data position, seed, config,
// early-stopping state). Written into a temporary directory and renamed into place, so a crash leaves
// either the whole checkpoint or none of it.
import Foundation

public struct TrainerState: Sendable, Codable, Equatable {
    public var formatVersion = 1
    /// Optimizer steps completed.
    public var step: Int
    public var totalSteps: Int
    /// Data position: the epoch (0-based) and the index into that epoch's shuffled order of the next example.
    public var epoch: Int
    public var epochOffset: Int
    public var tokensSoFar: Int
    /// The run's randomness is a pure function of (seed, epoch, step): shuffles use (seed, epoch), dropout (seed, step).
    public var seed: UInt64
    public var config: TrainingConfig
    public var trainExamples: Int
    public var bestValidLoss: Double?
    public var bestStep: Int?
    public var epochsWithoutImprovement: Int
    public var baseModel: String
    public var metrics: StepMetrics?

    /// After a step: at an epoch's end the full validation loss names the best step so far or counts an epoch without
    /// improvement; returns whether early stopping (config.earlyStoppingPatience) ends the run here.
    mutating func noteStep(fullValidLoss full: Double?, epochEnd: Bool) -> Bool {
        guard let full, epochEnd else { return false }
        if bestValidLoss.map({ full < $0 }) ?? true {
            bestValidLoss = full; bestStep = step; epochsWithoutImprovement = 0
            return false
        }
        epochsWithoutImprovement += 1
        return config.earlyStoppingPatience > 0 && epochsWithoutImprovement >= config.earlyStoppingPatience
    }

    /// Whether the step just taken writes a checkpoint: each epoch's end, every checkpointInterval steps, the last step,
    /// and a step that stops early.
    func checkpointDue(epochEnd: Bool, stopEarly: Bool) -> Bool {
        epochEnd || stopEarly || step == totalSteps || (config.checkpointInterval > 0 && step % config.checkpointInterval == 0)
    }
}

public enum TrainingCheckpoint {
    static let stateFile = "trainer_state.json"
    static let optimizerFile = "optimizer.safetensors"

    /// Full fine-tuning's moments live beside the model, not in it: a loader reads every top-level *.safetensors.
    static let fullOptimizerFile = "optimizer/adamw.safetensors"

    /// Writes a checkpoint of `lora` and `state` to `directory` (which must not exist yet).
    public static func write(lora: LoRAParameters, state: TrainerState, to directory: String) throws {
        try write(state: state, m: lora.m, v: lora.v, count: lora.count, to: directory) { tmp in
            try PEFTAdapter.write(lora.snapshot(), config: lora.modelConfig, baseModel: state.baseModel,
                                  dropout: lora.config.dropout, to: tmp)
        }
    }

    /// The checkpoint of any model's adapter: `adapter` writes its PEFT files into the temporary directory, beside
    /// the AdamW moments (`count` floats each) and the state.
    /// `optimizer` is the moments' file in the directory (a full model's sit in a subdirectory, fullOptimizerFile).
    static func write(state: TrainerState, m: UnsafePointer<Float>, v: UnsafePointer<Float>, count: Int,
                      to directory: String, optimizer: String = optimizerFile, adapter: (String) throws -> Void) throws {
        try writeDirectory(directory) { tmp in
            try adapter(tmp)
            let path = (tmp as NSString).appendingPathComponent(optimizer)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try writeMoments(m, v, count: count, to: path)
            try writeState(state, to: tmp)
        }
    }

    /// Writes a full fine-tuning checkpoint: the model (model.safetensors and `files`, e.g. config.json and the
    /// tokenizer's, making a Hugging Face directory), the AdamW moments, and `state`.
    public static func write(full: FullParameters, files: [String: Data], state: TrainerState, to directory: String) throws {
        try writeDirectory(directory) { tmp in
            var files = files
            // A checkpoint must load as a model to be resumed: without the base's own, a config made from the shape.
            if files["config.json"] == nil { files["config.json"] = try AdapterExport.huggingFaceConfig(full.config, bos: nil, eos: nil) }
            for (name, data) in files { try writeFileAtomically(data, to: (tmp as NSString).appendingPathComponent(name)) }
            try FullModelFiles.writeSafetensors(full, to: (tmp as NSString).appendingPathComponent("model.safetensors"))
            try FileManager.default.createDirectory(atPath: (tmp as NSString).appendingPathComponent("optimizer"), withIntermediateDirectories: false)
            try writeMoments(full.m, full.v, count: full.count, to: (tmp as NSString).appendingPathComponent(fullOptimizerFile))
            try writeState(state, to: tmp)
        }
    }

    private static func writeMoments(_ m: UnsafePointer<Float>, _ v: UnsafePointer<Float>, count: Int, to path: String) throws {
        var w = SafeTensorsWriter()
        w.addBorrowing("adam.m", shape: [count], values: UnsafeBufferPointer(start: m, count: count))
        w.addBorrowing("adam.v", shape: [count], values: UnsafeBufferPointer(start: v, count: count))
        try w.write(to: path)
    }

    private static func writeState(_ state: TrainerState, to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(try encoder.encode(state), to: (directory as NSString).appendingPathComponent(stateFile))
    }

    /// Fills a temporary directory beside `directory`, then renames it into place.
    private static func writeDirectory(_ directory: String, _ fill: (String) throws -> Void) throws {
        let fm = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let tmp = (parent as NSString).appendingPathComponent(".tmp-\((directory as NSString).lastPathComponent)-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        do {
            try fill(tmp)
            if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
            guard rename(tmp, directory) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: directory, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
            fsyncDirectory(parent)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    public static func readState(directory: String) throws -> TrainerState {
        let path = (directory as NSString).appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoRAError.badFile(path: path, detail: "missing; this is not a complete training checkpoint")
        }
        return try JSONDecoder().decode(TrainerState.self, from: data)
    }

    /// Loads adapter values and optimizer moments into `lora`, and returns the trainer state.
    public static func load(into lora: LoRAParameters, from directory: String) throws -> TrainerState {
        let state = try readState(directory: directory)
        try lora.load(PEFTAdapter.read(directory: directory, config: lora.modelConfig))
        try loadMoments(lora.m, lora.v, count: lora.count, from: (directory as NSString).appendingPathComponent(optimizerFile), directory: directory)
        return state
    }

    /// Loads a full fine-tuning checkpoint's weights and moments into `full`, and returns the trainer state.
    public static func load(into full: FullParameters, from directory: String) throws -> TrainerState {
        let state = try readState(directory: directory)
        try full.load(try ModelLoader.loadTransformer(path: directory))
        try loadMoments(full.m, full.v, count: full.count, from: (directory as NSString).appendingPathComponent(fullOptimizerFile), directory: directory)
        return state
    }

    /// Reads the AdamW moments of an adapter checkpoint (`count` floats each).
    static func loadMoments(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, from directory: String,
                            optimizer: String = optimizerFile) throws {
        try loadMoments(m, v, count: count, from: (directory as NSString).appendingPathComponent(optimizer), directory: directory)
    }

    private static func loadMoments(_ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, count: Int,
                                    from path: String, directory: String) throws {
        let opt = try SafeTensorsFile(path: path)
        for (name, dst) in [("adam.m", m), ("adam.v", v)] {
            guard let info = opt.tensors[name], info.shape == [count] else {
                throw LoRAError.badFile(path: directory, detail: "optimizer state \(name) is missing or of another shape")
            }
            let values = try opt.weight(info).toFloats()
            dst.update(from: values, count: values.count)
        }
    }
}
