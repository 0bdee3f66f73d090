// RequestParser on its own: the same request fed whole, split at every byte boundary, or pipelined
// must give the same head and body; limits and malformed input surface as outcomes.
import Testing
@testable import TailorHTTP

/// Records what the parser reports, one entry per message.
private final class Recorder: RequestParserDelegate {
    var heads: [ParsedHead] = []
    var bodies: [[UInt8]] = []
    var completed = 0

    func parserDidCompleteHead(_ head: ParsedHead) -> HeadDecision {
        heads.append(head)
        bodies.append([])
        return .readBody
    }

    func parserDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bodies[bodies.count - 1].append(contentsOf: bytes)
        return true
    }

    func parserDidCompleteMessage() { completed += 1 }
}

/// Feeds `bytes` in the given pieces, resetting after each message the way a connection does.
private func parse(_ pieces: [[UInt8]], maxHeaderBytes: Int = 16 * 1024) -> (Recorder, [ParseOutcome]) {
    let recorder = Recorder()
    let parser = RequestParser(maxHeaderBytes: maxHeaderBytes)
    parser.delegate = recorder
    var outcomes: [ParseOutcome] = []
    for piece in pieces {
        var rest = piece[...]
        while !rest.isEmpty {
            let outcome = rest.withUnsafeBytes { parser.feed($0) }
            outcomes.append(outcome)
            switch outcome {
            case .messageComplete(let consumed):
                rest = rest.dropFirst(consumed)
                parser.reset()
            case .needMore:
                rest = []
            default:
                return (recorder, outcomes)
            }
        }
    }
    return (recorder, outcomes)
}

@Suite struct RequestParserTests {
    static let request = Array(("POST /v1/files?purpose=fine-tune HTTP/1.1\r\nHost: example\r\n" +
        "Content-Type: text/plain\r\nX-Multi: a\r\nx-multi:  b  \r\nContent-Length: 11\r\n\r\nhello world").utf8)
    static let chunked = Array(("PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n").utf8)

    private func expectWholeRequest(_ recorder: Recorder, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(recorder.heads.count == 1, sourceLocation: sourceLocation)
        #expect(recorder.completed == 1, sourceLocation: sourceLocation)
        guard let head = recorder.heads.first else { return }
        #expect(head.method == "POST", sourceLocation: sourceLocation)
        #expect(head.target == "/v1/files?purpose=fine-tune", sourceLocation: sourceLocation)
        #expect(head.headers["host"] == "example", sourceLocation: sourceLocation)
        #expect(head.headers.values("X-MULTI") == ["a", "b"], sourceLocation: sourceLocation)
        #expect(head.contentLength == 11 && !head.chunked && head.keepAlive, sourceLocation: sourceLocation)
        #expect(recorder.bodies == [Array("hello world".utf8)], sourceLocation: sourceLocation)
    }

    @Test func wholeRequest() {
        let (recorder, outcomes) = parse([Self.request])
        expectWholeRequest(recorder)
        #expect(outcomes == [.messageComplete(consumed: Self.request.count)])
    }

    @Test func splitAtEveryByteBoundaryGivesTheSameRequest() {
        for split in 1..<Self.request.count {
            let (recorder, _) = parse([Array(Self.request[..<split]), Array(Self.request[split...])])
            expectWholeRequest(recorder)
        }
    }

    @Test func oneByteAtATimeGivesTheSameRequest() {
        let (recorder, _) = parse(Self.request.map { [$0] })
        expectWholeRequest(recorder)
    }

    @Test func chunkedBodySplitAtEveryByteBoundary() {
        for split in 1..<Self.chunked.count {
            let (recorder, _) = parse([Array(Self.chunked[..<split]), Array(Self.chunked[split...])])
            #expect(recorder.heads.first?.chunked == true)
            #expect(recorder.bodies == [Array("Wikipedia in\r\n\r\nchunks.".utf8)])
            #expect(recorder.completed == 1)
        }
    }

    @Test func pipelinedRequestsStopAfterEachMessage() {
        let three = Self.request + Array("GET /two HTTP/1.1\r\nHost: t\r\n\r\n".utf8) + Self.chunked
        let (recorder, outcomes) = parse([three])
        #expect(recorder.heads.map(\.target) == ["/v1/files?purpose=fine-tune", "/two", "/c"])
        #expect(outcomes.first == .messageComplete(consumed: Self.request.count))
        #expect(recorder.completed == 3)
    }

    @Test func http10DefaultsToClose() {
        let (recorder, _) = parse([Array("GET / HTTP/1.0\r\n\r\n".utf8)])
        #expect(recorder.heads.first?.keepAlive == false)
        #expect(recorder.heads.first?.version == .http1_0)
    }

    @Test func headerLimitIsEnforcedEvenWhenBytesArriveSlowly() {
        let big = Array("GET / HTTP/1.1\r\nHost: t\r\nX: \(String(repeating: "v", count: 600))\r\n\r\n".utf8)
        let (_, outcomes) = parse(big.map { [$0] }, maxHeaderBytes: 512)
        #expect(outcomes.last == .headerTooLarge)
    }

    @Test func malformedInputIsReported() {
        let (_, outcomes) = parse([Array("GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n".utf8)])
        guard case .malformed(let reason)? = outcomes.last else {
            Issue.record("expected malformed, got \(outcomes)")
            return
        }
        #expect(!reason.isEmpty)
    }
}
