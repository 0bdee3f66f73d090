// The wrk benchmark from the performance goal, as an opt-in test: an inline GET /healthz served from one
// loop thread. Skipped unless TAILOR_HTTP_BENCH=1; scripts/bench-http.sh runs it in release and reports.
import Foundation
import Testing
@testable import TailorHTTP

private let benchEnabled = ProcessInfo.processInfo.environment["TAILOR_HTTP_BENCH"] == "1"

@Suite struct BenchmarkTests {
    static let healthBody = Array(#"{"status":"ok"}"#.utf8)

    @Test(.enabled(if: benchEnabled, "set TAILOR_HTTP_BENCH=1 to run the wrk benchmark"))
    func healthzThroughput() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["TAILOR_HTTP_BENCH_SECONDS"] ?? "10"
        let connections = environment["TAILOR_HTTP_BENCH_CONNECTIONS"] ?? "64"
        let responder = TestResponder(prepare: { _ in .buffer(limit: 0) }, inline: { $0.path == "/healthz" }) { request in
            request.head.path == "/healthz" ? .json(bytes: Self.healthBody) : .notFound(request.head)
        }
        let server = try TestServer(configure: { $0.handlerThreads = 4 }, responder: responder)

        let wrk = Process()
        wrk.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        wrk.arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency", "http://127.0.0.1:\(server.port)/healthz"]
        let output = Pipe()
        wrk.standardOutput = output
        try wrk.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        wrk.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        print(text)
        #expect(wrk.terminationStatus == 0)
        #expect(!text.contains("Non-2xx"), "every response must be a 200")
        #expect(!text.contains("Socket errors"), "no connect, read, write or timeout errors")
        let rate = text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        #expect(rate > 0)
        if let path = environment["TAILOR_HTTP_BENCH_OUTPUT"] {
            FileManager.default.createFile(atPath: path, contents: data)
        }
        #expect(server.stop())
    }
}
