// Shared helpers for engine tests: where the default model and the fixtures are.
import Foundation
import Testing

enum TestModel {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The default model (fetched by `make models`), or nil when TAILOR_SKIP_MODEL_TESTS=1.
    /// A missing model fails the test rather than skipping it silently.
    static func path() throws -> String? {
        if ProcessInfo.processInfo.environment["TAILOR_SKIP_MODEL_TESTS"] == "1" { return nil }
        let path = ProcessInfo.processInfo.environment["TAILOR_TEST_MODEL"]
            ?? repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        try #require(FileManager.default.fileExists(atPath: path),
                     "the default model is missing at \(path): run `make models` (or set TAILOR_SKIP_MODEL_TESTS=1)")
        return path
    }
}

enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)
            ?? TestModel.repoRoot.appendingPathComponent("Tests/TailorEngineTests/Fixtures/\(name)")
    }
    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
    }
}

/// Temporary directories made during one test, removed when the suite's instance goes: a suite holds one as a stored
/// property, and Swift Testing makes a new instance of the suite for every test.
final class Scratch: @unchecked Sendable {
    private let lock = NSLock()
    private var made: [String] = []

    func directory(_ prefix: String) -> String {
        let d = NSTemporaryDirectory() + prefix + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        lock.withLock { made.append(d) }
        return d
    }

    deinit { for d in made { try? FileManager.default.removeItem(atPath: d) } }
}
