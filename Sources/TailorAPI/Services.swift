// Everything a handler may use, built once by `tailor serve` and shared by the handler threads.
import Foundation
import Logging
import TailorJobs
import TailorStore

public struct APILimits: Sendable {
    /// Largest upload accepted by POST /v1/files (OpenAI's limit).
    public var maxUploadBytes = 512 << 20
    /// Largest JSON request body.
    public var maxJSONBytes = 1 << 20
    public init() {}
}

public final class Services: Sendable {
    public let store: Store
    public let registry: ModelRegistry
    public let runner: JobRunner
    public let inference: InferenceService
    public let events: JobEvents
    /// Executes eval runs on their own thread (started by `tailor serve`; until then runs wait queued).
    public let evals: EvalRunner
    public let limits: APILimits
    public let version: String
    public let startedAt = Date()
    /// The dashboard's directory, served at / (nil: no dashboard).
    public let publicDirectory: String?
    public let logger: Logger
    /// What GET /metrics reports; also the inference service's observer.
    public let metrics: ServerMetrics
    /// The open GET …/events?stream=true responses.
    let jobEventStreams = JobEventStreams()
    /// Compiled response_format schemas and the models' vocabularies as the grammar engine reads them (shared with
    /// the eval runs' grading models).
    public let grammars: GrammarCache

    public init(store: Store, registry: ModelRegistry, runner: JobRunner, inference: InferenceService, events: JobEvents,
                limits: APILimits, version: String, publicDirectory: String?, metrics: ServerMetrics = ServerMetrics(), logger: Logger,
                grammars: GrammarCache = GrammarCache(), evals: EvalRunner? = nil) {
        self.store = store; self.registry = registry; self.runner = runner; self.inference = inference
        self.grammars = grammars
        self.evals = evals ?? EvalRunner(store: store, sampler: InferenceEvalSampler(registry: registry, inference: inference, grammars: grammars),
                                         logger: logger)
        self.events = events; self.limits = limits; self.version = version; self.publicDirectory = publicDirectory
        self.logger = logger
        self.metrics = metrics
    }
}
