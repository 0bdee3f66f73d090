// How large a T5 training pass is laid out: the rows of its packed sources and targets, its longest pair, and the
// attention blocks' areas (a pair's sources attend only within themselves, its target within itself and to its own
// source), so that T5Activations holds a whole batch and nothing is sized for padding.

public struct T5PassSize: Sendable, Equatable {
    /// Source rows and target rows of one pass (the pairs' lengths added up).
    public var sourceRows: Int
    public var targetRows: Int
    /// The longest source and target of any pair.
    public var longestSource: Int
    public var longestTarget: Int
    /// Σ S², Σ T², Σ T·S over a pass's pairs: the encoder's, the decoder's self- and cross-attention's score blocks.
    public var encoderScores: Int
    public var decoderScores: Int
    public var crossScores: Int

    /// Exactly what one pass over `pairs` needs.
    public init(pairs: [T5TrainingExample]) {
        sourceRows = pairs.reduce(0) { $0 + $1.source.count }
        targetRows = pairs.reduce(0) { $0 + $1.target.count }
        longestSource = pairs.map(\.source.count).max() ?? 0
        longestTarget = pairs.map(\.target.count).max() ?? 0
        encoderScores = pairs.reduce(0) { $0 + $1.source.count * $1.source.count }
        decoderScores = pairs.reduce(0) { $0 + $1.target.count * $1.target.count }
        crossScores = pairs.reduce(0) { $0 + $1.target.count * $1.source.count }
    }

    /// Room for any `pairs` pairs of sources up to `maxSource` and targets up to `maxTarget` tokens.
    public init(maxSource: Int, maxTarget: Int, pairs: Int = 1) {
        sourceRows = pairs * maxSource; targetRows = pairs * maxTarget
        longestSource = maxSource; longestTarget = maxTarget
        encoderScores = pairs * maxSource * maxSource
        decoderScores = pairs * maxTarget * maxTarget
        crossScores = pairs * maxTarget * maxSource
    }

    /// Room for any `batchSize` (or fewer) of `examples` in one pass: each figure the sum of its `batchSize` largest
    /// terms, which no batch drawn from them exceeds (and a batch of the longest pairs reaches).
    public static func fitting(_ examples: [T5TrainingExample], batchSize: Int) -> T5PassSize {
        precondition(batchSize > 0 && !examples.isEmpty)
        func top(_ f: (T5TrainingExample) -> Int) -> Int { examples.map(f).sorted(by: >).prefix(batchSize).reduce(0, +) }
        var s = T5PassSize(pairs: [])
        s.sourceRows = top(\.source.count); s.targetRows = top(\.target.count)
        s.longestSource = examples.map(\.source.count).max()!; s.longestTarget = examples.map(\.target.count).max()!
        s.encoderScores = top { $0.source.count * $0.source.count }
        s.decoderScores = top { $0.target.count * $0.target.count }
        s.crossScores = top { $0.target.count * $0.source.count }
        return s
    }

    /// Whether a pass laid out for `self` holds `other`.
    public func holds(_ other: T5PassSize) -> Bool {
        other.sourceRows <= sourceRows && other.targetRows <= targetRows && other.longestSource <= longestSource
            && other.longestTarget <= longestTarget && other.encoderScores <= encoderScores
            && other.decoderScores <= decoderScores && other.crossScores <= crossScores
    }
}
