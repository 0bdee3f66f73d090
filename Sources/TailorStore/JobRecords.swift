// Rows of the jobs tables: fine-tuning jobs, their events and checkpoints, fine-tuned and base models.
// JSON-valued columns hold the exact JSON the API serves; this layer stores them and does not interpret them.
import GRDB

/// OpenAI's job statuses plus `paused`, stored as their names. Which changes are allowed is TailorJobs' JobLifecycle.
public enum JobStatus: String, Sendable, Codable, CaseIterable, DatabaseValueConvertible {
    case validatingFiles = "validating_files", queued, running, paused, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

public struct JobRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"

    /// The row's sequence number (the primary key); nil until inserted.
    public var seq: Int64?
    public var id: String
    public var projectID: String
    public var model: String
    public var trainingFile: String
    public var validationFile: String?
    public var status: JobStatus
    /// The worker executing the job, from its claim until it stops (nil: none). Set and cleared only by JobLifecycle.
    public var claimedBy: String?
    /// Bumped at every claim (Store.claimNextJob): a worker's writes carry the generation it claimed, and are refused
    /// once another claim has taken the job over.
    public var leaseGeneration: Int
    /// When the claim lapses unless its worker renews it (Unix milliseconds, the database's clock); nil when unclaimed.
    public var leaseExpiresMs: Int?
    /// What validation decided (JobPlan as JSON); nil until the files are validated. Workers read it, never redo it.
    public var plan: String?
    /// As requested (values may be "auto").
    public var hyperparameters: String
    /// The concrete values, once the job runs.
    public var resolvedHyperparameters: String?
    public var methodType: String
    public var suffix: String?
    public var seed: Int
    public var metadata: String?
    public var integrations: String?
    /// Tailor's own settings for the run (LoRA rank, checkpoint interval, …) as JSON.
    public var options: String
    public var error: String?
    public var fineTunedModel: String?
    public var resultFiles: String
    public var trainedTokens: Int?
    public var estimatedFinish: Int?
    public var createdAt: Int
    public var startedAt: Int?
    public var finishedAt: Int?
    public var step: Int
    public var totalSteps: Int?
    /// How many times a worker has started this job (restarts after a crash count).
    public var attempts: Int
    /// How many times the lease of a worker holding this job lapsed (JobRunner fails the job after a few).
    public var leaseLapses: Int
    /// `tailor.evaluation.file`: the test file the job's model and its base are evaluated on once it succeeds.
    public var evaluationFile: String?
    /// `tailor.evaluation.graders` as given (a JSON array), or nil for the default set.
    public var evaluationGraders: String?
    /// The evaluation's eval and run ids (JSON), written with the job's success.
    public var evaluationRuns: String?

    public init(id: String, projectID: String, model: String, trainingFile: String, validationFile: String?,
                status: JobStatus, hyperparameters: String, methodType: String, suffix: String?, seed: Int,
                metadata: String?, integrations: String?, options: String, createdAt: Int) {
        self.id = id; self.projectID = projectID; self.model = model; self.trainingFile = trainingFile
        self.validationFile = validationFile; self.status = status; self.hyperparameters = hyperparameters
        self.methodType = methodType; self.suffix = suffix; self.seed = seed; self.metadata = metadata
        self.integrations = integrations; self.options = options; self.createdAt = createdAt
        resultFiles = "[]"; step = 0; attempts = 0; leaseGeneration = 0; leaseLapses = 0
    }

    enum CodingKeys: String, CodingKey {
        case seq, id, model, status, hyperparameters, suffix, seed, metadata, integrations, options, error, step, attempts
        case projectID = "project_id", trainingFile = "training_file", validationFile = "validation_file"
        case resolvedHyperparameters = "resolved_hyperparameters", methodType = "method_type"
        case fineTunedModel = "fine_tuned_model", resultFiles = "result_files", trainedTokens = "trained_tokens"
        case estimatedFinish = "estimated_finish", createdAt = "created_at", startedAt = "started_at"
        case finishedAt = "finished_at", totalSteps = "total_steps", claimedBy = "claimed_by", plan
        case leaseGeneration = "lease_generation", leaseExpiresMs = "lease_expires_ms", leaseLapses = "lease_lapses"
        case evaluationFile = "evaluation_file", evaluationGraders = "evaluation_graders", evaluationRuns = "evaluation_runs"
    }
}

public struct JobEventRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_events"
    /// Insertion order across all events; streams resume after a sequence number.
    public var seq: Int64?
    public var id: String
    public var jobID: String
    public var createdAt: Int
    public var level: String
    public var message: String
    public var type: String
    /// JSON object, or nil.
    public var data: String?

    enum CodingKeys: String, CodingKey {
        case seq, id, level, message, type, data
        case jobID = "job_id", createdAt = "created_at"
    }
}

/// An event not yet stored: what `Store.updateJobWithEvents(id:_:)` appends beside a job's change.
public struct JobEventDraft: Sendable, Equatable {
    public var level: String
    public var message: String
    public var type: String
    public var data: String?
    public init(level: String = "info", message: String, type: String = "message", data: String? = nil) {
        self.level = level; self.message = message; self.type = type; self.data = data
    }
}

public struct CheckpointRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "checkpoints"
    public var id: String
    public var jobID: String
    public var stepNumber: Int
    public var createdAt: Int
    /// `ft:…:ckpt-step-N`, usable as a model.
    public var modelName: String
    /// JSON object of the step's metrics.
    public var metrics: String
    /// The adapter (PEFT files) and training state for resuming.
    public var directory: String

    public init(id: String, jobID: String, stepNumber: Int, createdAt: Int, modelName: String, metrics: String, directory: String) {
        self.id = id; self.jobID = jobID; self.stepNumber = stepNumber; self.createdAt = createdAt
        self.modelName = modelName; self.metrics = metrics; self.directory = directory
    }

    enum CodingKeys: String, CodingKey {
        case id, metrics, directory
        case jobID = "job_id", stepNumber = "step_number", createdAt = "created_at", modelName = "model_name"
    }
}

public struct FineTunedModelRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "models"
    public var id: String
    public var projectID: String
    public var baseModel: String
    public var jobID: String?
    public var adapterDirectory: String
    public var createdAt: Int
    public var ownedBy: String

    public init(id: String, projectID: String, baseModel: String, jobID: String?, adapterDirectory: String, createdAt: Int, ownedBy: String) {
        self.id = id; self.projectID = projectID; self.baseModel = baseModel; self.jobID = jobID
        self.adapterDirectory = adapterDirectory; self.createdAt = createdAt; self.ownedBy = ownedBy
    }

    enum CodingKeys: String, CodingKey {
        case id
        case projectID = "project_id", baseModel = "base_model", jobID = "job_id"
        case adapterDirectory = "adapter_directory", createdAt = "created_at", ownedBy = "owned_by"
    }
}

/// A base model registered with `tailor models add` (persisted), by name and path.
public struct BaseModelRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "base_models"
    public var id: String
    public var path: String
    public var createdAt: Int
    public init(id: String, path: String, createdAt: Int) { self.id = id; self.path = path; self.createdAt = createdAt }
    enum CodingKeys: String, CodingKey { case id, path; case createdAt = "created_at" }
}
