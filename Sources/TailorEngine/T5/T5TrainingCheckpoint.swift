// A resumable checkpoint of a T5 run, in TrainingCheckpoint's layout: the adapter as PEFT's T5 files (or, in full
// fine-tuning, the whole model as a Hugging Face T5 directory, its moments in optimizer/ as a decoder's), AdamW
// moments and the trainer state, written into a temporary directory and renamed into place.
import Foundation

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

    /// A full fine-tuning checkpoint: model.safetensors and `files` (config.json and the tokenizer's), a directory
    /// that `T5ForConditionalGeneration.from_pretrained` and Tailor load as a model.
    public static func write(full: T5FullParameters, files: [String: Data], state: TrainerState, to directory: String) throws {
        try write(state: state, m: full.m, v: full.v, count: full.count, to: directory, optimizer: fullOptimizerFile) { tmp in
            for (name, data) in files { try writeFileAtomically(data, to: (tmp as NSString).appendingPathComponent(name)) }
            try full.writeSafetensors(to: (tmp as NSString).appendingPathComponent("model.safetensors"))
        }
    }

    /// Loads a full checkpoint's weights and moments into `full`, and returns the trainer state.
    public static func load(into full: T5FullParameters, from directory: String) throws -> TrainerState {
        let state = try readState(directory: directory)
        try full.load(directory: directory)
        try loadMoments(m: full.m, v: full.v, count: full.count, from: directory, optimizer: fullOptimizerFile)
        return state
    }
}
