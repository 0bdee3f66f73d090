// What a `tailor worker` answers on its small port, for its supervisor only: GET /healthz (the process is up and
// its store answers) and GET /metrics (Prometheus: the queue as this worker sees it, and its own running jobs).
// No API, no keys: bind it to an address only the supervisor and the metrics scraper reach.
import Foundation
import Prometheus
import TailorHTTP
import TailorJobs
import TailorStore

public struct WorkerEndpoints: HTTPResponder {
    let runner: JobRunner
    let store: Store
    let metrics: WorkerMetrics
    let startedAt = Date()

    public init(runner: JobRunner, store: Store) {
        self.runner = runner
        self.store = store
        metrics = WorkerMetrics()
    }

    public func prepare(_ head: HTTPRequestHead) -> Preparation {
        switch (head.method, head.path) {
        case ("GET", "/healthz"), ("GET", "/metrics"):
            return Preparation(.buffer(limit: 0))
        case (_, "/healthz"), (_, "/metrics"):
            return Preparation(.reject(.error(status: 405, message: "Only GET is allowed on \(head.path)")))
        default:
            return Preparation(.reject(.error(status: 404, message: "A worker answers only GET /healthz and GET /metrics; the API is on the API nodes")))
        }
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        if request.head.path == "/metrics" {
            var response = HTTPResponse(body: .bytes(metrics.render(runner, store, startedAt: startedAt)))
            response.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            return response
        }
        // Healthy when the store answers: a worker that cannot reach the database trains nothing.
        guard (try? store.jobCountsByStatus()) != nil else {
            return .error(status: 503, message: "The store does not answer", type: "server_error")
        }
        return .json(status: 200, bytes: Array("{\"status\":\"ok\",\"worker\":\"\(runner.identity)\",\"workers\":\(runner.workers)}".utf8))
    }
}

final class WorkerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()

    func render(_ runner: JobRunner, _ store: Store, startedAt: Date) -> [UInt8] {
        let counts = (try? store.jobCountsByStatus()) ?? [:]
        for status in ServerMetrics.jobStatuses {
            registry.makeGauge(name: "tailor_jobs", labels: [("status", status)]).set(Double(counts[status] ?? 0))
        }
        let running = runner.runningJobs
        registry.makeGauge(name: "tailor_job_queue_depth").set(Double(runner.queueDepth))
        registry.makeGauge(name: "tailor_training_jobs_running").set(Double(running.count))
        registry.makeGauge(name: "tailor_training_tokens_per_second").set(running.reduce(0) { $0 + $1.tokensPerSecond })
        registry.makeGauge(name: "tailor_worker_training_threads").set(Double(runner.workers))
        registry.makeGauge(name: "tailor_process_resident_memory_bytes").set(Double(ServerMetrics.residentBytes()))
        registry.makeGauge(name: "tailor_uptime_seconds").set(Date().timeIntervalSince(startedAt))
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
