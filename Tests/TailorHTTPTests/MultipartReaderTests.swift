// MultipartReader over bytes and spooled files: fields and file parts, every chunking, look-alike
// boundaries, bare LF, preamble and epilogue, truncation, limits, and a 64 MB part in bounded memory.
import Foundation
import Testing
@testable import TailorHTTP

@Suite final class MultipartReaderTests {
    let directory = makeTemporaryDirectory()

    deinit { try? FileManager.default.removeItem(atPath: directory) }
    static let boundary = "----TailorBoundary7MA4YWxk"
    static let contentType = "multipart/form-data; boundary=\(boundary)"
    static let fileContent = "{\"messages\":[]}\r\n--not-a-boundary\r\n\r\n--\(boundary)X still content\r\nend"

    static func form(lineBreak: String = "\r\n", preamble: String = "", epilogue: String = "") -> [UInt8] {
        let b = boundary, n = lineBreak
        return Array((preamble + "--\(b)\(n)" +
            "Content-Disposition: form-data; name=\"purpose\"\(n)\(n)" +
            "fine-tune\(n)" +
            "--\(b)\(n)" +
            "Content-Disposition: form-data; name=\"file\"; filename=\"train \\\"1\\\".jsonl\"\(n)" +
            "Content-Type: application/jsonl\(n)\(n)" +
            fileContent + "\(n)" +
            "--\(b)--\(n)" + epilogue).utf8)
    }

    private func reader(chunk: Int = 64 * 1024) throws -> MultipartReader {
        var reader = try MultipartReader(contentType: Self.contentType, spoolDirectory: directory)
        reader.chunkBytes = chunk
        return reader
    }

    private func expectStandardForm(_ form: MultipartForm, sourceLocation: SourceLocation = #_sourceLocation) throws {
        defer { form.removeFiles() }
        #expect(form.parts.count == 2, sourceLocation: sourceLocation)
        #expect(form.part(named: "purpose")?.text == "fine-tune", sourceLocation: sourceLocation)
        let file = try #require(form.part(named: "file"), sourceLocation: sourceLocation)
        #expect(file.filename == "train \"1\".jsonl", sourceLocation: sourceLocation)
        #expect(file.contentType == "application/jsonl", sourceLocation: sourceLocation)
        guard case .file(let path, let count) = file.content else {
            Issue.record("file part should be on disk", sourceLocation: sourceLocation)
            return
        }
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        #expect(stored == Self.fileContent, sourceLocation: sourceLocation)
        #expect(count == Self.fileContent.utf8.count, sourceLocation: sourceLocation)
        #expect(path.hasPrefix(directory), sourceLocation: sourceLocation)
    }

    @Test func readsFieldsAndFileParts() throws {
        try expectStandardForm(try reader().read(bytes: Self.form()))
    }

    @Test func everyChunkSizeGivesTheSameParts() throws {
        // Chunk sizes from 1 byte up cover every place a delimiter can be split across reads.
        for chunk in [1, 2, 3, 5, 7, 13, 31, 64, 100, 257] {
            try expectStandardForm(try reader(chunk: chunk).read(bytes: Self.form()))
        }
    }

    @Test func bareLineFeedsAreAccepted() throws {
        let form = try reader().read(bytes: Self.form(lineBreak: "\n"))
        defer { form.removeFiles() }
        #expect(form.part(named: "purpose")?.text == "fine-tune")
        guard case .file(let path, _)? = form.part(named: "file")?.content else {
            Issue.record("missing file part")
            return
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.fileContent)
    }

    @Test func preambleAndEpilogueAreIgnored() throws {
        try expectStandardForm(try reader(chunk: 3).read(bytes: Self.form(preamble: "This is a preamble.\r\n--almost\r\n",
                                                                         epilogue: "trailing epilogue --\(Self.boundary)\r\n")))
    }

    @Test func missingClosingBoundaryIsAnErrorAndLeavesNoFiles() throws {
        var bytes = Self.form()
        bytes.removeLast(Self.boundary.count + 6)
        #expect(throws: MultipartError.self) { try reader(chunk: 7).read(bytes: bytes) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func emptyBodyIsAnError() throws {
        #expect(throws: MultipartError.self) { try reader().read(bytes: []) }
    }

    @Test func aMissingPartIsForTheCallerToNotice() throws {
        let body = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--\(Self.boundary)--\r\n".utf8)
        let form = try reader().read(bytes: body)
        #expect(form.part(named: "file") == nil)
        #expect(form.part(named: "purpose")?.text == "fine-tune")
    }

    @Test func oversizedFieldIsRejected() throws {
        var reader = try reader()
        reader.maxFieldBytes = 4
        #expect(throws: MultipartError.self) { try reader.read(bytes: Self.form()) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func boundaryComesFromTheContentType() throws {
        #expect(try MultipartReader.boundary(fromContentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(try MultipartReader.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"") == "a b;c")
        #expect(throws: MultipartError.self) { try MultipartReader.boundary(fromContentType: "multipart/form-data") }
        #expect(throws: MultipartError.self) { try MultipartReader.boundary(fromContentType: "application/json; boundary=x") }
        #expect(throws: MultipartError.self) {
            try MultipartReader.boundary(fromContentType: "multipart/form-data; boundary=\(String(repeating: "x", count: 71))")
        }
    }

    @Test func extendedFilenameIsDecoded() throws {
        let body = Array(("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.txt\"; " +
            "filename*=UTF-8''na%C3%AFve.txt\r\n\r\nx\r\n--b--").utf8)
        let form = try MultipartReader(contentType: "multipart/form-data; boundary=b", spoolDirectory: directory).read(bytes: body)
        defer { form.removeFiles() }
        #expect(form.part(named: "file")?.filename == "naïve.txt")
    }

    @Test func a64MegabytePartIsCopiedInBoundedMemory() throws {
        let source = directory + "/upload.multipart"
        FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        handle.write(Data("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n".utf8))
        // Pseudo-random bytes, with CR LF "--" sprinkled in to make the delimiter search work for it;
        // each megabyte is stamped with its index so misplaced or repeated blocks are caught.
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for offset in 0..<block.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            block[offset] = offset % 997 == 0 ? 13 : offset % 997 == 1 ? 10 : offset % 997 < 4 ? 45 : UInt8(truncatingIfNeeded: state >> 56)
        }
        func stamped(_ index: Int) -> Data {
            var copy = block
            copy[500] = UInt8(index)
            return Data(copy)
        }
        for index in 0..<64 { handle.write(stamped(index)) }
        handle.write(Data("\r\n--\(Self.boundary)--\r\n".utf8))
        try handle.close()

        let reader = try reader()
        let file = try FileDescriptor.openForReading(source)
        var chunk = [UInt8](repeating: 0, count: reader.chunkBytes)
        let (form, peak) = try reader.read { feed in
            while true {
                let count = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
                if count == 0 { return }
                try chunk.withUnsafeBytes { try feed(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            }
        }
        defer { form.removeFiles() }
        #expect(peak < 2 * reader.chunkBytes, "the parser's buffer must not grow with the part")
        guard case .file(let path, let count)? = form.part(named: "file")?.content else {
            Issue.record("missing file part")
            return
        }
        #expect(count == 64 << 20)
        let copy = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        for index in 0..<64 {
            #expect(try copy.read(upToCount: 1 << 20) == stamped(index), "megabyte \(index) differs")
        }
        try copy.close()
        // The public entry point over the same file gives the same part.
        let viaFile = try reader.read(file: source)
        defer { viaFile.removeFiles() }
        if case .file(_, let size)? = viaFile.part(named: "file")?.content { #expect(size == 64 << 20) }
    }

    @Test func uploadThroughTheServerIsSpooledThenParsed() throws {
        let spool = directory
        let server = try TestServer(responder: TestResponder(prepare: { _ in .spool(limit: 1 << 30) }) { request in
            guard case .file(let path, _) = request.body,
                  let contentType = request.head.headers["Content-Type"],
                  let form = try? MultipartReader(contentType: contentType, spoolDirectory: spool).read(file: path) else {
                return .error(status: 400, message: "bad form")
            }
            defer { form.removeFiles() }
            guard case .file(let partPath, let count)? = form.part(named: "file")?.content else {
                return .error(status: 400, message: "missing file")
            }
            let text = (try? String(contentsOfFile: partPath, encoding: .utf8)) ?? ""
            return .text("\(form.part(named: "purpose")?.text ?? "-") \(count) \(text == Self.fileContent)")
        })
        let client = try server.client()
        let body = Self.form()
        try client.send("POST /v1/files HTTP/1.1\r\nHost: t\r\nContent-Type: \(Self.contentType)\r\nContent-Length: \(body.count)\r\n\r\n")
        try client.send(body)
        #expect(try client.readResponse().text == "fine-tune \(Self.fileContent.utf8.count) true")
    }
}
