// `tailor serve`: the API server. Every option can also come from the environment (TAILOR_HOST, TAILOR_PORT,
// TAILOR_DATA, TAILOR_DATABASE_URL, TAILOR_MODELS, TAILOR_API_KEY or TAILOR_API_KEY_FILE, TAILOR_WORKERS, TAILOR_THREADS,
// TAILOR_PUBLIC_DIR, TAILOR_LOG_LEVEL, TAILOR_INFERENCE_MEMORY_MB, TAILOR_NODE_ID, TAILOR_LEASE_SECONDS) so the systemd
// unit needs no command-line edits. `--workers 0` makes an API node: it serves, queues jobs and creates eval runs;
// `tailor worker` processes over the same data directory and database validate and train the jobs and execute the runs.
import ArgumentParser
import Foundation
import Logging
import TailorAPI
import TailorEngine
import TailorHTTP
import TailorJobs
import TailorStore

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the OpenAI-compatible API server.")

    @Option(help: "Address to listen on (env TAILOR_HOST).") var host: String?
    @Option(help: "Port (env TAILOR_PORT; 0 picks a free one).") var port: Int?
    @Option(help: "Data directory (env TAILOR_DATA).") var data: String?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var queue: QueueOptions
    @Option(name: .customLong("model"), help: "A base model (GGUF file or Hugging Face directory); repeatable (env TAILOR_MODELS, comma-separated).")
    var models: [String] = []
    @Option(name: .customLong("api-key"), help: "Accept this key as an admin key (env TAILOR_API_KEY).") var apiKey: String?
    @Option(help: "Training workers (env TAILOR_WORKERS; default 1). 0: an API node, which validates, trains and evaluates nothing — `tailor worker` processes do.") var workers: Int?
    @Option(help: "Compute threads (env TAILOR_THREADS; default all cores).") var threads: Int?
    @Option(name: .customLong("public"), help: "Dashboard directory (env TAILOR_PUBLIC_DIR).") var publicDir: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (env TAILOR_LOG_LEVEL).") var logLevel: String?
    @Option(name: .customLong("max-upload-mb"), help: "Largest file upload in MiB.") var maxUploadMB = 512
    @Option(name: .customLong("inference-memory-mb"),
            help: "MiB of attention cache running generations may hold together; more waits (env TAILOR_INFERENCE_MEMORY_MB; default half the memory).")
    var inferenceMemoryMB: Int?
    @Option(name: .customLong("prompt-cache-mb"),
            help: "MiB of recent prompts' attention rows kept for prompts that repeat them, reported as usage.prompt_tokens_details.cached_tokens; 0 turns it off (env TAILOR_PROMPT_CACHE_MB; default 256).")
    var promptCacheMB: Int?
    @Option(name: .customLong("training-memory-mb"),
            help: "MiB one training job may use, weights included; a job whose longest example needs more is refused (env TAILOR_TRAINING_MEMORY_MB; default half the memory).")
    var trainingMemoryMB: Int?

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let logger = CPURuntime.startProcess(logLevel: logLevel, threads: threads, environment: env)

        let dataDir = data ?? env["TAILOR_DATA"] ?? "./data"
        let store = try Store.open(dataDirectory: dataDir, database: database.location(), logger: Logger(label: "tailor.store"))
        var key = apiKey ?? env["TAILOR_API_KEY"]
        if key == nil, let file = env["TAILOR_API_KEY_FILE"] {
            key = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var printedKey: String?
        if let key {
            try store.ensureAdminKey(secret: key)
        } else if let created = try store.bootstrapAdminKeyIfNeeded() {
            printedKey = created
        }

        let modelPaths = models + (env["TAILOR_MODELS"]?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? [])
        let registry = try ModelRegistry(store: store, modelPaths: modelPaths, logger: Logger(label: "tailor.models"))
        if registry.baseOrder.isEmpty {
            logger.warning("no base model: start with --model PATH (or `tailor models add`) to fine-tune and chat")
        }
        let gate = ComputeGate()
        let workerCount = workers ?? env["TAILOR_WORKERS"].flatMap(Int.init) ?? 1
        // Event streams follow the store: any job may be validated or trained by another process (an API node's
        // always are; a serve with workers may have `tailor worker` processes beside it on the same store, which it
        // cannot know of in advance). This process's own events wake the follower at once.
        let events = JobEvents(store: store, followingStore: 0.5)
        let speed = TrainingSpeed(dataDirectory: store.dataDirectory, sgemmGFLOPS: TrainingSpeed.measureSGEMM())
        let metrics = ServerMetrics()
        let inferenceMemory = (inferenceMemoryMB ?? env["TAILOR_INFERENCE_MEMORY_MB"].flatMap(Int.init)).map { $0 << 20 }
        let inference = InferenceService(gate: gate, logger: Logger(label: "tailor.inference"), observer: metrics,
                                         memoryBudget: inferenceMemory ?? InferenceService.defaultMemoryBudget,
                                         promptCacheBytes: (promptCacheMB ?? env["TAILOR_PROMPT_CACHE_MB"].flatMap(Int.init)).map { max(0, $0) << 20 }
                                             ?? InferenceService.defaultPromptCacheBytes)
        let grammars = GrammarCache()
        let identity = WorkerIdentity(node: queue.node(env))
        let evals = EvalRunner(store: store, sampler: InferenceEvalSampler(registry: registry, inference: inference, grammars: grammars),
                               logger: Logger(label: "tailor.evals"), identity: identity)
        let runner = JobRunner(store: store, registry: registry, gate: gate, events: events, speed: speed,
                               workers: workerCount, logger: Logger(label: "tailor.jobs"),
                               evals: evals, identity: identity)
        try queue.apply(to: runner, evals: evals, env)
        if let mb = trainingMemoryMB ?? env["TAILOR_TRAINING_MEMORY_MB"].flatMap(Int.init) { runner.trainingMemoryLimit = mb << 20 }
        var limits = APILimits()
        limits.maxUploadBytes = maxUploadMB << 20
        let services = Services(store: store, registry: registry, runner: runner, inference: inference, events: events,
                                limits: limits, version: Tailor.version, publicDirectory: Self.publicDirectory(publicDir ?? env["TAILOR_PUBLIC_DIR"]),
                                metrics: metrics, logger: Logger(label: "tailor.http"), grammars: grammars,
                                evals: evals)
        var config = HTTPServerConfiguration(spoolDirectory: store.temporaryDirectory)
        config.host = host ?? env["TAILOR_HOST"] ?? "127.0.0.1"
        config.port = port ?? env["TAILOR_PORT"].flatMap(Int.init) ?? 8080
        config.maxSpooledBodyBytes = limits.maxUploadBytes + (1 << 20)   // multipart framing around the file
        // Streams and waits for generation hold a handler thread each; threads are cheap, starved requests are not.
        config.handlerThreads = 64
        config.handleSignals = true
        let server = HTTPServer(configuration: config, responder: API(services: services), logger: Logger(label: "tailor.http"))
        // Generation gets the streams' grace period to finish, then ends, so waiting handlers return and the drain ends.
        let grace = config.streamShutdownGrace
        // An eval run stops between items or mid-generation, without waiting here; it resumes at the next start.
        server.onShutdown { services.evals.stop(); inference.stop(grace: grace) }
        let bound = try server.start()
        try runner.start()
        inference.start()
        // An API node does no compute-heavy background work: eval runs are claimed and executed by the workers (its
        // EvalRunner still cancels runs and serves the graders API).
        if workerCount > 0 { services.evals.start() }

        let url = "http://\(config.host == "0.0.0.0" ? "127.0.0.1" : config.host):\(bound)"
        var banner = "\nTailor \(Tailor.version) is listening on \(url) (OpenAI base URL: \(url)/v1)\n"
        banner += "models: \(registry.baseOrder.isEmpty ? "none" : registry.baseOrder.joined(separator: ", ")); data: \(store.dataDirectory)\n"
        if let printedKey {
            banner += "API key (shown once, also saved in \(store.dataDirectory)/admin.key): \(printedKey)\n"
        } else if key == nil {
            banner += "API key: see \(store.dataDirectory)/admin.key, or create one with `tailor keys create --data \(dataDir) --project NAME`\n"
        }
        FileHandle.standardOutput.write(Data(banner.utf8))
        server.run()
        logger.notice("shutting down: checkpointing running jobs")
        runner.shutdown()
        services.evals.shutdown()
        inference.shutdown()
        try store.close()
        logger.notice("stopped")
    }

    /// The dashboard: the given directory, else Public/ beside the installed binary (PREFIX/share/tailor/Public),
    /// else ./Public.
    static func publicDirectory(_ given: String?) -> String? {
        let fm = FileManager.default
        if let given { return given }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [exe.appendingPathComponent("../share/tailor/Public").standardized.path, "Public"] {
            if fm.fileExists(atPath: candidate + "/index.html") { return candidate }
        }
        return nil
    }
}
