// What validating a job decided, written once with the job (the `plan` column) and read by the worker and the
// reports: the resolved hyperparameters, the step count, the data's size, the base model and the adapter to start
// from, the disk it needs and how long it should take. Nothing downstream recomputes these.
import Foundation

public struct JobPlan: Codable, Equatable, Sendable {
    public var hyperparameters: ResolvedHyperparameters
    public var totalSteps: Int
    public var examples: Int
    public var tokens: Int
    public var lossTokens: Int
    public var validationExamples: Int?
    public var validationTokens: Int?
    /// The base model's name, and the directory of the fine-tuned model a continuing job starts from: a LoRA adapter's,
    /// or a fully fine-tuned model's (stored as "start_adapter", the name plans were written with before full jobs
    /// could continue one).
    public var baseModel: String
    public var startModel: String?
    public var diskBytes: Int
    public var estimatedSeconds: Int
    /// Memory the training takes at most (weights, adapter and optimizer, the longest pass's activations); nil in the
    /// plans of jobs validated before it was recorded.
    public var memoryBytes: Int?

    enum CodingKeys: String, CodingKey {
        case hyperparameters, examples, tokens
        case totalSteps = "total_steps", lossTokens = "loss_tokens", validationExamples = "validation_examples"
        case validationTokens = "validation_tokens", baseModel = "base_model", startModel = "start_adapter"
        case diskBytes = "disk_bytes", estimatedSeconds = "estimated_seconds", memoryBytes = "memory_bytes"
    }

    public static func decode(_ json: String) throws -> JobPlan { try JSONDecoder().decode(JobPlan.self, from: Data(json.utf8)) }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    /// The pre-flight event's data (the names the dashboard and earlier versions read).
    var reportData: [String: Any] {
        var data: [String: Any] = ["examples": examples, "tokens": tokens, "trained_tokens_per_epoch": lossTokens,
                                   "n_epochs": hyperparameters.nEpochs, "batch_size": hyperparameters.batchSize,
                                   "steps": totalSteps, "estimated_seconds": estimatedSeconds, "disk_bytes": diskBytes]
        if let memoryBytes { data["memory_bytes"] = memoryBytes }
        if let validationExamples { data["validation_examples"] = validationExamples }
        if let validationTokens { data["validation_tokens"] = validationTokens }
        return data
    }
}
