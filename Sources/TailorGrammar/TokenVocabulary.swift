// A model's vocabulary as the matcher sees it: each token's bytes, which ids end generation, and a byte trie built
// once per vocabulary (share one instance across all matchers). Not a tokenizer: it never splits text.

public final class TokenVocabulary: Sendable {
    public let size: Int
    /// Ids allowed only where the grammar accepts (end of generation); they never match text.
    public let endOfGeneration: [Int]
    let maskWords: Int
    let tokenBytes: [[UInt8]]

    /// Every token that is whole characters of JSON string content (no '"', '\\', control or broken UTF-8), in its
    /// own trie; the other tokens are in `rest`. A parse state often decides content tokens by their length alone
    /// (a free string allows all, a string with k characters left allows those of at most k), so these are allowed
    /// in bulk instead of walked: see StateSpace.contentBound.
    let content: TokenTrie
    let rest: TokenTrie
    /// Characters in each content token (0 for others).
    let charCount: [Int32]
    /// The most characters in one content token (or one tail of `afterFirstContent`): a state that allows this
    /// many allows them all.
    let maxChars: Int
    /// contentUpTo[k]: the content tokens of at most k characters (k = 0...maxChars).
    let contentUpTo: [[UInt64]]
    /// Per first byte b: the tokens of `rest` spelled b·x with x whole characters of string content ('"name', say),
    /// with the characters of x, fewest first. When byte b leads to a state that decides content tokens by length,
    /// these are allowed by that length and only `restAfterFirst` needs walking below b.
    let afterFirstContent: [(ids: [Int32], chars: [Int32])?]
    let restAfterFirst: TokenTrie
    var maxDepth: Int { max(content.maxDepth, rest.maxDepth) }

    /// `tokens[id]` are the bytes token `id` stands for; ids in `special` (control tokens, byte-less tokens) never
    /// match text; ids in `endOfGeneration` are allowed exactly where the grammar is complete.
    public init(tokens tokenBytes: [[UInt8]], special: Set<Int> = [], endOfGeneration: [Int]) {
        size = tokenBytes.count
        maskWords = (tokenBytes.count + 63) / 64
        self.endOfGeneration = endOfGeneration
        self.tokenBytes = tokenBytes
        let excluded = special.union(endOfGeneration)
        let ids = (0..<tokenBytes.count).filter { !excluded.contains($0) && !tokenBytes[$0].isEmpty }
        var chars = [Int32](repeating: 0, count: tokenBytes.count)
        var contentIDs: [Int] = [], others: [Int] = []
        for id in ids {
            if Self.isStringContent(tokenBytes[id]) {
                chars[id] = Int32(tokenBytes[id].count { $0 & 0xC0 != 0x80 })
                contentIDs.append(id)
            } else { others.append(id) }
        }
        charCount = chars
        content = TokenTrie(contentIDs, tokenBytes)
        rest = TokenTrie(others, tokenBytes)
        var tails = [[(Int32, Int32)]](repeating: [], count: 256)
        var restAfter: [Int] = []
        for id in others {
            let t = tokenBytes[id]
            let tail = Array(t.dropFirst())
            if !tail.isEmpty, Self.isStringContent(tail) {
                tails[Int(t[0])].append((Int32(id), Int32(tail.count { $0 & 0xC0 != 0x80 })))
            } else { restAfter.append(id) }
        }
        afterFirstContent = tails.map { l in
            if l.isEmpty { return nil }
            let sorted = l.sorted { $0.1 < $1.1 }
            return (sorted.map(\.0), sorted.map(\.1))
        }
        restAfterFirst = TokenTrie(restAfter, tokenBytes)
        let most = Int((contentIDs.map { chars[$0] } + tails.flatMap { $0.map(\.1) }).max() ?? 0)
        maxChars = most
        var upTo = [[UInt64]](repeating: [UInt64](repeating: 0, count: maskWords), count: most + 1)
        for id in contentIDs { upTo[Int(chars[id])][id >> 6] |= 1 << UInt64(id & 63) }
        for k in stride(from: 1, through: most, by: 1) { for w in 0..<maskWords { upTo[k][w] |= upTo[k - 1][w] } }
        contentUpTo = upTo
    }

    static func isStringContent(_ t: [UInt8]) -> Bool {
        guard String(validating: t, as: UTF8.self) != nil else { return false }
        return !t.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
    }

    /// One token per byte value: matching over it is matching bytes.
    static let bytes = TokenVocabulary(tokens: (0..<256).map { [UInt8($0)] }, endOfGeneration: [])

    public func bytes(of id: Int) -> [UInt8] { tokenBytes[id] }
    public var trieNodeCount: Int { content.byte.count + rest.byte.count }
    /// Nodes of tokens that are not whole characters of string content (the others can often be allowed in bulk).
    public var restTrieNodeCount: Int { rest.byte.count }
}

/// Tokens in a byte trie, flattened in pre-order: node i has `byte[i]` at `depth[i]` (1 for children of the root),
/// its subtree ends just before `skip[i]`, and the tokens spelled by the path to it are
/// tokens[tokenStart[i]..<tokenStart[i+1]]. A walk skips a dead subtree in one jump. A subtree's tokens are
/// contiguous: tokens[tokenStart[i]..<tokenStart[skip[i]]].
struct TokenTrie: Sendable {
    let byte: [UInt8]
    let depth: [Int32]
    /// Characters on the path to node i when that path ends on a character boundary, else -1.
    let charDepth: [Int32]
    /// The bytes strictly below node i, as a 128-bit set (words 2i and 2i+1), or all ones when a byte above 0x7F
    /// is among them: a state that loops on each of them allows the whole subtree.
    let asciiBelow: [UInt64]
    let skip: [Int32]
    let tokenStart: [Int32]
    let tokens: [Int32]
    let maxDepth: Int
    /// The node of each first byte (a child of the root), or -1.
    let rootChild: [Int32]

    init(_ ids: [Int], _ tokenBytes: [[UInt8]]) {
        let ids = ids.sorted { tokenBytes[$0].lexicographicallyPrecedes(tokenBytes[$1]) }
        var byte: [UInt8] = [], depth: [Int32] = [], skip: [Int32] = [], tokenStart: [Int32] = [], tokens: [Int32] = []
        var charDepth: [Int32] = []
        var path: [Int] = []          // node index per depth along the current path
        var prev: [UInt8] = []
        var maxDepth = 0
        for id in ids {
            let t = tokenBytes[id]
            var common = 0
            while common < min(prev.count, t.count), prev[common] == t[common] { common += 1 }
            // Close the nodes of the previous token below the shared prefix.
            while path.count > common { skip[path.removeLast()] = Int32(byte.count) }
            var chars = Int32(t[..<common].count { $0 & 0xC0 != 0x80 })
            for d in common..<t.count {
                path.append(byte.count)
                if t[d] & 0xC0 != 0x80 { chars += 1 }
                charDepth.append(Self.endsOnCharacter(t[...d]) ? chars : -1)
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
        self.byte = byte; self.depth = depth; self.charDepth = charDepth; self.skip = skip; self.tokenStart = tokenStart; self.tokens = tokens
        self.maxDepth = maxDepth
        var below = [UInt64](repeating: 0, count: 2 * byte.count)
        for i in stride(from: byte.count - 1, through: 0, by: -1) {
            var lo: UInt64 = 0, hi: UInt64 = 0
            var c = i + 1
            while c < Int(skip[i]) {
                let b = byte[c]
                if b >= 0x80 { lo = ~0; hi = ~0 } else if b < 64 { lo |= 1 << UInt64(b) } else { hi |= 1 << UInt64(b - 64) }
                lo |= below[2 * c]; hi |= below[2 * c + 1]
                c = Int(skip[c])
            }
            below[2 * i] = lo; below[2 * i + 1] = hi
        }
        asciiBelow = below
        var rc = [Int32](repeating: -1, count: 256)
        for i in 0..<byte.count where depth[i] == 1 { rc[Int(byte[i])] = Int32(i) }
        rootChild = rc
    }

    /// Whether `b` ends with a whole UTF-8 character (its last lead byte has all its continuation bytes).
    static func endsOnCharacter(_ b: ArraySlice<UInt8>) -> Bool {
        var i = b.endIndex - 1, cont = 0
        while i >= b.startIndex, b[i] & 0xC0 == 0x80 { cont += 1; i -= 1 }
        guard i >= b.startIndex else { return false }
        let lead = b[i]
        let need = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1
        return need == cont
    }
}
