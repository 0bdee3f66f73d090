// RequestParser (libhttp-parser wrapped) fed the same bytes twice: whole, and in fuzzer-chosen pieces, the way
// Connection feeds it (reset after each complete message, the rest of the buffer goes to the next request).
// Checks: no crash, `consumed` within the chunk, and the two feeds agree on every head, body and message unless
// the header limit was hit (its accounting is per read, so it may trip at a different byte).
//
// Input layout: byte 0 = piece-length seed; the rest is the byte stream.
import FuzzSupport
@testable import TailorHTTP

final class Recorder: RequestParserDelegate {
    var events: [String] = []
    var body: [UInt8] = []
    let stopOnSpool: Bool
    init(stopOnSpool: Bool) { self.stopOnSpool = stopOnSpool }

    func parserDidCompleteHead(_ head: ParsedHead) -> HeadDecision {
        require(head.contentLength.map { $0 >= 0 } ?? true, "negative content length")
        events.append("head \(head.method) \(head.target.debugDescription) \(head.version) keepAlive=\(head.keepAlive) "
                      + "length=\(String(describing: head.contentLength)) chunked=\(head.chunked) \(head.headers)")
        // Like a .reject disposition: some requests stop after the head.
        if stopOnSpool && head.target.hasPrefix("/reject") { return .abort }
        return .readBody
    }
    func parserDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        body.append(contentsOf: bytes)
        return body.count <= 4096
    }
    func parserDidCompleteMessage() {
        events.append("message body=\(body.count) \(body.hashValue)")
        body = []
    }
}

/// Feeds `stream` in pieces of the given lengths (cycled); returns events and how the parse ended.
func parse(_ stream: UnsafeRawBufferPointer, pieces: [Int]) -> (events: [String], end: String, tooLarge: Bool) {
    let recorder = Recorder(stopOnSpool: true)
    let parser = RequestParser(maxHeaderBytes: 1024)
    parser.delegate = recorder
    var offset = 0
    var piece = 0
    var tooLarge = false
    while offset < stream.count {
        let length = min(stream.count - offset, max(1, pieces.isEmpty ? stream.count : pieces[piece % pieces.count]))
        piece += 1
        var chunk = UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + length)])
        offset += length
        while !chunk.isEmpty {
            let outcome = parser.feed(chunk)
            switch outcome {
            case .needMore:
                chunk = UnsafeRawBufferPointer(start: nil, count: 0)
            case .messageComplete(let consumed):
                require(consumed >= 0 && consumed <= chunk.count, "consumed \(consumed) of a \(chunk.count)-byte chunk")
                parser.reset()
                chunk = UnsafeRawBufferPointer(rebasing: chunk[consumed...])
            case .aborted:
                return (recorder.events, "aborted", tooLarge)
            case .headerTooLarge:
                tooLarge = true
                return (recorder.events, "headerTooLarge", tooLarge)
            case .malformed(let why):
                return (recorder.events, "malformed \(why)", tooLarge)
            }
        }
    }
    return (recorder.events, parser.endedMidRequest ? "cut short" : "clean", tooLarge)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var seed = UInt32(input[0]) | 0x100
    var pieces: [Int] = []
    for _ in 0..<8 {
        seed = seed &* 1_103_515_245 &+ 12345
        pieces.append(Int((seed >> 16) % 64) + 1)
    }
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])
    let whole = parse(stream, pieces: [])
    let split = parse(stream, pieces: pieces)
    let bytewise = parse(stream, pieces: [1])
    if !whole.tooLarge && !split.tooLarge && !bytewise.tooLarge {
        require(whole.events == split.events && whole.end == split.end,
                     "whole and split feeds disagree:\n\(whole)\n\(split)")
        require(whole.events == bytewise.events && whole.end == bytewise.end,
                     "whole and byte-by-byte feeds disagree:\n\(whole)\n\(bytewise)")
    }
    return 0
}
