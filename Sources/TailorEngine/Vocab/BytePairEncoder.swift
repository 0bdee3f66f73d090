// Byte-level BPE on one word: start from one symbol per byte, merge the adjacent pair with the lowest merge rank
// (leftmost on ties) until none is left, as llama.cpp's llm_tokenizer_bpe_session does. Words come from
// WordSplitter; a word seen before comes from a cache. Not the splitting and not special tokens.
import Foundation

final class BytePairEncoder: @unchecked Sendable {
    // Sendable: every table is immutable after init; the cache is the only mutable state and sits behind its lock.

    private struct Merge { let rank: Int32; let result: Int32 }

    /// Symbols are token ids, plus ids from `tokenCount` up for merge parts that are not tokens themselves.
    private let tokenCount: Int32
    private let merges: [UInt64: Merge]
    /// The vocabulary spelling of symbols that are not tokens (llama.cpp falls back to their single bytes).
    private let extraSymbolText: [[UInt8]]
    private let symbolForByte: [Int32]
    /// The token spelled by one ASCII character, for that fallback.
    private let tokenForASCII: [Int32?]
    private let index: TokenIndex
    private let ignoreMerges: Bool

    private let cacheLock = NSLock()
    private var cache: [[UInt8]: [Int32]] = [:]
    private static let cacheLimit = 1 << 16

    init(index: TokenIndex, tokenCount: Int, merges pairs: [(String, String)], ignoreMerges: Bool) {
        self.tokenCount = Int32(tokenCount)
        self.index = index
        self.ignoreMerges = ignoreMerges
        var extra: [[UInt8]: Int32] = [:]
        var extraText: [[UInt8]] = []
        func symbol(_ text: String) -> Int32 {
            let bytes = Array(text.utf8)
            if let id = index[bytes: bytes] ?? extra[bytes] { return id }
            let id = Int32(tokenCount + extraText.count)
            extra[bytes] = id
            extraText.append(bytes)
            return id
        }
        symbolForByte = ByteLevel.scalarForByte.map { symbol(String($0)) }
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            let key = UInt64(UInt32(symbol(left))) << 32 | UInt64(UInt32(symbol(right)))
            // llama.cpp keeps the first rank of a repeated pair (std::map::emplace).
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: symbol(left + right)) }
        }
        merges = table
        extraSymbolText = extraText
        tokenForASCII = (0..<128).map { index[bytes: [UInt8($0)]] }
    }

    /// Appends the tokens of one word, given as raw UTF-8 bytes.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout Scratch) {
        guard !word.isEmpty else { return }
        let key = Array(word)
        if let hit = cacheLock.withLock({ cache[key] }) {
            output.append(contentsOf: hit)
            return
        }
        var tokens: [Int32] = []
        if ignoreMerges, let whole = index[ByteLevel.encode(word)] {
            tokens = [whole]
        } else {
            merge(word, scratch: &scratch)
            var i = 0
            while i >= 0 {
                let symbol = scratch.symbols[i]
                if symbol < tokenCount {
                    tokens.append(symbol)
                } else {
                    tokens.append(contentsOf: extraSymbolText[Int(symbol - tokenCount)].compactMap { $0 < 0x80 ? tokenForASCII[Int($0)] : nil })
                }
                i = Int(scratch.next[i])
            }
        }
        output.append(contentsOf: tokens)
        cacheLock.withLock {
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = tokens
        }
    }

    /// Per-call working memory, reused across the words of one text.
    struct Scratch {
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var queue = PriorityQueue<Pair>()
    }

    private func merge(_ word: UnsafeBufferPointer<UInt8>, scratch s: inout Scratch) {
        let n = word.count
        s.symbols.removeAll(keepingCapacity: true)
        s.previous.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        for i in 0..<n {
            s.symbols.append(symbolForByte[Int(word[i])])
            s.previous.append(Int32(i - 1))
            s.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        s.queue.removeAll()
        func consider(_ left: Int32, _ right: Int32, _ s: inout Scratch) {
            guard left >= 0, right >= 0 else { return }
            let l = s.symbols[Int(left)], r = s.symbols[Int(right)]
            if let m = merges[UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))] {
                s.queue.push(Pair(rank: m.rank, left: left, right: right, leftSymbol: l, rightSymbol: r, result: m.result))
            }
        }
        for i in 1..<n { consider(Int32(i - 1), Int32(i), &s) }
        while let pair = s.queue.pop() {
            let left = Int(pair.left), right = Int(pair.right)
            // Stale if either side has merged since: the right one is then gone, or the symbols changed.
            guard s.symbols[left] == pair.leftSymbol, s.symbols[right] == pair.rightSymbol, s.previous[right] == pair.left else { continue }
            s.symbols[left] = pair.result
            s.symbols[right] = -1
            s.next[left] = s.next[right]
            if s.next[right] >= 0 { s.previous[Int(s.next[right])] = pair.left }
            s.previous[right] = -2
            consider(s.previous[left], pair.left, &s)
            consider(pair.left, s.next[left], &s)
        }
    }
}

struct Pair: Prioritized {
    let rank: Int32
    let left: Int32, right: Int32
    let leftSymbol: Int32, rightSymbol: Int32
    let result: Int32

    /// llama.cpp's llm_bigram_bpe order: lowest rank first, then leftmost.
    func before(_ other: Pair) -> Bool { rank < other.rank || (rank == other.rank && left < other.left) }
}
