// A model's vocabulary as the matcher sees it: each token's bytes, which ids end generation, and a byte trie built
// once per vocabulary (share one instance across all matchers). Not a tokenizer: it never splits text.

public final class TokenVocabulary: Sendable {
    public let size: Int
    /// Ids allowed only where the grammar accepts (end of generation); they never match text.
    public let endOfGeneration: [Int]
    let maskWords: Int
    let tokenBytes: [[UInt8]]

    /// Every token that is whole characters of JSON string content (no '"', '\\', control or broken UTF-8): from a
    /// state that loops on string content these are all allowed at once, and only `rest` needs walking.
    let stringContent: [UInt64]
    let all: TokenTrie
    let rest: TokenTrie
    /// Per first byte b: the tokens b·x where x is whole characters of string content. When byte b leads into a
    /// state that loops on string content (a free string, an object key that has left every listed name) these
    /// are allowed at once and only `restAfterFirst` needs walking below b.
    let afterFirstContent: [[UInt64]?]
    let restAfterFirst: TokenTrie
    var maxDepth: Int { all.maxDepth }

    /// `tokens[id]` are the bytes token `id` stands for; ids in `special` (control tokens, byte-less tokens) never
    /// match text; ids in `endOfGeneration` are allowed exactly where the grammar is complete.
    public init(tokens tokenBytes: [[UInt8]], special: Set<Int> = [], endOfGeneration: [Int]) {
        size = tokenBytes.count
        maskWords = (tokenBytes.count + 63) / 64
        self.endOfGeneration = endOfGeneration
        self.tokenBytes = tokenBytes
        let excluded = special.union(endOfGeneration)
        let ids = (0..<tokenBytes.count).filter { !excluded.contains($0) && !tokenBytes[$0].isEmpty }
        var content = [UInt64](repeating: 0, count: maskWords)
        var others: [Int] = []
        for id in ids {
            if Self.isStringContent(tokenBytes[id]) { content[id >> 6] |= 1 << UInt64(id & 63) } else { others.append(id) }
        }
        stringContent = content
        all = TokenTrie(ids, tokenBytes)
        rest = TokenTrie(others, tokenBytes)
        var after = [[UInt64]?](repeating: nil, count: 256)
        var restAfter: [Int] = []
        for id in ids {
            let t = tokenBytes[id]
            if Self.isStringContent(Array(t.dropFirst())) {
                if after[Int(t[0])] == nil { after[Int(t[0])] = [UInt64](repeating: 0, count: maskWords) }
                after[Int(t[0])]![id >> 6] |= 1 << UInt64(id & 63)
            } else { restAfter.append(id) }
        }
        afterFirstContent = after
        restAfterFirst = TokenTrie(restAfter, tokenBytes)
    }

    static func isStringContent(_ t: [UInt8]) -> Bool {
        guard String(validating: t, as: UTF8.self) != nil else { return false }
        return !t.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
    }

    /// One token per byte value: matching over it is matching bytes.
    static let bytes = TokenVocabulary(tokens: (0..<256).map { [UInt8($0)] }, endOfGeneration: [])

    public func bytes(of id: Int) -> [UInt8] { tokenBytes[id] }
    public var trieNodeCount: Int { all.byte.count }
    /// Nodes walked from a state that loops on string content (the rest are allowed in bulk).
    public var restTrieNodeCount: Int { rest.byte.count }
}

/// Tokens in a byte trie, flattened in pre-order: node i has `byte[i]` at `depth[i]` (1 for children of the root),
/// its subtree ends just before `skip[i]`, and the tokens spelled by the path to it are
/// tokens[tokenStart[i]..<tokenStart[i+1]]. A walk skips a dead subtree in one jump.
struct TokenTrie: Sendable {
    let byte: [UInt8]
    let depth: [Int32]
    let skip: [Int32]
    let tokenStart: [Int32]
    let tokens: [Int32]
    let maxDepth: Int
    /// The node of each first byte (a child of the root), or -1.
    let rootChild: [Int32]

    init(_ ids: [Int], _ tokenBytes: [[UInt8]]) {
        let ids = ids.sorted { tokenBytes[$0].lexicographicallyPrecedes(tokenBytes[$1]) }
        var byte: [UInt8] = [], depth: [Int32] = [], skip: [Int32] = [], tokenStart: [Int32] = [], tokens: [Int32] = []
        var path: [Int] = []          // node index per depth along the current path
        var prev: [UInt8] = []
        var maxDepth = 0
        for id in ids {
            let t = tokenBytes[id]
            var common = 0
            while common < min(prev.count, t.count), prev[common] == t[common] { common += 1 }
            // Close the nodes of the previous token below the shared prefix.
            while path.count > common { skip[path.removeLast()] = Int32(byte.count) }
            for d in common..<t.count {
                path.append(byte.count)
                byte.append(t[d]); depth.append(Int32(d + 1)); skip.append(0)
                tokenStart.append(Int32(tokens.count))
            }
            // Sorted order puts equal spellings side by side; they share the last node.
            tokens.append(Int32(id))
            maxDepth = max(maxDepth, t.count)
            prev = t
        }
        while let n = path.popLast() { skip[n] = Int32(byte.count) }
        tokenStart.append(Int32(tokens.count))
        self.byte = byte; self.depth = depth; self.skip = skip; self.tokenStart = tokenStart; self.tokens = tokens
        self.maxDepth = maxDepth
        var rc = [Int32](repeating: -1, count: 256)
        for i in 0..<byte.count where depth[i] == 1 { rc[Int(byte[i])] = Int32(i) }
        rootChild = rc
    }
}
