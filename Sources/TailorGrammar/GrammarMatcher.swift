// The token-level matcher: holds where a generation is in the grammar, computes which tokens may come next (a bitset
// over the vocabulary, walked along the vocabulary's byte trie) and advances on the chosen token. One per sequence;
// not thread-safe (its caches are its own). The grammar and the vocabulary it reads are shared and immutable.

public final class GrammarMatcher {
    public let grammar: CompiledGrammar
    public let vocabulary: TokenVocabulary
    private let space: StateSpace
    private var current: Int32
    private var masks: [Int32: [UInt64]] = [:]
    private let walkStates: UnsafeMutablePointer<Int32>   // the parse state at each depth of the trie walk
    /// Masks cached per parse state; a JSON string or number revisits the same state many times. Bounded so a long
    /// session cannot grow without limit (6 KiB per mask at a 49k vocabulary).
    private static let maxCachedMasks = 2048

    public init(grammar: CompiledGrammar, vocabulary: TokenVocabulary) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        space = StateSpace(grammar, maxChars: vocabulary.maxChars)
        current = space.initial
        walkStates = .allocate(capacity: vocabulary.maxDepth + 1)
    }

    /// Back to the start of the grammar; caches are kept (they depend only on the grammar).
    public func reset() { current = space.initial }

    /// True when the text so far is a complete instance: end-of-generation is allowed here.
    public var isAccepting: Bool { space.isAccepting(current) }

    /// True when nothing more can follow (complete, and no byte extends it): a caller may stop without sampling.
    public var isTerminated: Bool { isAccepting && space.stacks(of: current).isEmpty }

    /// The tokens allowed next, one bit per token id (bit `id % 64` of word `id / 64`); end-of-generation ids are set
    /// exactly when `isAccepting`.
    public func allowedTokens() -> [UInt64] {
        if let m = masks[current] { return m }
        let m = computeMask(current)
        if masks.count >= Self.maxCachedMasks { masks.removeAll(keepingCapacity: true) }
        masks[current] = m
        return m
    }

    /// Writes the mask into `out` (which must have `(vocabulary.size + 63) / 64` words).
    public func fillAllowedTokens(_ out: inout [UInt64]) {
        let m = allowedTokens()
        for i in 0..<min(out.count, m.count) { out[i] = m[i] }
    }

    /// Advances over `token` if the grammar allows it there; returns false (and stays put) when it does not.
    @discardableResult
    public func accept(token: Int) -> Bool {
        guard token >= 0, token < vocabulary.size else { return false }
        if vocabulary.endOfGeneration.contains(token) { return isAccepting }
        let bytes = vocabulary.tokenBytes[token]
        if bytes.isEmpty { return false }
        return accept(bytes: bytes)
    }

    /// Advances over raw bytes (a forced continuation, or validating text); all or nothing.
    @discardableResult
    public func accept(bytes: [UInt8]) -> Bool {
        var s = current
        for b in bytes {
            s = space.step(s, b)
            if s < 0 { return false }
        }
        current = s
        if space.needsFlush { current = space.flush(keeping: current); masks.removeAll() }
        return true
    }

    /// Below a trie node with at least this many tokens, a state that decides string-content tokens by their length
    /// allows them in one pass over the node's tokens instead of walking its subtree. Tests set 0 (wherever it
    /// applies) and Int.max (never, not even at the root: the plain walk, as a reference).
    var splitSubtree = 16

    private func computeMask(_ start: Int32) -> [UInt64] {
        let v = vocabulary
        let bulk = splitSubtree != Int.max
        var mask: [UInt64]
        // Content tokens: all decided by length when the state itself does that (a free string, a string with k
        // characters left); otherwise walked, in bulk below nodes whose state does (an object key once it has
        // left every listed name).
        let k = bulk ? space.contentBound(start) : -1
        if k >= 0 {
            mask = v.contentUpTo[Int(k)]
        } else {
            mask = [UInt64](repeating: 0, count: v.maskWords)
            walk(v.content, 0, v.content.byte.count, from: start, into: &mask, bulkBelow: splitSubtree)
        }
        // The rest, by first byte: '"' + content ('"name') is decided by the length rule of the state after '"'.
        let rest = v.rest
        for b in 0..<256 {
            let c = Int(rest.rootChild[b])
            if c < 0 { continue }
            if bulk, let tails = v.afterFirstContent[b] {
                let s = space.step(start, UInt8(b))
                if s < 0 { continue }
                let kb = space.contentBound(s)
                if kb >= 0 {
                    for (id, n) in zip(tails.ids, tails.chars) {
                        if n > kb { break }
                        mask[Int(id) >> 6] |= 1 << UInt64(id & 63)
                    }
                    let c2 = Int(v.restAfterFirst.rootChild[b])
                    if c2 >= 0 { walk(v.restAfterFirst, c2, Int(v.restAfterFirst.skip[c2]), from: start, into: &mask, bulkBelow: Int.max) }
                    continue
                }
            }
            walk(rest, c, Int(rest.skip[c]), from: start, into: &mask, bulkBelow: Int.max)
        }
        if space.isAccepting(start) { for id in v.endOfGeneration where id < v.size { mask[id >> 6] |= 1 << UInt64(id & 63) } }
        if space.needsFlush { current = space.flush(keeping: current); masks.removeAll() }
        return mask
    }

    /// Walks trie nodes lo..<hi (whole subtrees, in pre-order) from parse state `start`, setting allowed tokens. In
    /// the content trie, below a node on a character boundary with at least `bulkBelow` tokens whose state decides
    /// content tokens by length, the node's tokens are set by their length and its subtree is not walked.
    private func walk(_ trie: TokenTrie, _ lo: Int, _ hi: Int, from start: Int32, into mask: inout [UInt64], bulkBelow: Int) {
        let walk = walkStates
        walk[0] = start
        let space = self.space
        let all = Int32(vocabulary.maxChars)
        mask.withUnsafeMutableBufferPointer { m in
            trie.byte.withUnsafeBufferPointer { byte in
            trie.depth.withUnsafeBufferPointer { depth in
            trie.charDepth.withUnsafeBufferPointer { charDepth in
            trie.asciiBelow.withUnsafeBufferPointer { asciiBelow in
            trie.skip.withUnsafeBufferPointer { skip in
            trie.tokenStart.withUnsafeBufferPointer { tokenStart in
            trie.tokens.withUnsafeBufferPointer { tokens in
            vocabulary.charCount.withUnsafeBufferPointer { charCount in
                var i = lo
                var table = space.table
                while i < hi {
                    let d = Int(depth[i])
                    var s = table[Int(walk[d - 1]) &* 256 &+ Int(byte[i])]
                    if s == -2 { s = space.step(walk[d - 1], byte[i]); table = space.table }   // may grow the table
                    if s < 0 { i = Int(skip[i]); continue }
                    walk[d] = s
                    var t = Int(tokenStart[i])
                    let te = Int(tokenStart[i + 1])
                    while t < te { let id = Int(tokens[t]); m[id >> 6] |= 1 << UInt64(id & 63); t += 1 }
                    let below = Int(tokenStart[Int(skip[i])])
                    if below - te >= bulkBelow, charDepth[i] >= 0 {
                        let k = space.contentBound(s)
                        table = space.table
                        if k == 0 { i = Int(skip[i]); continue }   // every token below has another character
                        if k > 0 {
                            let limit = k == all ? Int32.max : charDepth[i] + k
                            t = te
                            while t < below {
                                let id = Int(tokens[t])
                                if charCount[id] <= limit { m[id >> 6] |= 1 << UInt64(id & 63) }
                                t += 1
                            }
                            i = Int(skip[i])
                            continue
                        }
                        // Not decided by length (a pattern, a format): a state that loops on every byte below
                        // (ASCII only) allows the whole subtree.
                        if space.loops(s, asciiBelow[2 * i], asciiBelow[2 * i + 1]) {
                            table = space.table
                            t = te
                            while t < below { let id = Int(tokens[t]); m[id >> 6] |= 1 << UInt64(id & 63); t += 1 }
                            i = Int(skip[i])
                            continue
                        }
                        table = space.table
                    }
                    i += 1
                }
            }}}}}}}}
        }
    }

    deinit { walkStates.deallocate() }
}

/// The matcher's parse states, interned. A state is a set of stacks (the grammar may be ambiguous until later bytes
/// decide, e.g. between two anyOf branches), each stack a chain of grammar states with the innermost on top, plus
/// whether the text so far is complete. Transitions are memoised in a dense 256-wide table per state, so a trie walk
/// over states seen before costs one array read per trie node.
final class StateSpace {
    private let g: CompiledGrammar
    // Stack entries: (grammar state, parent entry or -1), interned.
    private var frameState: [Int32] = [], frameParent: [Int32] = [], frameDepth: [Int32] = []
    private var frameIndex: [Int64: Int32] = [:]
    // Parse states: sorted stack entries whose top reads bytes, and the accept flag.
    private var stateStacks: [[Int32]] = []
    private var stateAccepts: [Bool] = []
    private var stateIndex: [StateKey: Int32] = [:]
    // (states × 256): -2 unknown, -1 dead. A raw buffer: the trie walk reads it once per node, and an array in a
    // class would pay an exclusivity check on every read. Reserved for 16k states at once (16 MiB of address
    // space, which the system backs only as rows are written): growing by copies cost milliseconds inside a mask.
    private(set) var table: UnsafeMutablePointer<Int32> = .allocate(capacity: 256 * 16_384)
    private var tableCapacity = 16_384
    // Per parse state: the state every whole character of string content leads to (-3 unknown, -2 they differ,
    // -1 dead), and contentBound's answer (-3 unknown). Per grammar state: the same over its rule's automaton.
    private var nexts: [Int32] = [], bounds: [Int32] = []
    // Per parse state, two words each: ASCII bytes known to lead back to the state, and known not to.
    private var loopYes: [UInt64] = [], loopNo: [UInt64] = []
    private var grammarNexts: [Int32]
    /// The most characters in one token: a state that keeps this many alive allows every content token.
    let maxChars: Int32
    private(set) var initial: Int32 = 0
    /// Past this many parse states the tables are dropped and rebuilt from the current state (~1 KiB each).
    static let maxStates = 60_000
    /// Deeper nesting than this is refused (the branch dies) rather than grown without bound.
    static let maxStackDepth: Int32 = 2_000

    private struct StateKey: Hashable { var stacks: [Int32]; var accepts: Bool }

    init(_ g: CompiledGrammar, maxChars: Int) {
        self.g = g
        self.maxChars = Int32(maxChars)
        grammarNexts = [Int32](repeating: -3, count: g.stateCount)
        initial = closeAndIntern([internFrame(g.root, -1)], keepDead: true)
    }

    var needsFlush: Bool { stateStacks.count > Self.maxStates }

    func isAccepting(_ s: Int32) -> Bool { stateAccepts[Int(s)] }
    func stacks(of s: Int32) -> [Int32] { stateStacks[Int(s)] }

    @inline(__always) func step(_ s: Int32, _ b: UInt8) -> Int32 {
        let k = Int(s) &* 256 &+ Int(b)
        let t = table[k]
        if t != -2 { return t }
        let r = computeStep(s, b)
        table[k] = r
        return r
    }

    /// Drops every cached state and transition but `keep`, which is re-interned; returns its new id.
    func flush(keeping keep: Int32) -> Int32 {
        let chains = stateStacks[Int(keep)].map(chain)
        let accepts = stateAccepts[Int(keep)]
        frameState.removeAll(); frameParent.removeAll(); frameDepth.removeAll(); frameIndex.removeAll()
        stateStacks.removeAll(); stateAccepts.removeAll(); stateIndex.removeAll(); nexts.removeAll(); bounds.removeAll(); loopYes.removeAll(); loopNo.removeAll()
        initial = closeAndIntern([internFrame(g.root, -1)], keepDead: true)
        let stacks = chains.map { c in c.reduce(Int32(-1)) { internFrame($1, $0) } }
        return intern(Array(Set(stacks)).sorted(), accepts: accepts)
    }

    private func chain(_ f: Int32) -> [Int32] {
        var out: [Int32] = [], f = f
        while f >= 0 { out.append(frameState[Int(f)]); f = frameParent[Int(f)] }
        return out.reversed()
    }

    private func internFrame(_ state: Int32, _ parent: Int32) -> Int32 {
        let key = Int64(state) << 32 | Int64(UInt32(bitPattern: parent))
        if let f = frameIndex[key] { return f }
        let f = Int32(frameState.count)
        frameState.append(state); frameParent.append(parent)
        frameDepth.append(parent < 0 ? 1 : frameDepth[Int(parent)] + 1)
        frameIndex[key] = f
        return f
    }

    private func computeStep(_ s: Int32, _ b: UInt8) -> Int32 {
        var moved: [Int32] = []
        for f in stateStacks[Int(s)] {
            let t = g.next(frameState[Int(f)], b)
            if t >= 0 { moved.append(internFrame(t, frameParent[Int(f)])) }
        }
        if moved.isEmpty { return -1 }
        return closeAndIntern(moved)
    }

    /// Expands calls and returns until every stack's top reads a byte; notes whether the whole grammar completed.
    /// A dead result is -1, except for the initial state of a grammar that matches nothing, which must exist.
    private func closeAndIntern(_ starts: [Int32], keepDead: Bool = false) -> Int32 {
        // Arrays, not sets: closures are a handful of frames, and this runs for every new transition.
        var seen: [Int32] = [], work = starts, out: [Int32] = [], accepts = false
        while let f = work.popLast() {
            if seen.contains(f) { continue }
            seen.append(f)
            let st = frameState[Int(f)], parent = frameParent[Int(f)]
            if g.hasByteEdges(st) { out.append(f) }
            let cs = Int(g.callStart[Int(st)]), ce = Int(g.callStart[Int(st) + 1])
            if cs < ce, frameDepth[Int(f)] < Self.maxStackDepth {
                for c in cs..<ce {
                    // A call in tail position returns straight to the caller's caller: no frame for it, so
                    // chains of rules (object properties) do not deepen the stack or split otherwise equal states.
                    let r = g.callReturn[c]
                    let ret = g.isFinal[Int(r)] ? parent : internFrame(r, parent)
                    work.append(internFrame(g.callee[c], ret))
                }
            }
            if g.accepting[Int(st)] {
                if parent < 0 { accepts = true } else { work.append(parent) }
            }
        }
        if out.isEmpty && !accepts && !keepDead { return -1 }
        out.sort()
        return intern(out, accepts: accepts)
    }

    private func intern(_ sortedStacks: [Int32], accepts: Bool) -> Int32 {
        let key = StateKey(stacks: sortedStacks, accepts: accepts)
        if let s = stateIndex[key] { return s }
        let s = Int32(stateStacks.count)
        stateStacks.append(key.stacks); stateAccepts.append(accepts); nexts.append(-3); bounds.append(-3); loopYes += [0, 0]; loopNo += [0, 0]
        stateIndex[key] = s
        if stateStacks.count > tableCapacity {
            let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: 256 * tableCapacity * 2)
            bigger.update(from: table, count: 256 * tableCapacity)
            table.deallocate()
            table = bigger; tableCapacity *= 2
        }
        (table + Int(s) * 256).update(repeating: -2, count: 256)
        return s
    }

    deinit { table.deallocate() }

    /// Whether every byte in the 128-bit set (lo: bytes 0–63, hi: 64–127) leads from `s` back to `s`; all ones
    /// (a byte above 0x7F) never does. Stops at the first byte that does not; answers are memoised per byte.
    func loops(_ s: Int32, _ lo: UInt64, _ hi: UInt64) -> Bool {
        if lo == ~0 && hi == ~0 { return false }
        let k = Int(s) * 2
        if lo & loopNo[k] != 0 || hi & loopNo[k + 1] != 0 { return false }
        for w in 0..<2 {
            var need = (w == 0 ? lo : hi) & ~loopYes[k + w]
            while need != 0 {
                let bit = need & (~need &+ 1)
                let b = UInt8(need.trailingZeroBitCount + 64 * w)
                if step(s, b) == s { loopYes[k + w] |= bit } else { loopNo[k + w] |= bit; return false }
                need &= need - 1
            }
        }
        return true
    }

    /// How `s` treats tokens made of whole characters of JSON string content ('"', '\\' and controls excepted), when
    /// it decides them by length alone: k ≥ 0 means exactly those of at most k characters are allowed (k =
    /// maxChars: all of them); -1 means it does not (they must be walked). Follows the chain of states that every
    /// such character leads to: a loop (a free string) allows all, a chain that dies after k steps (a string with
    /// k characters left) allows k.
    func contentBound(_ s: Int32) -> Int32 {
        let known = bounds[Int(s)]
        if known != -3 { return known }
        var chain: [Int32] = [s]
        var end: Int32   // the bound of chain's last state
        while true {
            let x = chain[chain.count - 1]
            if bounds[Int(x)] != -3 { end = bounds[Int(x)]; break }
            if chain.count > Int(maxChars) { bounds[Int(s)] = maxChars; return maxChars }
            let n = contentNext(x)
            if n == -2 { end = -1; bounds[Int(x)] = -1; break }
            if n == -1 { end = 0; bounds[Int(x)] = 0; break }
            if chain.contains(n) { end = maxChars; bounds[Int(x)] = maxChars; break }
            chain.append(n)
        }
        for x in chain.reversed().dropFirst() {
            end = end < 0 ? -1 : min(maxChars, end + 1)
            bounds[Int(x)] = end
        }
        return bounds[Int(s)]
    }

    /// The state every whole character of string content leads to from `s`, -1 when they all die, -2 when they do
    /// not all agree. Decided per stack top in its rule's automaton (string content never calls or returns), so it
    /// costs one representative step here.
    private func contentNext(_ s: Int32) -> Int32 {
        if nexts[Int(s)] != -3 { return nexts[Int(s)] }
        var r: Int32 = -2
        if stateStacks[Int(s)].allSatisfy({ grammarNext(frameState[Int($0)]) != -2 }) { r = step(s, 0x61) }   // "a"
        nexts[Int(s)] = r
        return r
    }

    /// contentNext for one grammar state: the automaton state every whole character of string content leads to
    /// (-1 none, -2 they differ). Characters must pass only through states that neither accept nor call, so the
    /// parse state after any of them is the one after "a".
    private func grammarNext(_ q: Int32) -> Int32 {
        if grammarNexts[Int(q)] != -3 { return grammarNexts[Int(q)] }
        var target: Int32 = -3
        var ok = true
        func meet(_ t: Int32) { if target == -3 { target = t } else if target != t { ok = false } }
        // The targets of x's edges over the bytes of r, by edge (edges are sorted and disjoint), -1 for any gap.
        func targets(_ x: Int32, _ r: ClosedRange<UInt8>, _ body: (Int32) -> Void) {
            var next = Int(r.lowerBound)
            for e in Int(g.edgeStart[Int(x)])..<Int(g.edgeStart[Int(x) + 1]) {
                let lo = max(Int(g.edgeLo[e]), Int(r.lowerBound)), hi = min(Int(g.edgeHi[e]), Int(r.upperBound))
                if lo > hi { continue }
                if lo > next { body(-1) }
                body(g.edgeTo[e]); next = hi + 1
            }
            if next <= Int(r.upperBound) { body(-1) }
        }
        // ASCII first: most states that do not agree show it here.
        for r: ClosedRange<UInt8> in [0x20...0x21, 0x23...0x5B, 0x5D...0x7F] where ok { targets(q, r, meet) }
        // Multi-byte characters: UTF-8 states 1/2/3 need that many continuation bytes, 4 after E0, 5 after ED,
        // 6 after F0, 7 after F4.
        func moves(_ u: Int) -> [(ClosedRange<UInt8>, Int)] {
            switch u {
            case 0: return [(0xC2...0xDF, 1), (0xE0...0xE0, 4), (0xE1...0xEC, 2), (0xED...0xED, 5), (0xEE...0xEF, 2),
                            (0xF0...0xF0, 6), (0xF1...0xF3, 3), (0xF4...0xF4, 7)]
            case 1: return [(0x80...0xBF, 0)]
            case 2: return [(0x80...0xBF, 1)]
            case 3: return [(0x80...0xBF, 2)]
            case 4: return [(0xA0...0xBF, 1)]
            case 5: return [(0x80...0x9F, 1)]
            case 6: return [(0x90...0xBF, 2)]
            default: return [(0x80...0x8F, 2)]
            }
        }
        var seen = Set<Int64>(), work: [(Int, Int32)] = ok ? [(0, q)] : []
        while ok, let (u, x) = work.popLast() {
            for (range, u2) in moves(u) where ok {
                targets(x, range) { y in
                    if y < 0 || u2 == 0 { meet(y); return }
                    if g.accepting[Int(y)] || g.callStart[Int(y)] != g.callStart[Int(y) + 1] { ok = false; return }
                    if seen.insert(Int64(u2) << 32 | Int64(y)).inserted { work.append((u2, y)) }
                }
            }
        }
        let r = ok ? target : -2
        grammarNexts[Int(q)] = r
        return r
    }
}
