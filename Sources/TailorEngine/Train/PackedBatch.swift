// Several tokenised examples packed end to end into one sequence with no attention across example boundaries
// (a block-diagonal causal mask) and positions restarting per example, so no compute goes to padding.

public struct PackedBatch: Sendable, Equatable {
    public private(set) var tokens: [Int32] = []      // (T)
    public private(set) var positions: [Int32] = []   // (T), 0 at each example's first token
    public private(set) var targets: [Int32] = []     // (T): the next token where it carries loss, else −1
    public private(set) var segments: [Range<Int>] = []

    public init() {}

    public var count: Int { tokens.count }
    public var lossTokens: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// Appends one example: `tokens` with `lossMask[i]` true where token i is to be predicted (trained on).
    public mutating func append(tokens ids: [Int], lossMask: [Bool]) {
        precondition(ids.count == lossMask.count)
        let start = tokens.count
        for (i, id) in ids.enumerated() {
            tokens.append(Int32(id))
            positions.append(Int32(i))
            // Position i predicts token i+1; the example's last token predicts nothing.
            targets.append(i + 1 < ids.count && lossMask[i + 1] ? Int32(ids[i + 1]) : -1)
        }
        segments.append(start..<tokens.count)
    }
}
