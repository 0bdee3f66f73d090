// Several tokenised examples packed end to end into one sequence with no attention across example boundaries
// (a block-diagonal causal mask) and positions restarting per example, so no compute goes to padding. Examples that
// all begin with the same prompt (the system prompt most chat datasets repeat in every line) may share it: its rows
// come first, once, and every example's rows see them besides their own, at the positions they would have had.
// An example's rows after the last one that carries loss (the end-of-turn token and the template's newline after it)
// are left out: with causal attention no row that carries loss sees them, so they change no loss and no gradient.

public struct PackedBatch: Sendable, Equatable {
    public private(set) var tokens: [Int32] = []      // (T)
    public private(set) var positions: [Int32] = []   // (T), 0 at each example's first token
    public private(set) var targets: [Int32] = []     // (T): the next token where it carries loss, else −1
    /// Each example's own rows (after the shared prefix, when there is one).
    public private(set) var segments: [Range<Int>] = []
    /// Rows 0..<sharedPrefix: the tokens every example of the batch begins with, computed once (init(sharing:)).
    public private(set) var sharedPrefix = 0
    /// Tokens of the examples left out after their last loss-carrying row (counted in exampleTokens).
    public private(set) var droppedTail = 0

    public init() {}

    /// A batch whose examples all begin with `prefix`, none of whose tokens — nor the one after it — carries loss
    /// (see sharablePrefix): the prefix's rows come first, once.
    public init(sharing prefix: ArraySlice<Int>) {
        for (i, id) in prefix.enumerated() { tokens.append(Int32(id)); positions.append(Int32(i)); targets.append(-1) }
        sharedPrefix = prefix.count
    }

    public var count: Int { tokens.count }
    public var lossTokens: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
    /// The examples' tokens as if each were packed whole (the shared prefix counted once per example, the tails
    /// left out counted).
    public var exampleTokens: Int { count + sharedPrefix * max(0, segments.count - 1) + droppedTail }

    /// Appends one example: `tokens` with `lossMask[i]` true where token i is to be predicted (trained on). With a
    /// shared prefix the example must begin with it; only its rows after the prefix are appended. Rows after the
    /// last one that predicts a loss token are not (an example with no loss token at all is appended whole) unless
    /// `keepingTail` (the tests' whole example, to show the rows left out change nothing).
    public mutating func append(tokens ids: [Int], lossMask: [Bool], keepingTail: Bool = false) {
        precondition(ids.count == lossMask.count)
        let P = sharedPrefix
        precondition(P == 0 || (P < ids.count && Self.sharablePrefix(ids, lossMask) >= P
                                && zip(ids[..<P], tokens[..<P]).allSatisfy { Int32($0) == $1 }),
                     "an example of a batch with a shared prefix begins with it and trains on none of it")
        let start = tokens.count
        // Row i predicts token i+1: the last row that carries loss is the one before the last loss token.
        let end = keepingTail ? ids.count : min(ids.count, max(P + 1, lossMask.lastIndex(of: true) ?? ids.count))
        droppedTail += ids.count - end
        for i in P..<end {
            tokens.append(Int32(ids[i]))
            positions.append(Int32(i))
            // Position i predicts token i+1; the example's last token predicts nothing.
            targets.append(i + 1 < ids.count && lossMask[i + 1] ? Int32(ids[i + 1]) : -1)
        }
        segments.append(start..<tokens.count)
    }

    /// Row t's first visible key of its own example (0 for the shared prefix's rows, which see only it), into
    /// `first` (`count` values: the training model's buffer, once per forward).
    func writeFirstKeys(into first: UnsafeMutablePointer<Int32>) {
        first.update(repeating: 0, count: count)
        for seg in segments { for t in seg { first[t] = Int32(seg.lowerBound) } }
    }

    /// How many leading tokens of an example could be shared: those before the token preceding its first loss token
    /// (the last shared row predicts the next token for every example alike, so that one must carry no loss), and
    /// never all of it.
    public static func sharablePrefix(_ ids: [Int], _ lossMask: [Bool]) -> Int {
        let firstLoss = lossMask.firstIndex(of: true) ?? ids.count
        return max(0, min(firstLoss - 1, ids.count - 1))
    }
}
