// A resumable snapshot of a run: the adapter (PEFT files), AdamW moments, and the trainer state (step, data position,
// seed, config, early-stopping state). Written into a temporary directory and renamed into place, so a crash leaves
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
}

public enum TrainingCheckpoint {
    static let stateFile = "trainer_state.json"
    static let optimizerFile = "optimizer.safetensors"

    /// Writes a checkpoint of `lora` and `state` to `directory` (which must not exist yet).
    public static func write(lora: LoRAParameters, state: TrainerState, to directory: String) throws {
        try write(state: state, m: lora.m, v: lora.v, count: lora.count, to: directory) { tmp in
            try PEFTAdapter.write(lora.snapshot(), config: lora.modelConfig, baseModel: state.baseModel,
                                  dropout: lora.config.dropout, to: tmp)
        }
    }

    /// The checkpoint of any model's adapter: `adapter` writes its PEFT files into the temporary directory, beside
    /// the AdamW moments (`count` floats each) and the state.
    static func write(state: TrainerState, m: UnsafePointer<Float>, v: UnsafePointer<Float>, count: Int,
                      to directory: String, adapter: (String) throws -> Void) throws {
        let fm = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let tmp = (parent as NSString).appendingPathComponent(".tmp-\((directory as NSString).lastPathComponent)-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        do {
            try adapter(tmp)
            var w = SafeTensorsWriter()
            w.add("adam.m", shape: [count], values: UnsafeBufferPointer(start: m, count: count))
            w.add("adam.v", shape: [count], values: UnsafeBufferPointer(start: v, count: count))
            try writeFileAtomically(try w.serialized(), to: (tmp as NSString).appendingPathComponent(optimizerFile))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeFileAtomically(try encoder.encode(state), to: (tmp as NSString).appendingPathComponent(stateFile))
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
        try loadMoments(m: lora.m, v: lora.v, count: lora.count, from: directory)
        return state
    }

    /// Reads the AdamW moments of a checkpoint (`count` floats each).
    static func loadMoments(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, from directory: String) throws {
        let opt = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(optimizerFile))
        for (name, dst) in [("adam.m", m), ("adam.v", v)] {
            guard let info = opt.tensors[name], info.shape == [count] else {
                throw LoRAError.badFile(path: directory, detail: "optimizer state \(name) is missing or of another shape")
            }
            let values = try opt.weight(info).toFloats()
            dst.update(from: values, count: values.count)
        }
    }
}
