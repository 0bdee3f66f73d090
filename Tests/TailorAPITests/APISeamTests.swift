// The API behind a real server on port 0: each request matched and authenticated once, in prepare, with that
// decision used by respond; unknown URLs 404 under every method even beside the dashboard's catch-all; rejected
// requests in the request log like answered ones.
import Foundation
import Logging
import Synchronization
import Testing
import TailorHTTP
import TailorJobs
import TailorStore
@testable import TailorAPI

/// Counts prepare and handle per request id, and what handle found in the context.
private final class Counter: Middleware, @unchecked Sendable {
    // @unchecked Sendable: every field is a Mutex.
    let prepares = Mutex<[String: Int]>([:])
    let handles = Mutex<[String: Int]>([:])
    let callers = Mutex<[String]>([])

    func prepare(_ head: HTTPRequestHead, _ context: inout RequestContext) -> HTTPResponse? {
        prepares.withLock { $0[head.requestID, default: 0] += 1 }
        return nil
    }

    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        handles.withLock { $0[request.head.requestID, default: 0] += 1 }
        let caller = context[Caller.self]?.keyID ?? "none"
        callers.withLock { $0.append(caller) }
        return next(request, &context)
    }
}

/// Keeps every log line's message and metadata, so a test can read the request log.
private struct CapturingLog: LogHandler {
    let lines: Arc
    final class Arc: Sendable { let value = Mutex<[[String: String]]>([]) }
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        var fields = ["message": "\(message)"]
        for (k, v) in self.metadata.merging(metadata ?? [:], uniquingKeysWith: { $1 }) { fields[k] = "\(v)" }
        lines.value.withLock { $0.append(fields) }
    }
}

private final class LiveAPI: @unchecked Sendable {
    // @unchecked Sendable: set up once in init, then only read.
    let directory: String
    let store: Store
    let server: HTTPServer
    let port: Int
    let secret: String
    let counter = Counter()
    let log = CapturingLog.Arc()
    let api: API
    private let stopped = DispatchSemaphore(value: 0)

    init() throws {
        directory = NSTemporaryDirectory() + "tailor-api-test-" + UUID().uuidString
        let publicDirectory = directory + "/public"
        try FileManager.default.createDirectory(atPath: publicDirectory, withIntermediateDirectories: true)
        try Data("<!doctype html>".utf8).write(to: URL(fileURLWithPath: publicDirectory + "/index.html"))
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        store = try Store.open(dataDirectory: directory + "/data", logger: quiet)
        secret = try store.createKey(project: "default", name: "test", admin: true).secret
        let registry = try ModelRegistry(store: store, modelPaths: [], logger: quiet)
        let gate = ComputeGate()
        let events = JobEvents(store: store, logger: quiet)
        let runner = JobRunner(store: store, registry: registry, gate: gate, events: events,
                               speed: TrainingSpeed(dataDirectory: store.dataDirectory, sgemmGFLOPS: 10), workers: 1, logger: quiet)
        let log = self.log
        let services = Services(store: store, registry: registry, runner: runner, inference: InferenceService(gate: gate, logger: quiet),
                                events: events, limits: APILimits(), version: "test", publicDirectory: publicDirectory,
                                logger: Logger(label: "http") { _ in CapturingLog(lines: log) })
        var config = HTTPServerConfiguration(spoolDirectory: store.temporaryDirectory)
        config.port = 0
        config.handlerThreads = 2
        api = API(services: services, middleware: [counter])
        server = HTTPServer(configuration: config, responder: api, logger: quiet)
        port = try server.start()
        let server = self.server, stopped = self.stopped
        Thread { server.run(); stopped.signal() }.start()
    }

    deinit {
        server.shutdown()
        _ = stopped.wait(timeout: .now() + 10)
        try? store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One request on its own connection (Connection: close), read to the end.
    func send(_ method: String, _ target: String, key: Bool = true, body: String? = nil) throws -> (status: Int, headers: String, body: [String: Any]) {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        if key { text += "Authorization: Bearer \(secret)\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        let reply = try exchange(Array(text.utf8), port: port)
        let split = reply.range(of: "\r\n\r\n")!
        let head = String(reply[..<split.lowerBound])
        let status = Int(head.split(separator: " ")[1])!
        let json = (try? JSONSerialization.jsonObject(with: Data(reply[split.upperBound...].utf8))) as? [String: Any] ?? [:]
        return (status, head, json)
    }

    func requestLog() -> [[String: String]] { log.value.withLock { $0 }.filter { $0["message"] == "request" } }
}

/// Writes `bytes` to 127.0.0.1:port and reads until the server closes.
private func exchange(_ bytes: [UInt8], port: Int) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw APIError(.server, "connect failed") }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        reply += chunk[..<count]
    }
    return String(decoding: reply, as: UTF8.self)
}

@Suite(.serialized) struct APISeamTests {
    @Test func aRequestIsPreparedOnceAndRespondUsesThatDecision() throws {
        let api = try LiveAPI()
        for _ in 0..<3 {
            let r = try api.send("GET", "/v1/files")
            #expect(r.status == 200, "\(r.body)")
        }
        let prepares = api.counter.prepares.withLock { $0 }, handles = api.counter.handles.withLock { $0 }
        #expect(prepares.count == 3 && prepares.values.allSatisfy { $0 == 1 })
        #expect(handles == prepares)
        // The caller found in prepare is the one the handler's side of the chain sees.
        let keyID = try #require(try api.store.authenticate(secret: api.secret)).keyID
        #expect(api.counter.callers.withLock { $0 } == [keyID, keyID, keyID])
    }

    /// The key is checked in prepare and nowhere after: revoked between the two, the prepared request still runs.
    @Test func respondDoesNotAuthenticateAgain() throws {
        let live = try LiveAPI()
        let head = HTTPRequestHead(method: "GET", target: "/v1/files", headers: ["Authorization": "Bearer \(live.secret)"])
        let preparation = live.api.prepare(head)
        guard case .buffer = preparation.disposition else {
            Issue.record("prepare refused a valid key")
            return
        }
        let keyID = try #require(try live.store.authenticate(secret: live.secret)).keyID
        try live.store.revokeKey(id: keyID)
        let response = live.api.respond(to: HTTPRequest(head: head, prepared: preparation.prepared))
        #expect(response.status == 200)
        #expect(live.counter.callers.withLock { $0 } == [keyID])
        // A request that skipped prepare is prepared by respond itself, once: the revoked key is refused.
        #expect(live.api.respond(to: HTTPRequest(head: head)).status == 401)
    }

    @Test func unknownURLsAre404UnderEveryMethodBesideTheDashboard() throws {
        let api = try LiveAPI()
        for (method, path) in [("POST", "/v1/responses"), ("POST", "/v1/embeddings"), ("GET", "/v1/responses"),
                               ("DELETE", "/nothing/here"), ("PATCH", "/v1/files/x/y/z")] {
            let r = try api.send(method, path, body: method == "POST" ? "{}" : nil)
            #expect(r.status == 404, "\(method) \(path)")
            let error = try #require(r.body["error"] as? [String: Any], "\(method) \(path)")
            #expect(error["code"] as? String == "unknown_url")
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["param"] is NSNull)
            #expect(error["message"] as? String == "Unknown request URL: \(method) \(path). Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.")
        }
        let put = try api.send("PUT", "/v1/files")
        #expect(put.status == 405)
        #expect(put.headers.lowercased().contains("allow: get, post, head") || put.headers.lowercased().contains("allow: post, get, head"))
        #expect(try api.send("GET", "/").status == 200)
    }

    @Test func rejectedRequestsAreLoggedAndCountedLikeAnsweredOnes() throws {
        let api = try LiveAPI()
        #expect(try api.send("POST", "/v1/responses", body: "{}").status == 404)
        #expect(try api.send("PUT", "/v1/files").status == 405)
        #expect(try api.send("GET", "/v1/files", key: false).status == 401)
        #expect(try api.send("GET", "/v1/models").status == 200)
        let lines = api.requestLog()
        let seen = lines.map { "\($0["method"] ?? "") \($0["path"] ?? "") \($0["status"] ?? "")" }
        #expect(seen == ["POST /v1/responses 404", "PUT /v1/files 405", "GET /v1/files 401", "GET /v1/models 200"])
        #expect(lines.allSatisfy { $0["request_id"]?.hasPrefix("req_") == true && $0["duration_ms"] != nil })
        // Rejections never reach the handler, and the key of a 401 was checked once, in prepare.
        #expect(api.counter.prepares.withLock { $0 }.count == 1)
        let metrics = try exchange(Array("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer \(api.secret)\r\n\r\n".utf8), port: api.port)
        #expect(metrics.contains(#"tailor_http_requests_total{route="unmatched",method="POST",status="404"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"tailor_http_requests_total{route="/v1/files",method="GET",status="401"} 1"#))
    }
}
