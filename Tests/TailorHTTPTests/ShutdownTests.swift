// Graceful shutdown over real sockets: in-flight responses are delivered, new connections are refused,
// open streams get their grace period, and run() returns.
import Foundation
import Testing
@testable import TailorHTTP

@Suite struct ShutdownTests {
    @Test func inFlightSlowHandlerStillAnswersAfterShutdown() throws {
        let entered = DispatchSemaphore(value: 0)
        let server = try TestServer { _ in
            entered.signal()
            Thread.sleep(forTimeInterval: 0.5)
            return .text("slow but delivered")
        }
        let busy = try server.client()
        let idle = try server.client()
        try idle.send("GET /warm HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try idle.readResponse()
        _ = entered.wait(timeout: .now() + 1)

        try busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(entered.wait(timeout: .now() + 5) == .success)
        server.server.shutdown()
        Thread.sleep(forTimeInterval: 0.1)

        #expect(throws: ClientError.self, "the listener is closed: new connections are refused") {
            _ = try server.client()
        }
        #expect(idle.waitForClose(), "idle keep-alive connections are closed at once")
        let response = try busy.readResponse()
        #expect(response.text == "slow but delivered")
        #expect(response.headers["Connection"] == "close")
        #expect(busy.waitForClose())
        #expect(server.waitUntilStopped(timeout: 5), "run() returns once the last connection is gone")
    }

    @Test func openStreamsAreClosedAfterTheGracePeriod() throws {
        let closed = DispatchSemaphore(value: 0)
        let server = try TestServer(configure: { $0.streamShutdownGrace = 0.3 }) { _ in
            .eventStream { stream in
                stream.onClose { closed.signal() }
                while stream.writeComment() { Thread.sleep(forTimeInterval: 0.02) }
            }
        }
        let client = try server.client()
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        let started = Date()
        server.server.shutdown()
        #expect(closed.wait(timeout: .now() + 5) == .success)
        #expect(server.waitUntilStopped(timeout: 5))
        let took = Date().timeIntervalSince(started)
        #expect(took >= 0.25 && took < 3, "streams get the grace period, no less and not much more")
    }

    @Test func streamThatFinishesWithinTheGraceIsDeliveredWhole() throws {
        let server = try TestServer(configure: { $0.streamShutdownGrace = 5 }) { _ in
            HTTPResponse(body: .stream { stream in
                for index in 0..<5 {
                    Thread.sleep(forTimeInterval: 0.05)
                    stream.write("\(index)")
                }
                stream.finish()
            })
        }
        let client = try server.client()
        try client.send("GET /s HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.02)
        server.server.shutdown()
        let response = try client.readResponse()
        #expect(response.text == "01234")
        #expect(server.waitUntilStopped(timeout: 5))
    }

    @Test func shutdownBeforeRunStillLetsRunReturn() throws {
        var configuration = HTTPServerConfiguration(spoolDirectory: NSTemporaryDirectory())
        configuration.port = 0
        let server = HTTPServer(configuration: configuration, responder: TestResponder { _ in .text("x") },
                                logger: quietLogger())
        _ = try server.start()
        server.shutdown()
        let done = DispatchSemaphore(value: 0)
        Thread { server.run(); done.signal() }.start()
        #expect(done.wait(timeout: .now() + 5) == .success)
    }

    @Test func startedButNeverRunServerReleasesItsPortWhenDropped() throws {
        var configuration = HTTPServerConfiguration(spoolDirectory: NSTemporaryDirectory())
        configuration.port = 0
        var server: HTTPServer? = HTTPServer(configuration: configuration,
                                             responder: TestResponder { _ in .text("x") }, logger: quietLogger())
        let port = try server!.start()
        server?.shutdown()
        server = nil
        configuration.port = port
        let again = HTTPServer(configuration: configuration, responder: TestResponder { _ in .text("x") },
                               logger: quietLogger())
        #expect(try again.start() == port, "the first server's listener was closed in deinit")
    }

    @Test func sigtermStartsAGracefulShutdownWhenEnabled() throws {
        // Only this test raises a signal, and only with handling enabled, so no other test sees it.
        let server = try TestServer(configure: { $0.handleSignals = true }) { _ in .text("x") }
        let client = try server.client()
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readResponse()
        kill(getpid(), SIGTERM)
        #expect(server.waitUntilStopped(timeout: 5))
    }

    @Test func portInUseIsATypedError() throws {
        let first = try TestServer { _ in .text("x") }
        var configuration = HTTPServerConfiguration(spoolDirectory: NSTemporaryDirectory())
        configuration.port = first.port
        let second = HTTPServer(configuration: configuration, responder: TestResponder { _ in .text("x") },
                                logger: quietLogger())
        let error = try #require(throws: HTTPServerError.self) { try second.start() }
        #expect(error.code == -EADDRINUSE)
        #expect(error.description.contains("address already in use"))
    }

    @Test func invalidConfigurationIsRejectedAtStart() throws {
        var configuration = HTTPServerConfiguration(spoolDirectory: "/nonexistent/tailor-spool")
        configuration.port = 0
        let server = HTTPServer(configuration: configuration, responder: TestResponder { _ in .text("x") },
                                logger: quietLogger())
        let error = try #require(throws: HTTPServerError.self) { try server.start() }
        #expect(error.description.contains("spoolDirectory"))
        var threads = HTTPServerConfiguration(spoolDirectory: NSTemporaryDirectory())
        threads.handlerThreads = 0
        #expect(throws: HTTPServerError.self) {
            try HTTPServer(configuration: threads, responder: TestResponder { _ in .text("x") }, logger: quietLogger()).start()
        }
    }

    @Test func lifecycleTransitions() {
        #expect(ServerState.created.after(.bound) == .listening)
        #expect(ServerState.created.after(.runStarted) == nil)
        #expect(ServerState.listening.after(.runStarted) == .running)
        #expect(ServerState.running.after(.shutdownRequested(now: 100, graceMillis: 50)) == .draining(graceDeadline: 150))
        #expect(ServerState.draining(graceDeadline: 1).after(.shutdownRequested(now: 5, graceMillis: 5)) == nil)
        #expect(ServerState.running.after(.lastConnectionClosed) == nil)
        #expect(ServerState.draining(graceDeadline: 1).after(.lastConnectionClosed) == .stopped)
        #expect(ServerState.running.isStopping == false && ServerState.stopped.isStopping)
    }
}
