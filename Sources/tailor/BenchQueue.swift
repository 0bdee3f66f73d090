// `tailor bench queue`: the shared job queue through the store. Claims per second with N concurrent claimers, each on a
// Store of its own (as N worker processes would be), on SQLite and — with --database — on PostgreSQL; and on
// PostgreSQL the event fan-out latency: an event written through one store until the job-change watch of every other
// store has heard it (API nodes hear workers' events this way), median and 99th percentile.
import ArgumentParser
import Foundation
import Logging
import TailorStore

struct BenchQueue: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Job claims per second and event fan-out latency through the store.")
    @Option(help: "Concurrent claimers, each with a store of its own (comma-separated).") var claimers = "1,2,4,8"
    @Option(help: "Jobs queued for each claim run.") var jobs = 400
    @Option(help: "Events written for the fan-out latency (PostgreSQL).") var events = 300
    @Option(help: "Stores watching for the fan-out (comma-separated).") var watchers = "1,4"
    @Option(help: "A scratch data directory (default: a new temporary one, removed after).") var data: String?
    @OptionGroup var database: DatabaseOptions
    @Flag var json = false

    func run() throws {
        var quiet = Logger(label: "bench")
        quiet.logLevel = .critical
        let postgres = try database.location()
        var backends: [(String, DatabaseLocation)] = [("sqlite", .sqlite)]
        if case .postgres = postgres { backends.append(("postgres", postgres)) }
        let root = data ?? NSTemporaryDirectory() + "tailor-bench-queue-" + UUID().uuidString
        defer { if data == nil { try? FileManager.default.removeItem(atPath: root) } }
        var results: [String: Any] = ["jobs": jobs]
        for (name, location) in backends {
            let directory = root + "/" + name
            for n in claimers.split(separator: ",").compactMap({ Int($0) }) {
                let rate = try claimRate(directory, location, claimers: n, logger: quiet)
                BenchSupport.log("\(name): \(n) claimers: \(Int(rate.rounded())) claims/s")
                results["\(name)_claims_per_s_\(n)"] = BenchSupport.round(rate)
            }
            guard name == "postgres" else { continue }
            for k in watchers.split(separator: ",").compactMap({ Int($0) }) {
                let (median, p99) = try fanOut(directory, location, watchers: k, logger: quiet)
                BenchSupport.log("postgres: event → \(k) watcher(s): median \(BenchSupport.round(median, 2)) ms, p99 \(BenchSupport.round(p99, 2)) ms")
                results["postgres_fanout_ms_median_\(k)"] = BenchSupport.round(median, 2)
                results["postgres_fanout_ms_p99_\(k)"] = BenchSupport.round(p99, 2)
            }
        }
        BenchSupport.emit(results, json: json)
    }

    private func queued(_ id: String, _ project: String) -> JobRecord {
        var job = JobRecord(id: id, projectID: project, model: "base", trainingFile: "file-bench", validationFile: nil, status: .queued,
                            hyperparameters: "{}", methodType: "supervised", suffix: nil, seed: 1, metadata: nil, integrations: nil,
                            options: "{}", createdAt: 0)
        job.plan = "{}"
        return job
    }

    /// Queues `jobs` jobs over four projects, then `claimers` threads claim until the queue is empty, each through its
    /// own store, as the runner does (the job to running, a claim event). Returns claims per second of wall time.
    private func claimRate(_ directory: String, _ location: DatabaseLocation, claimers: Int, logger: Logger) throws -> Double {
        let stores = try (0..<claimers).map { _ in try Store.open(dataDirectory: directory, database: location, logger: logger) }
        defer { for s in stores { try? s.close() } }
        let projects = try (0..<4).map { try stores[0].ensureProject(named: "bench-\($0)").id }
        let run = UUID().uuidString.prefix(8)
        for i in 0..<jobs { try stores[0].createJob(queued("ftjob-bench-\(run)-\(i)", projects[i % 4])) }
        let claimed = ManagedCounter(), failures = ManagedCounter()
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: claimers) { t in
            let worker = "bench/\(t)-\(run)/train-0"
            do {
                while try stores[t].claimNextJob(worker: worker, leaseMilliseconds: 600_000, { j in
                    j.status = .running; j.claimedBy = worker
                    return [JobEventDraft(message: "claimed by \(worker)")]
                }) != nil { claimed.add() }
            } catch {
                BenchSupport.log("claimer \(t): \(error)")
                failures.add()
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard claimed.value == jobs, failures.value == 0 else {
            throw ValidationError("\(claimed.value) of \(jobs) jobs claimed, \(failures.value) claimers failed")
        }
        return Double(jobs) / seconds
    }

    /// One store writes `events` events, one at a time; each is timed from before its write until every watcher has
    /// heard its job's change. Returns the median and 99th percentile in milliseconds.
    private func fanOut(_ directory: String, _ location: DatabaseLocation, watchers: Int, logger: Logger) throws -> (Double, Double) {
        let writer = try Store.open(dataDirectory: directory, database: location, logger: logger)
        let listeners = try (0..<watchers).map { _ in try Store.open(dataDirectory: directory, database: location, logger: logger) }
        defer { try? writer.close(); for s in listeners { try? s.close() } }
        let job = "ftjob-fanout-\(UUID().uuidString.prefix(8))"
        try writer.createJob(queued(job, try writer.ensureProject(named: "bench-0").id))
        let tally = Tally(watchers: watchers)
        var watches: [JobChangeWatch] = []
        for (i, store) in listeners.enumerated() {
            guard let watch = try store.watchJobChanges({ change in
                switch change {
                case .changed(let id) where id == job: tally.update { $0.counts[i] += 1 }
                case .resync: tally.update { $0.ready += 1 }
                default: break
                }
            }) else { throw ValidationError("fan-out needs PostgreSQL") }
            watches.append(watch)
        }
        defer { for w in watches { w.stop() } }
        guard tally.wait(seconds: 30, until: { $0.ready >= watchers }) else { throw ValidationError("the watches did not listen") }
        var latencies: [Double] = []
        for i in 1...events {
            let start = DispatchTime.now().uptimeNanoseconds
            try writer.addEvent(job: job, level: "info", message: "event \(i)", type: "message", data: nil)
            guard tally.wait(seconds: 30, until: { !$0.counts.contains { $0 < i } }) else { throw ValidationError("event \(i) was not heard") }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let sorted = latencies.sorted()
        return (BenchSupport.median(latencies), sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)])
    }
}

/// A counter several threads add to.
private final class ManagedCounter: @unchecked Sendable {
    // @unchecked Sendable: `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// What the fan-out's watches heard: per watcher, how many changes of the job; how many watches listen.
private final class Tally: @unchecked Sendable {
    // @unchecked Sendable: `state` is guarded by `condition`.
    private let condition = NSCondition()
    private var state: (counts: [Int], ready: Int)

    init(watchers: Int) { state = ([Int](repeating: 0, count: watchers), 0) }

    func update(_ change: (inout (counts: [Int], ready: Int)) -> Void) {
        condition.lock(); change(&state); condition.broadcast(); condition.unlock()
    }

    /// Waits up to `seconds` for `predicate`; returns whether it held.
    func wait(seconds: Double, until predicate: ((counts: [Int], ready: Int)) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock(); defer { condition.unlock() }
        while !predicate(state) { if !condition.wait(until: deadline) { return predicate(state) } }
        return true
    }
}
