// Helpers for the store tests: real temporary data directories (with a fresh PostgreSQL database each when the tests
// run against PostgreSQL), a log handler that records, raw file bytes. Not fakes of the store: every test opens real
// SQLite files on disk or a real PostgreSQL server.
import Foundation
import Logging
import PostgresNIO
import Testing
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

func openStore(_ directory: String, _ database: DatabaseLocation = .sqlite, _ recorder: LogRecorder = LogRecorder()) throws -> Store {
    try Store.open(dataDirectory: directory, database: database, logger: recorder.logger)
}

func openStore(_ directory: String, _ recorder: LogRecorder) throws -> Store {
    try openStore(directory, .sqlite, recorder)
}

/// Which database a parameterized store test runs on.
enum Backend: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A PostgreSQL server the tests may create databases on (each test makes its own and drops it), e.g.
/// postgres://tailor@127.0.0.1:54329/postgres as `make test-postgres` sets it; unset, only SQLite runs.
let postgresTestURL = ProcessInfo.processInfo.environment["TAILOR_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

/// SQLite always; PostgreSQL too when TAILOR_TEST_DATABASE_URL is set (PostgresStoreTests says so when it is not).
let testBackends: [Backend] = postgresTestURL == nil ? [.sqlite] : [.sqlite, .postgres]

/// A fresh data directory and, for `.postgres`, a fresh database (dropped afterwards), so tests are independent.
func withDataDirectory<T>(_ backend: Backend, _ body: (String, DatabaseLocation) throws -> T) throws -> T {
    try withDataDirectory { directory in
        switch backend {
        case .sqlite:
            return try body(directory, .sqlite)
        case .postgres:
            let settings = try makeTestDatabase()
            defer { try? dropTestDatabase(settings) }
            return try body(directory, .postgres(settings))
        }
    }
}

/// Creates `tailor_test_<random>` on the server of TAILOR_TEST_DATABASE_URL and returns its settings.
func makeTestDatabase() throws -> PostgresSettings {
    let url = try #require(postgresTestURL, "TAILOR_TEST_DATABASE_URL is not set")
    var settings = try PostgresSettings(url: url)
    let name = "tailor_test_" + IDGenerator.make(prefix: "", length: 12).lowercased()
    try administer(settings, "CREATE DATABASE \"\(name)\"")
    settings.database = name
    return settings
}

func dropTestDatabase(_ settings: PostgresSettings) throws {
    try administer(try PostgresSettings(url: try #require(postgresTestURL)), "DROP DATABASE IF EXISTS \"\(settings.database)\" WITH (FORCE)")
}

/// Runs one statement outside a transaction (CREATE/DROP DATABASE cannot run in one) on its own connection.
func administer(_ settings: PostgresSettings, _ sql: String) throws {
    let configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.username,
                                                         password: settings.password, database: settings.database, tls: .disable)
    let connection = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.next(), configuration: configuration, id: 1,
                                                    logger: Logger(label: "test.admin")).wait()
    defer { try? connection.close().wait() }
    _ = try connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test.admin")).wait()
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
