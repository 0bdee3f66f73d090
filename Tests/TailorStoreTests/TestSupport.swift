// Helpers for the store tests: real temporary data directories, a log handler that records, raw file bytes.
// Not fakes of the store: every test opens real SQLite files on disk.
import Foundation
import Logging
@testable import TailorStore

/// A fresh directory under the system temporary directory, removed when `body` returns.
func withDataDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/tailor-store-test-" + IDGenerator.make(prefix: "", length: 12)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path + "/data")
}

/// Records every message, so tests can check what the store said it did.
final class LogRecorder: Sendable {
    private let lines = Locked<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    func messages(atLeast level: Logger.Level) -> [(message: String, metadata: Logger.Metadata)] {
        lines.withLock { $0.filter { $0.level >= level }.map { ($0.message, $0.metadata) } }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.lines.withLock { $0.append((event.level, event.message.description, merged)) }
        }
    }
}

func openStore(_ directory: String, _ recorder: LogRecorder = LogRecorder()) throws -> Store {
    try Store.open(dataDirectory: directory, logger: recorder.logger)
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func fileExists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}

/// Deterministic non-repeating-looking bytes (an LCG), so size and hash checks see real content.
func sampleBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

/// The position of `needle` in `haystack`, or nil.
func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    let first = needle[0]
    var index = 0
    while index <= haystack.count - needle.count {
        if haystack[index] == first && Array(haystack[index..<index + needle.count]) == needle { return index }
        index += 1
    }
    return nil
}

/// sha256sum's answer, an independent check on the store's streaming hash.
func referenceSHA256(of path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
}
