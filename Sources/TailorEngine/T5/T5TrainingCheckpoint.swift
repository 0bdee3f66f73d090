// A resumable checkpoint of a T5 LoRA run, in TrainingCheckpoint's layout: the adapter as PEFT's T5 files, AdamW
// moments and the trainer state, written into a temporary directory and renamed into place.

extension TrainingCheckpoint {
    public static func write(lora: T5LoRAParameters, state: TrainerState, to directory: String) throws {
        try write(state: state, m: lora.m, v: lora.v, count: lora.count, to: directory) { tmp in
            try T5PEFTAdapter.write(lora, baseModel: state.baseModel, to: tmp)
        }
    }

    /// Loads adapter values and optimizer moments into `lora`, and returns the trainer state.
    public static func load(into lora: T5LoRAParameters, from directory: String) throws -> TrainerState {
        let state = try readState(directory: directory)
        try T5PEFTAdapter.load(into: lora, directory: directory)
        try loadMoments(m: lora.m, v: lora.v, count: lora.count, from: directory)
        return state
    }
}
