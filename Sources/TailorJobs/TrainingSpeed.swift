// How fast this machine trains each base model, in tokens per second through the forward pass: measured from every
// finished step (a moving average, kept in DATA/training_speed.json across restarts), and before the first job
// estimated from a short sgemm measurement. Jobs use it for their pre-flight duration and `estimated_finish`.
import Foundation
import TailorEngine

public final class TrainingSpeed: @unchecked Sendable {
    // @unchecked Sendable: `measured` is guarded by `lock`.
    private let path: String
    private let lock = NSLock()
    private var measured: [String: Double]
    /// sgemm GFLOP/s measured once at start-up (with the cores to itself).
    public let sgemmGFLOPS: Double
    /// Fraction of the sgemm peak a training step reaches, used only until a real step has been measured.
    static let assumedEfficiency = 0.5

    public init(dataDirectory: String, sgemmGFLOPS: Double) {
        path = dataDirectory + "/training_speed.json"
        self.sgemmGFLOPS = sgemmGFLOPS
        measured = (FileManager.default.contents(atPath: path)
            .flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) }) ?? [:]
    }

    /// Tokens per second for `model` (forward-pass tokens; a LoRA step costs ~4 × parameters FLOPs per token).
    public func tokensPerSecond(_ model: LanguageModel) -> Double {
        lock.lock(); defer { lock.unlock() }
        if let m = measured[model.name] { return m }
        return sgemmGFLOPS * 1e9 * Self.assumedEfficiency / (4 * Double(model.transformer.parameterCount))
    }

    public func record(_ model: LanguageModel, tokens: Int, seconds: Double) {
        guard tokens > 0, seconds > 0 else { return }
        let sample = Double(tokens) / seconds
        lock.lock()
        measured[model.name] = measured[model.name].map { 0.8 * $0 + 0.2 * sample } ?? sample
        let snapshot = measured
        lock.unlock()
        if let data = try? JSONEncoder().encode(snapshot) { try? writeFileAtomically(data, to: path) }
    }

    /// A short sgemm measurement shaped like a training matmul (512 tokens × 1536 × 576): the best of a few runs.
    public static func measureSGEMM() -> Double {
        let m = 512, n = 1536, k = 576
        let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: n * k)
        var c = [Float](repeating: 0, count: m * n)
        var best = 0.0
        for _ in 0..<5 {
            let t = Date()
            Blas.linear(&c, a, b, rows: m, inFeatures: k, outFeatures: n)
            best = max(best, 2 * Double(m * n * k) / Date().timeIntervalSince(t) / 1e9)
        }
        return best
    }
}
