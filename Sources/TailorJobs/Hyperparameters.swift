// OpenAI's "auto" hyperparameters resolved from the dataset size, by documented rules:
// - n_epochs: the OpenAI cookbook's formula (3 epochs, more for tiny sets so ~100 examples are seen, fewer for huge).
// - batch_size: ~0.2 % of the examples, at most 256 (OpenAI's legacy rule), but at least 4 on this CPU engine: packing
//   a few examples per step keeps the matrix products tall enough for sgemm to run near its peak.
// - learning_rate_multiplier: 1.0 × Tailor's base LoRA rate (TrainingConfig.learningRate, 1e-3).
// - beta (DPO only): 0.1, OpenAI's and TRL's default. For DPO the examples counted are the pairs.

import TailorEngine

public struct HyperparameterRequest: Sendable, Equatable, Codable {
    public enum Value: Sendable, Equatable, Codable {
        case auto
        case number(Double)
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self), s == "auto" { self = .auto; return }
            self = .number(try c.decode(Double.self))
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .auto: try c.encode("auto")
            case .number(let v): if v == v.rounded() && abs(v) < 1e15 { try c.encode(Int(v)) } else { try c.encode(v) }
            }
        }
    }
    public var nEpochs: Value = .auto
    public var batchSize: Value = .auto
    public var learningRateMultiplier: Value = .auto
    /// DPO only (nil for supervised jobs, and in rows stored before DPO existed).
    public var beta: Value?
    public init(nEpochs: Value = .auto, batchSize: Value = .auto, learningRateMultiplier: Value = .auto, beta: Value? = nil) {
        self.nEpochs = nEpochs; self.batchSize = batchSize; self.learningRateMultiplier = learningRateMultiplier
        self.beta = beta
    }
    enum CodingKeys: String, CodingKey {
        case nEpochs = "n_epochs", batchSize = "batch_size", learningRateMultiplier = "learning_rate_multiplier", beta
    }
}

public struct ResolvedHyperparameters: Sendable, Equatable, Codable {
    public var nEpochs: Int
    public var batchSize: Int
    public var learningRateMultiplier: Double
    /// DPO's β; nil for a supervised job.
    public var beta: Double?
    enum CodingKeys: String, CodingKey {
        case nEpochs = "n_epochs", batchSize = "batch_size", learningRateMultiplier = "learning_rate_multiplier", beta
    }
}

public enum AutoHyperparameters {
    /// OpenAI's default β for DPO.
    public static let beta = 0.1

    public static func resolve(_ r: HyperparameterRequest, examples n: Int, method: TrainingMethod = .supervised) -> ResolvedHyperparameters {
        ResolvedHyperparameters(nEpochs: r.nEpochs.int ?? epochs(examples: n),
                                batchSize: r.batchSize.int ?? batchSize(examples: n),
                                learningRateMultiplier: r.learningRateMultiplier.double ?? 1,
                                beta: method == .dpo ? r.beta?.double ?? beta : nil)
    }

    /// The cookbook's rule, verbatim: target 3 epochs; at least 100 and at most 25 000 example-passes, 1–25 epochs.
    public static func epochs(examples n: Int) -> Int {
        guard n > 0 else { return 1 }
        if n * 3 < 100 { return min(25, 100 / n) }
        if n * 3 > 25_000 { return max(1, 25_000 / n) }
        return 3
    }

    public static func batchSize(examples n: Int) -> Int {
        min(256, max(4, Int((0.002 * Double(n)).rounded(.up))))
    }
}

extension HyperparameterRequest.Value {
    var int: Int? { if case .number(let v) = self { return Int(v) } else { return nil } }
    var double: Double? { if case .number(let v) = self { return v } else { return nil } }
}
