// MultipartReader/MultipartParser on hostile bodies, fed whole, in fuzzer-chosen pieces and byte by byte (the
// chunking a spooled upload gets from disk reads). Checks: no crash, every feeding gives the same parts (names,
// filenames, content types, field bytes, file bytes) or the same error, and no temporary file is left behind.
//
// Input layout: byte 0 = piece-length seed; then the Content-Type header value up to the first "\n"; then the body.
import FuzzSupport
import Foundation
@testable import TailorHTTP

let spool: String = {
    let path = NSTemporaryDirectory() + "/tailor-fuzz-multipart-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

struct Summary: Equatable {
    var parts: [String] = []
    var error: String?
}

/// The file's bytes with plain POSIX reads: FileManager.contents(atPath:) leaked a 4 KB buffer now and then
/// (LeakSanitizer, inside FoundationEssentials.readBytesFromFile), which is not Tailor's to fix.
func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return out }
        out += chunk[0..<n]
    }
}

func summarize(_ reader: MultipartReader, _ body: [UInt8], pieces: [Int]) -> Summary {
    var summary = Summary()
    do {
        let (form, _) = try reader.read(source: { feed in
            try body.withUnsafeBytes { all in
                var offset = 0, piece = 0
                while offset < all.count {
                    let length = min(all.count - offset, max(1, pieces.isEmpty ? all.count : pieces[piece % pieces.count]))
                    piece += 1
                    try feed(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)]))
                    offset += length
                }
            }
        })
        defer { form.removeFiles() }
        for part in form.parts {
            var line = "name=\(String(describing: part.name)) filename=\(String(describing: part.filename)) "
                + "type=\(String(describing: part.contentType)) headers=\(part.headers) "
            switch part.content {
            case .bytes(let bytes):
                require(bytes.count <= reader.maxFieldBytes, "field over its limit")
                line += "bytes=\(bytes)"
            case .file(let path, let count):
                require(path.hasPrefix(spool), "file part outside the spool directory: \(path)")
                let stored = readFile(path)
                require(stored.count == count, "file part says \(count) bytes, has \(stored.count)")
                line += "file=\(stored)"
            }
            summary.parts.append(line)
        }
        require(form.parts.count <= reader.maxParts, "more parts than maxParts")
    } catch {
        summary.error = "\(error)"
    }
    return summary
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var seed = UInt32(input[0]) | 0x100
    var pieces: [Int] = []
    for _ in 0..<8 {
        seed = seed &* 1_103_515_245 &+ 12345
        pieces.append(Int((seed >> 16) % 80) + 1)
    }
    let rest = input[1...]
    let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
    let contentType = String(decoding: rest[..<newline], as: UTF8.self)
    let body = Array(rest[min(newline + 1, rest.endIndex)...])
    guard var reader = try? MultipartReader(contentType: contentType, spoolDirectory: spool) else { return 0 }
    reader.maxFieldBytes = 256
    reader.maxParts = 8
    reader.maxPartHeaderBytes = 512
    let whole = summarize(reader, body, pieces: [])
    let split = summarize(reader, body, pieces: pieces)
    let bytewise = summarize(reader, body, pieces: [1])
    require(whole == split, "whole and split reads disagree:\n\(whole)\n\(split)")
    require(whole == bytewise, "whole and byte-by-byte reads disagree:\n\(whole)\n\(bytewise)")
    let left = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
    require(left.isEmpty, "temporary files left behind: \(left)")
    return 0
}
