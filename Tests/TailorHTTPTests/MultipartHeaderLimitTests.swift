// The part-header limit does not depend on how the body is chunked (found by Fuzz/FuzzMultipart: a header block just
// over the limit passed when it arrived in one read and failed when it arrived byte by byte).
import Foundation
import Testing
@testable import TailorHTTP

@Suite final class MultipartHeaderLimitTests {
    let directory = makeTemporaryDirectory()
    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A form whose only part has a header block of `headerBytes` bytes up to (not including) its final LF.
    static func form(headerBytes: Int) -> [UInt8] {
        let prefix = "Content-Disposition: form-data; name=\"x\"; filler=\""
        let suffix = "\"\r\n\r"  // the block ends with CRLF CR, then the final LF
        let filler = String(repeating: "a", count: headerBytes - prefix.utf8.count - suffix.utf8.count)
        return Array(("--b\r\n" + prefix + filler + suffix + "\nvalue\r\n--b--\r\n").utf8)
    }

    func read(_ bytes: [UInt8], chunk: Int) -> Result<Int, MultipartError> {
        do {
            var reader = try MultipartReader(contentType: "multipart/form-data; boundary=b", spoolDirectory: directory)
            reader.maxPartHeaderBytes = 512
            reader.chunkBytes = chunk
            let form = try reader.read(bytes: bytes)
            defer { form.removeFiles() }
            return .success(form.parts.count)
        } catch let error as MultipartError {
            return .failure(error)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(MultipartError(description: "\(error)"))
        }
    }

    @Test func sameVerdictForEveryChunking() {
        for size in [510, 511, 512, 513, 514, 515, 600] {
            let bytes = Self.form(headerBytes: size)
            let verdicts = [1, 2, 7, 64, 1 << 16].map { read(bytes, chunk: $0) }
            for verdict in verdicts { #expect(verdict == verdicts[0], "header block of \(size) bytes") }
            if size <= 512 { #expect(verdicts[0] == .success(1), "header block of \(size) bytes") }
            else { #expect((try? verdicts[0].get()) == nil, "header block of \(size) bytes") }
        }
    }
}
