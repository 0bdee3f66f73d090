// GET /metrics: Prometheus text format. Request and inference metrics are recorded through swift-metrics as they
// happen; the state-like ones (jobs by status, queue, training speed, adapters, memory) are read at scrape time.
// Each server owns its registry (no global bootstrap), so tests can run several servers in one process.
import CoreMetrics
import Foundation
import Prometheus
import TailorHTTP
import TailorJobs

public final class ServerMetrics: InferenceObserver, Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Every status a job can have, so that a status with no jobs reads 0 rather than vanishing.
    static let jobStatuses = ["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"]

    public init() {
        var f = PrometheusMetricsFactory(registry: registry)
        // Time to first token spans a cold 2 s prompt to 20 ms; requests span 1 ms to long uploads.
        f.durationHistogramBuckets["tailor_inference_time_to_first_token_seconds"] =
            [.milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)]
        f.durationHistogramBuckets["tailor_http_request_duration_seconds"] =
            [.microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)]
        factory = f
    }

    // MARK: recorded as they happen

    /// One finished request: `route` is the matched pattern (/v1/files/:id), never the raw path, to bound cardinality.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        Counter(label: "tailor_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory).increment()
        Timer(label: "tailor_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    public func inference(timeToFirstToken seconds: Double, promptTokens: Int, cachedTokens: Int) {
        Timer(label: "tailor_inference_time_to_first_token_seconds", factory: factory).recordSeconds(seconds)
        Counter(label: "tailor_inference_prompt_tokens_total", factory: factory).increment(by: promptTokens)
        Counter(label: "tailor_inference_prompt_tokens_cached_total", factory: factory).increment(by: cachedTokens)
        Counter(label: "tailor_inference_requests_total", factory: factory).increment()
    }

    public func inference(decoded tokens: Int, seconds: Double) {
        Counter(label: "tailor_inference_generated_tokens_total", factory: factory).increment(by: tokens)
        Gauge(label: "tailor_inference_decode_tokens_per_second", factory: factory).record(Double(tokens) / max(seconds, 1e-9))
    }

    // MARK: read at scrape time

    func render(_ s: Services) -> [UInt8] {
        let counts = (try? s.store.jobCountsByStatus()) ?? [:]
        for status in Self.jobStatuses {
            Gauge(label: "tailor_jobs", dimensions: [("status", status)], factory: factory).record(counts[status] ?? 0)
        }
        let running = s.runner.runningJobs
        Gauge(label: "tailor_job_queue_depth", factory: factory).record(s.runner.queueDepth)
        Gauge(label: "tailor_training_jobs_running", factory: factory).record(running.count)
        Gauge(label: "tailor_training_tokens_per_second", factory: factory).record(running.reduce(0) { $0 + $1.tokensPerSecond })
        let stats = s.inference.currentStats
        Gauge(label: "tailor_inference_active_sequences", factory: factory).record(stats.activeSequences)
        Gauge(label: "tailor_inference_queued_requests", factory: factory).record(stats.queuedRequests)
        Gauge(label: "tailor_adapters_loaded", factory: factory).record(s.registry.loadedAdapterCount)
        Gauge(label: "tailor_base_models", factory: factory).record(s.registry.baseOrder.count)
        Gauge(label: "tailor_process_resident_memory_bytes", factory: factory).record(Self.residentBytes())
        Gauge(label: "tailor_uptime_seconds", factory: factory).record(Date().timeIntervalSince(s.startedAt))
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// Resident set size from /proc/self/statm (pages), 0 where there is no /proc.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Counts every request the API answers, rejected ones included, under its route's pattern ("unmatched" without one).
/// A streamed response counts the time to its head, as the request log line does.
struct MetricsMiddleware: Middleware {
    let metrics: ServerMetrics

    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        let response = next(request, &context)
        metrics.recordRequest(route: context[MatchedRoute.self]?.pattern ?? "unmatched", method: request.head.method,
                              status: response.status, duration: ContinuousClock.now - context.startedAt)
        return response
    }
}

enum MetricsHandlers {
    static func metrics(_ call: APICall) throws -> HTTPResponse {
        var r = HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                             body: .bytes(call.services.metrics.render(call.services)))
        r.headers.set("Cache-Control", "no-store")
        return r
    }
}
