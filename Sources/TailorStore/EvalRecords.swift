// Rows of the evals tables: evals, their runs, and each run's output items. JSON-valued columns hold the JSON the
// API serves or the run loop reads back; this layer stores them without interpreting them.
import GRDB

/// OpenAI's eval run statuses, stored as their names. Which changes are allowed is TailorJobs' EvalRunLifecycle.
public enum EvalRunStatus: String, Sendable, Codable, CaseIterable, DatabaseValueConvertible {
    case queued, inProgress = "in_progress", completed, failed, canceled

    public var isTerminal: Bool { self == .completed || self == .failed || self == .canceled }
}

public struct EvalRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "evals"
    public var seq: Int64?
    public var id: String
    public var projectID: String
    public var name: String
    /// The data_source_config as served (type, schema, and Tailor's copy of item_schema for checking).
    public var dataSourceConfig: String
    /// The testing criteria as served, each with its `id`.
    public var testingCriteria: String
    public var metadata: String?
    public var createdAt: Int

    public init(id: String, projectID: String, name: String, dataSourceConfig: String, testingCriteria: String,
                metadata: String?, createdAt: Int) {
        self.id = id; self.projectID = projectID; self.name = name; self.dataSourceConfig = dataSourceConfig
        self.testingCriteria = testingCriteria; self.metadata = metadata; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case seq, id, name, metadata
        case projectID = "project_id", dataSourceConfig = "data_source_config", testingCriteria = "testing_criteria"
        case createdAt = "created_at"
    }
}

public struct EvalRunRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "eval_runs"
    public var seq: Int64?
    public var id: String
    public var evalID: String
    public var projectID: String
    public var name: String
    /// The model sampled (completions runs); "" for a jsonl run, whose samples come with the items.
    public var model: String
    public var status: EvalRunStatus
    /// The data_source as served (an inline file's content included).
    public var dataSource: String
    /// The items to grade, as a JSON array of `{"item": …, "sample": …}`: read once when the run is created, so a
    /// file deleted later does not change or break the run.
    public var items: String
    public var metadata: String?
    /// EvalApiError JSON once the run has failed.
    public var error: String?
    /// The counts so far (TailorJobs' EvalTally as JSON), written with each output item in one transaction.
    public var tally: String
    public var createdAt: Int
    public var startedAt: Int?
    public var finishedAt: Int?
    /// The node thread executing the run (`NODE/PID-RANDOM/eval`), nil when none holds it; see Store+EvalClaims.
    public var claimedBy: String?
    /// Bumped at every claim: a write naming an older generation is refused.
    public var leaseGeneration = 0
    /// When the claim lapses unless renewed (Unix milliseconds, the database's clock).
    public var leaseExpiresMs: Int?

    public init(id: String, evalID: String, projectID: String, name: String, model: String, dataSource: String,
                items: String, metadata: String?, tally: String, createdAt: Int) {
        self.id = id; self.evalID = evalID; self.projectID = projectID; self.name = name; self.model = model
        self.status = .queued; self.dataSource = dataSource; self.items = items; self.metadata = metadata
        self.tally = tally; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case seq, id, name, model, status, items, metadata, error, tally
        case evalID = "eval_id", projectID = "project_id", dataSource = "data_source", createdAt = "created_at"
        case startedAt = "started_at", finishedAt = "finished_at"
        case claimedBy = "claimed_by", leaseGeneration = "lease_generation", leaseExpiresMs = "lease_expires_ms"
    }
}

public struct EvalOutputItemRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "eval_output_items"
    public var seq: Int64?
    public var id: String
    public var runID: String
    public var evalID: String
    /// The item's index in the run's data source (0-based); unique within a run, so a resumed run skips it.
    public var datasourceItemID: Int
    /// "pass", "fail" or "error".
    public var status: String
    public var datasourceItem: String
    public var results: String
    public var sample: String
    public var createdAt: Int

    public init(id: String, runID: String, evalID: String, datasourceItemID: Int, status: String, datasourceItem: String,
                results: String, sample: String, createdAt: Int) {
        self.id = id; self.runID = runID; self.evalID = evalID; self.datasourceItemID = datasourceItemID
        self.status = status; self.datasourceItem = datasourceItem; self.results = results; self.sample = sample
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case seq, id, status, results, sample
        case runID = "run_id", evalID = "eval_id", datasourceItemID = "datasource_item_id"
        case datasourceItem = "datasource_item", createdAt = "created_at"
    }
}
