// `tailor bench http`: wrk against a real `tailor serve` (this binary) on loopback — GET /healthz (answered on the loop
// thread) and GET /v1/files/{id} (a handler thread, an authenticated SQLite read) — three runs each, medians.
import ArgumentParser
import Foundation

struct BenchHTTP: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "Requests/s and p99 latency with wrk.")
    @Option var connections = 64
    @Option var seconds = 10
    @Option var runs = 3
    @Flag var json = false

    func run() throws {
        let dir = NSTemporaryDirectory() + "tailor-bench-http-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = "sk-bench-0123456789abcdef"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        server.arguments = ["serve", "--data", dir, "--port", "0", "--api-key", key, "--log-level", "error"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var port = 0
        var buffer = ""
        while port == 0 {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw ValidationError("the server did not start") }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let r = buffer.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(buffer[r].split(separator: ":").last!)!
            }
        }
        let base = "http://127.0.0.1:\(port)"
        let jsonl = dir + "/bench.jsonl"
        try Data(#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}"#.utf8).write(to: URL(fileURLWithPath: jsonl))
        let upload = try Self.capture("/usr/bin/curl", ["-s", base + "/v1/files", "-H", "Authorization: Bearer \(key)",
                                                        "-F", "purpose=fine-tune", "-F", "file=@\(jsonl)"])
        guard let id = (try JSONSerialization.jsonObject(with: Data(upload.utf8)) as? [String: Any])?["id"] as? String else {
            throw ValidationError("upload failed: \(upload)")
        }
        var results: [String: Any] = ["connections": connections, "seconds": seconds, "runs": runs,
                                      "command": "wrk -t2 -c\(connections) -d\(seconds)s --latency [-H 'Authorization: Bearer …'] URL"]
        for (name, path, auth) in [("healthz", "/healthz", false), ("file", "/v1/files/\(id)", true)] {
            var rps: [Double] = [], p99: [Double] = [], p50: [Double] = []
            for _ in 0..<runs {
                var args = ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency"]
                if auth { args += ["-H", "Authorization: Bearer \(key)"] }
                let text = try Self.capture("/usr/bin/wrk", args + [base + path])
                rps.append(Self.number(after: "Requests/sec:", in: text))
                p99.append(Self.latencyMs(after: "99%", in: text))
                p50.append(Self.latencyMs(after: "50%", in: text))
                BenchSupport.log("\(name): \(rps.last!) requests/s, p99 \(p99.last!) ms")
            }
            results["\(name)_requests_per_s"] = BenchSupport.round(BenchSupport.median(rps), 0)
            results["\(name)_p99_ms"] = BenchSupport.round(BenchSupport.median(p99), 2)
            results["\(name)_p50_ms"] = BenchSupport.round(BenchSupport.median(p50), 2)
        }
        BenchSupport.emit(results, json: json)
    }

    static func capture(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func number(after label: String, in text: String) -> Double {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(label) }) else { return 0 }
        return Double(line.split(separator: " ").last.map(String.init) ?? "") ?? 0
    }

    /// wrk prints latencies as 812.00us, 1.23ms or 1.02s.
    static func latencyMs(after label: String, in text: String) -> Double {
        guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }),
              let v = line.split(separator: " ").last else { return 0 }
        let s = String(v)
        if s.hasSuffix("us") { return (Double(s.dropLast(2)) ?? 0) / 1000 }
        if s.hasSuffix("ms") { return Double(s.dropLast(2)) ?? 0 }
        if s.hasSuffix("s") { return (Double(s.dropLast(1)) ?? 0) * 1000 }
        return Double(s) ?? 0
    }
}
