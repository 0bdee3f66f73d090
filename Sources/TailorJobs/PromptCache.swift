// Prompts' attention caches kept after their prefill, so that a prompt which repeats one starts from its rows: the
// same request sent again, the other samples of a self-consistency or evaluation loop, a long system prompt or the
// earlier turns of a long conversation. OpenAI's automatic prompt caching, reported as OpenAI reports it
// (`usage.prompt_tokens_details.cached_tokens`).
//
// Reuse never changes a result. The generation thread prefills a prompt in chunks that start at multiples of the
// chunk size, and a chunk's rows depend only on the tokens up to its end and on its own length (the kernels are picked
// by it), not on what else shares the forward. So the rows of the whole chunks a prompt shares with a cached one are
// the rows its own prefill would write, bit for bit, and a prompt equal to a cached one takes all its rows and its last
// row's logits. A shorter common prefix than one chunk is recomputed.
//
// Entries are kept per base model, adapter (held weakly: an unloaded adapter's entries go with it) and scope (the
// caller's project: one project's prompts are never reused for, or timed by, another), least recently used first out
// when the bytes go over the budget. Owned by the generation thread.
import TailorEngine

final class PromptCache {
    /// Where a prompt can start: the cached rows to copy and, when the whole prompt was cached, its last row's logits.
    struct Hit {
        let rows: KVCache
        let positions: Int
        let logits: [Float]?
    }

    private final class Entry {
        weak var base: LanguageModel?
        weak var adapter: LoRAAdapter?
        let hasAdapter: Bool
        let scope: String
        let tokens: [Int]
        let rows: KVCache
        let logits: [Float]
        let bytes: Int
        var lastUse: UInt64

        init(base: LanguageModel, adapter: LoRAAdapter?, scope: String, tokens: [Int], rows: KVCache, logits: [Float], lastUse: UInt64) {
            self.base = base; self.adapter = adapter; hasAdapter = adapter != nil; self.scope = scope
            self.tokens = tokens; self.rows = rows; self.logits = logits; self.lastUse = lastUse
            bytes = rows.bytes + logits.count * MemoryLayout<Float>.stride
        }

        /// Still loaded, and for this base, adapter and scope.
        func serves(_ base: LanguageModel, _ adapter: LoRAAdapter?, _ scope: String) -> Bool {
            self.base === base && self.adapter === adapter && hasAdapter == (adapter != nil) && self.scope == scope
        }
        var isOrphaned: Bool { base == nil || (hasAdapter && adapter == nil) }
    }

    /// Bytes the entries may hold together; 0 turns the cache off.
    let budget: Int
    /// The prefill's chunk: partial reuse stops at a multiple of it.
    let chunk: Int
    private var entries: [Entry] = []
    private var clock: UInt64 = 0
    private(set) var bytes = 0

    init(budget: Int, chunk: Int) {
        self.budget = max(0, budget); self.chunk = max(1, chunk)
    }

    var isEnabled: Bool { budget > 0 }
    var count: Int { entries.count }

    /// The most of `prompt` a cached entry gives: every token (with the logits) when the entry is the same prompt,
    /// else the whole chunks of the longest common prefix that leave at least the prompt's last token to compute.
    func lookup(base: LanguageModel, adapter: LoRAAdapter?, scope: String = "", prompt: [Int]) -> Hit? {
        guard isEnabled, !prompt.isEmpty else { return nil }
        var best: (entry: Entry, positions: Int, whole: Bool)?
        for e in entries where e.serves(base, adapter, scope) {
            let common = Self.commonPrefix(e.tokens, prompt)
            if common == prompt.count && e.tokens.count == prompt.count {
                best = (e, common, true)
                break
            }
            let usable = min(common, prompt.count - 1) / chunk * chunk
            if usable > 0 && usable > (best?.positions ?? 0) { best = (e, usable, false) }
        }
        guard let best else { return nil }
        clock += 1
        best.entry.lastUse = clock
        return Hit(rows: best.entry.rows, positions: best.positions, logits: best.whole ? best.entry.logits : nil)
    }

    /// Keeps `prompt`'s rows (the first `prompt.count` positions of `rows`, copied) and its last row's logits,
    /// unless an entry already holds them or they alone exceed the budget; then drops the least recently used
    /// entries until the budget holds.
    func insert(base: LanguageModel, adapter: LoRAAdapter?, scope: String = "", prompt: [Int], rows: KVCache, logits: [Float]) {
        guard isEnabled, !prompt.isEmpty, rows.count >= prompt.count else { return }
        clock += 1
        if let same = entries.first(where: { $0.serves(base, adapter, scope) && $0.tokens == prompt }) {
            same.lastUse = clock
            return
        }
        let size = KVCache.bytes(base.transformer.config, positions: prompt.count, halfPrecision: rows.halfPrecision)
            + logits.count * MemoryLayout<Float>.stride
        guard size <= budget else { return }
        let entry = Entry(base: base, adapter: adapter, scope: scope, tokens: prompt, rows: rows.clone(capacity: prompt.count, positions: prompt.count),
                          logits: logits, lastUse: clock)
        entries.append(entry)
        bytes += entry.bytes
        evict()
    }

    /// Drops entries whose model is gone, then the least recently used until the bytes fit the budget.
    private func evict() {
        entries.removeAll { e in
            guard e.isOrphaned else { return false }
            bytes -= e.bytes
            return true
        }
        guard bytes > budget else { return }
        entries.sort { $0.lastUse < $1.lastUse }
        var drop = 0
        while bytes > budget, drop < entries.count {
            bytes -= entries[drop].bytes
            drop += 1
        }
        entries.removeFirst(drop)
    }

    static func commonPrefix(_ a: [Int], _ b: [Int]) -> Int {
        let n = min(a.count, b.count)
        var i = 0
        while i < n && a[i] == b[i] { i += 1 }
        return i
    }
}
