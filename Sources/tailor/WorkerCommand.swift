// `tailor worker`: a compute node. It validates and trains the jobs of the shared store (the same --data and
// --database as the API nodes) and executes its eval runs, claiming both under leases, without the API: only
// GET /healthz and GET /metrics on a small port for its supervisor. Environment as for serve (TAILOR_DATA,
// TAILOR_DATABASE_URL, TAILOR_MODELS, TAILOR_WORKERS, TAILOR_THREADS, TAILOR_NODE_ID, TAILOR_LEASE_SECONDS,
// TAILOR_INFERENCE_MEMORY_MB), its port from TAILOR_WORKER_PORT.
import ArgumentParser
import Foundation
import Logging
import TailorAPI
import TailorEngine
import TailorHTTP
import TailorJobs
import TailorStore

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Validate and train queued fine-tuning jobs and run queued evals from the shared store, without the API.")

    @Option(help: "Address of the health and metrics port (env TAILOR_WORKER_HOST).") var host: String?
    @Option(help: "Health and metrics port (env TAILOR_WORKER_PORT; default 8081; 0 picks a free one).") var port: Int?
    @Option(help: "Data directory, shared with the API nodes (env TAILOR_DATA).") var data: String?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var queue: QueueOptions
    @Option(name: .customLong("model"), help: "A base model jobs may train (GGUF file or Hugging Face directory); repeatable (env TAILOR_MODELS, comma-separated).")
    var models: [String] = []
    @Option(help: "Training threads, each training one job at a time (env TAILOR_WORKERS; default 1).") var workers: Int?
    @Option(help: "Compute threads (env TAILOR_THREADS; default all cores).") var threads: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (env TAILOR_LOG_LEVEL).") var logLevel: String?
    @Option(name: .customLong("training-memory-mb"),
            help: "MiB one training job may use, weights included (env TAILOR_TRAINING_MEMORY_MB; default half the memory).")
    var trainingMemoryMB: Int?
    @Option(name: .customLong("inference-memory-mb"),
            help: "MiB of attention cache eval runs' generations may hold together (env TAILOR_INFERENCE_MEMORY_MB; default half the memory).")
    var inferenceMemoryMB: Int?
    @Option(name: .customLong("prompt-cache-mb"),
            help: "MiB of recent prompts' attention rows kept for prompts that repeat them, reported as usage.prompt_tokens_details.cached_tokens; 0 turns it off (env TAILOR_PROMPT_CACHE_MB; default 256).")
    var promptCacheMB: Int?

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let logger = CPURuntime.startProcess(logLevel: logLevel, threads: threads, environment: env)
        let count = workers ?? env["TAILOR_WORKERS"].flatMap(Int.init) ?? 1
        guard count >= 1 else { throw ValidationError("a worker needs at least one training thread (--workers 1)") }

        let store = try Store.open(dataDirectory: data ?? env["TAILOR_DATA"] ?? "./data", database: database.location(),
                                   logger: Logger(label: "tailor.store"))
        let modelPaths = models + (env["TAILOR_MODELS"]?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? [])
        let registry = try ModelRegistry(store: store, modelPaths: modelPaths, logger: Logger(label: "tailor.models"))
        if registry.baseOrder.isEmpty { logger.warning("no base model: jobs are validated against none and fail; start with --model PATH") }
        let speed = TrainingSpeed(dataDirectory: store.dataDirectory, sgemmGFLOPS: TrainingSpeed.measureSGEMM())
        // Eval runs are sampled on this node's own generation thread, sharing the compute gate with training.
        let gate = ComputeGate()
        let inferenceMemory = (inferenceMemoryMB ?? env["TAILOR_INFERENCE_MEMORY_MB"].flatMap(Int.init)).map { $0 << 20 }
        let inference = InferenceService(gate: gate, logger: Logger(label: "tailor.inference"),
                                         memoryBudget: inferenceMemory ?? InferenceService.defaultMemoryBudget,
                                         promptCacheBytes: (promptCacheMB ?? env["TAILOR_PROMPT_CACHE_MB"].flatMap(Int.init)).map { max(0, $0) << 20 }
                                             ?? InferenceService.defaultPromptCacheBytes)
        let identity = WorkerIdentity(node: queue.node(env))
        let evals = EvalRunner(store: store, sampler: InferenceEvalSampler(registry: registry, inference: inference, grammars: GrammarCache()),
                               logger: Logger(label: "tailor.evals"), identity: identity)
        let runner = JobRunner(store: store, registry: registry, gate: gate, events: JobEvents(store: store), speed: speed,
                               workers: count, logger: Logger(label: "tailor.jobs"), evals: evals, identity: identity)
        try queue.apply(to: runner, evals: evals, env)
        if let mb = trainingMemoryMB ?? env["TAILOR_TRAINING_MEMORY_MB"].flatMap(Int.init) { runner.trainingMemoryLimit = mb << 20 }

        var config = HTTPServerConfiguration(spoolDirectory: store.temporaryDirectory)
        config.host = host ?? env["TAILOR_WORKER_HOST"] ?? "127.0.0.1"
        config.port = port ?? env["TAILOR_WORKER_PORT"].flatMap(Int.init) ?? 8081
        config.handlerThreads = 2
        config.handleSignals = true
        let server = HTTPServer(configuration: config, responder: WorkerEndpoints(runner: runner, store: store), logger: Logger(label: "tailor.http"))
        // An eval run stops mid-item (the item is graded again by whoever resumes it); generation ends at once.
        server.onShutdown { evals.stop(); inference.stop() }
        let bound = try server.start()
        try runner.start()
        inference.start()
        evals.start()
        let url = "http://\(config.host == "0.0.0.0" ? "127.0.0.1" : config.host):\(bound)"
        FileHandle.standardOutput.write(Data("\nTailor \(Tailor.version) worker \(runner.identity) is training and running evals (\(count) training thread\(count == 1 ? "" : "s"); health and metrics on \(url)/healthz, \(url)/metrics)\nmodels: \(registry.baseOrder.isEmpty ? "none" : registry.baseOrder.joined(separator: ", ")); data: \(store.dataDirectory)\n".utf8))
        server.run()
        logger.notice("shutting down: checkpointing running jobs and giving them and the eval run back to the queue")
        runner.shutdown()
        evals.shutdown()
        // Nothing computes after this: the process exits without a generation step still running.
        inference.shutdown()
        try store.close()
        logger.notice("stopped")
    }
}
