// A real HTTPServer on 127.0.0.1 port 0, run on its own thread, with a closure-built responder.
// Tests own its lifetime: stop() shuts it down and waits until run() has returned.
import Foundation
import Logging
@testable import TailorHTTP

struct TestResponder: HTTPResponder {
    var prepare: @Sendable (HTTPRequestHead) -> BodyDisposition = { _ in .buffer(limit: 1 << 20) }
    var inline: @Sendable (HTTPRequestHead) -> Bool = { _ in false }
    var respond: @Sendable (HTTPRequest) -> HTTPResponse

    func prepare(_ head: HTTPRequestHead) -> Preparation { Preparation(prepare(head), inline: inline(head)) }
    func respond(to request: HTTPRequest) -> HTTPResponse { respond(request) }
}

/// A fresh empty directory under the system temp directory.
func makeTemporaryDirectory() -> String {
    var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("tailor-http-test-XXXXXX").utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    return path
}

func quietLogger() -> Logger {
    var logger = Logger(label: "tailor-http-test")
    logger.logLevel = .critical
    return logger
}

final class TestServer: @unchecked Sendable {
    let server: HTTPServer
    let port: Int
    let spoolDirectory: String
    private let stopped = DispatchSemaphore(value: 0)
    private var didStop = false

    init(configure: (inout HTTPServerConfiguration) -> Void = { _ in }, responder: any HTTPResponder) throws {
        spoolDirectory = makeTemporaryDirectory()
        var configuration = HTTPServerConfiguration(spoolDirectory: spoolDirectory)
        configuration.port = 0
        configuration.handlerThreads = 2
        configure(&configuration)
        server = HTTPServer(configuration: configuration, responder: responder, logger: quietLogger())
        port = try server.start()
        let server = self.server
        let stopped = self.stopped
        Thread {
            setCurrentThreadName("test-http-loop")
            server.run()
            stopped.signal()
        }.start()
    }

    convenience init(configure: (inout HTTPServerConfiguration) -> Void = { _ in },
                     respond: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws {
        try self.init(configure: configure, responder: TestResponder(respond: respond))
    }

    func client(timeout: Double = 5) throws -> RawClient { try RawClient(port: port, timeout: timeout) }

    /// Asks for shutdown; true once run() returned within `timeout` seconds.
    @discardableResult
    func stop(timeout: Double = 10) -> Bool {
        if didStop { return true }
        server.shutdown()
        didStop = stopped.wait(timeout: .now() + timeout) == .success
        return didStop
    }

    /// Waits for a shutdown started elsewhere.
    func waitUntilStopped(timeout: Double) -> Bool {
        if didStop { return true }
        didStop = stopped.wait(timeout: .now() + timeout) == .success
        return didStop
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: spoolDirectory)
    }

    /// Files currently in the spool directory.
    func spooledFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: spoolDirectory)) ?? []
    }
}

/// A simple echo: method, path and body length, as text.
let echoResponder: @Sendable (HTTPRequest) -> HTTPResponse = { request in
    var body = "\(request.head.method) \(request.head.target) \(request.body.count)"
    if case .bytes(let bytes) = request.body { body += " " + String(decoding: bytes, as: UTF8.self) }
    return .text(body)
}

/// The OS name of the calling thread, as the kernel reports it.
func currentThreadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .newlines)
}
