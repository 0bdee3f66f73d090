// The inference forward pass over a batch of rows: prefill chunks of one or more sequences, decode steps of many
// sequences (each with its own KV cache and LoRA adapter), or both; every run of rows is computed as it would be alone. Buffers are laid out once for `maxRows`; one generation
// thread owns a context. Not the training forward: that one keeps activations for backward (Train/).
import CKernels

public struct ForwardRow: Sendable {
    public var token: Int
    public var position: Int
    /// Index into the `caches` passed to forward; rows of one sequence are contiguous and in position order.
    public var sequence: Int
    public var adapter: LoRAAdapter?
    public var wantsLogits: Bool
    public init(token: Int, position: Int, sequence: Int, adapter: LoRAAdapter? = nil, wantsLogits: Bool) {
        self.token = token; self.position = position; self.sequence = sequence; self.adapter = adapter
        self.wantsLogits = wantsLogits
    }
}

public final class InferenceContext {
    public let model: Transformer
    public let maxRows: Int
    private let x, xn, q, k, v, att, gate, up, tmp, cs, csLocal, loraTmp: UnsafeMutablePointer<Float>
    private var probs: UnsafeMutablePointer<Float>
    private var probsCapacity = 0
    private let attnScratch: UnsafeMutablePointer<Float>
    private let attnBlock: Int
    private var logits: UnsafeMutablePointer<Float>
    private var logitsCapacity = 0
    /// A prompt run's keys and values widened from an f16 cache for the blocked attention (positions × kvDim each).
    private var wideK: UnsafeMutablePointer<Float>, wideV: UnsafeMutablePointer<Float>
    private var wideKCapacity = 0, wideVCapacity = 0
    private let linear: LinearScratch

    /// See Transformer.defaultQuantizedRowsLimit. 0 keeps every product in f32, decode included (reference checks).
    /// Decode steps use the block kernel unless this is 0.
    public var quantizedRowsLimit: Int {
        get { linear.quantizedRowsLimit }
        set { linear.quantizedRowsLimit = newValue }
    }
    /// Whether the current chunk is made of decode steps only (one row per sequence).
    private var decodeOnly = false
    /// The current chunk's rows in groups of consecutive runs that take the same kernel: first row, rows, kernel and
    /// the group's runs (indices into chunkRuns).
    private var kernelGroups: [(first: Int, count: Int, kernel: LinearScratch.Kernel, runs: Range<Int>)] = []
    /// The current chunk's runs (first row, rows), for the LoRA deltas, which are computed run by run.
    private var chunkRuns: [(Int, Int)] = []

    /// Scratch floats per row for the LoRA deltas: A·x of one row (rank ≤ 256, as jobs and adapter loading allow);
    /// three projections' worth per row (q, k and v are flushed together).
    static let loraScratchPerRow = 256
    /// Decode-step LoRA deltas waiting for flushLoRA: output, input, their widths, the projection.
    private var pendingLoRA: [(out: UnsafeMutablePointer<Float>, input: UnsafeMutablePointer<Float>, outF: Int, inF: Int,
                               target: LoRATarget)] = []
    /// A decode chunk's rows grouped by adapter (in order of each adapter's first row; rows ascending), made once per
    /// chunk for flushLoRA's tasks: each adapter and its range of `groupedRows`.
    private var adapterGroups: [(adapter: LoRAAdapter, rows: Range<Int>)] = []
    private var groupedRows: [Int] = []
    /// flushLoRA's tasks, reused from flush to flush.
    private var loraTasks: [LoRARowTask] = []

    /// One projection's LoRA delta over some rows, in raw addresses only, so that the pool's threads touch no
    /// reference counts (the adapters stay alive in adapterGroups or the chunk's rows while the task runs).
    private struct LoRARowTask {
        var a, bT: UnsafePointer<Float>
        var out, input: UnsafeMutablePointer<Float>
        var inF, outF, rank: Int
        var scale: Float
        /// Decode: a range of groupedRows. Prompt chunks: the run's rows themselves.
        var rows: Range<Int>
        /// Where its rows' scratch starts in loraTmp, in rows (decode: the projection's slot · maxRows, then by row;
        /// prompt chunks: the run's first row).
        var scratchRow: Int
    }

    public init(model: Transformer, maxRows: Int = 64) {
        self.model = model
        self.maxRows = maxRows
        let c = model.config, R = maxRows
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(n, 1)) }
        x = alloc(R * c.dim); xn = alloc(R * max(c.dim, c.qDim)); q = alloc(R * c.qDim); k = alloc(R * c.kvDim)
        v = alloc(R * c.kvDim); att = alloc(R * c.qDim); gate = alloc(R * c.hiddenDim); up = alloc(R * c.hiddenDim)
        tmp = alloc(R * max(c.dim, c.hiddenDim)); cs = alloc(R * c.headDim); loraTmp = alloc(3 * R * Self.loraScratchPerRow)
        csLocal = alloc(model.ropeLocal == nil ? 0 : R * c.headDim)
        probs = alloc(0); logits = alloc(0); wideK = alloc(0); wideV = alloc(0)
        let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, qStride: c.qDim, kvStride: c.kvDim)
        attnBlock = attentionBlockSize(headDim: c.headDim)
        attnScratch = alloc(blockedAttentionForwardScratch(shape, block: attnBlock))
        linear = LinearScratch(maxRows: R, maxCols: max(c.dim, c.hiddenDim, c.qDim))
    }

    deinit {
        for p in [x, xn, q, k, v, att, gate, up, tmp, cs, csLocal, loraTmp, probs, logits, attnScratch, wideK, wideV] { p.deallocate() }
    }

    /// Runs `rows`, appending their keys and values to `caches`, and returns the logits of the rows that want them
    /// (in row order, V values each). The buffer stays valid until the next call.
    public func forward(_ rows: [ForwardRow], caches: [KVCache]) -> UnsafeBufferPointer<Float> {
        let V = model.config.vocabSize
        let wanted = rows.reduce(0) { $0 + ($1.wantsLogits ? 1 : 0) }
        ensure(&logits, &logitsCapacity, wanted * V)
        var produced = 0
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + maxRows)
            produced += forwardChunk(rows[start..<end], caches: caches, logitsOut: logits + produced * V)
            start = end
        }
        return UnsafeBufferPointer(start: logits, count: wanted * V)
    }

    private func ensure(_ p: inout UnsafeMutablePointer<Float>, _ capacity: inout Int, _ n: Int) {
        guard n > capacity else { return }
        p.deallocate()
        capacity = max(n, capacity * 2)
        p = .allocate(capacity: capacity)
    }

    /// Runs of rows belonging to the same sequence: (first row, count).
    private func runs(_ rows: ArraySlice<ForwardRow>) -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        var i = rows.startIndex
        while i < rows.endIndex {
            var j = i + 1
            while j < rows.endIndex && rows[j].sequence == rows[i].sequence { j += 1 }
            result.append((i - rows.startIndex, j - i))
            i = j
        }
        return result
    }

    private func forwardChunk(_ rows: ArraySlice<ForwardRow>, caches: [KVCache], logitsOut: UnsafeMutablePointer<Float>) -> Int {
        let c = model.config, w = model.weights
        let R = rows.count, C = c.dim, HD = c.headDim
        let rowArray = Array(rows)
        let seqRuns = runs(rows)
        decodeOnly = seqRuns.allSatisfy { $0.1 == 1 }
        adapterGroups.removeAll(keepingCapacity: true)
        groupedRows.removeAll(keepingCapacity: true)
        if decodeOnly {
            for (r, row) in rows.enumerated() {
                guard let adapter = row.adapter, !adapterGroups.contains(where: { $0.adapter === adapter }) else { continue }
                let start = groupedRows.count
                for (r2, row2) in rows.enumerated().dropFirst(r) where row2.adapter === adapter { groupedRows.append(r2) }
                adapterGroups.append((adapter, start..<groupedRows.count))
            }
        }
        chunkRuns = seqRuns
        // Each run takes the kernel it would alone (a prompt's numbers must not depend on what shares its forward);
        // neighbours taking the same kernel share one call.
        kernelGroups = []
        for (i, (first, count)) in seqRuns.enumerated() {
            let k: LinearScratch.Kernel = decodeOnly ? .decode : linear.kernel(forRunOf: count)
            if let last = kernelGroups.last, last.kernel == k, last.first + last.count == first {
                kernelGroups[kernelGroups.count - 1].count += count
                kernelGroups[kernelGroups.count - 1].runs = last.runs.lowerBound..<(i + 1)
            } else {
                kernelGroups.append((first, count, k, i..<(i + 1)))
            }
        }
        for (first, count) in seqRuns {
            let cache = caches[rowArray[first].sequence]
            precondition(rowArray[first].position == cache.count, "rows must continue their sequence's cache")
            cache.reserve(cache.count + count)
        }
        for (r, row) in rowArray.enumerated() {
            w.tokenEmbedding.row(row.token, into: x + r * C)
            if c.embeddingScale != 1 { for i in 0..<C { x[r * C + i] *= c.embeddingScale } }
            model.rope.fill(cs + r * HD, position: row.position)
            model.ropeLocal?.fill(csLocal + r * HD, position: row.position)
        }
        // Decode steps' attention weights: NH × Tk per single-row run (prefill runs keep none).
        var probOffsets: [Int] = []
        var probTotal = 0
        for (first, count) in seqRuns {
            probOffsets.append(probTotal)
            if count == 1 { probTotal += c.heads * (rowArray[first].position + 1) }
        }
        ensure(&probs, &probsCapacity, probTotal)

        for l in 0..<c.layers {
            let lw = w.layers[l]
            let window = c.window(layer: l), rcs = window == nil ? cs : csLocal
            let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: HD, qStride: c.qDim, kvStride: c.kvDim,
                                       scale: c.attentionScale, window: window)
            rmsnormForward(xn, nil, x, lw.attnNorm, N: R, C: C, eps: c.rmsEps)
            project(q, xn, R, lw.wq, lw.bq, l, .q, rowArray)
            project(k, xn, R, lw.wk, lw.bk, l, .k, rowArray, sameInput: true)
            project(v, xn, R, lw.wv, lw.bv, l, .v, rowArray, sameInput: true)
            flushLoRA(layer: l)
            if let qn = lw.qNorm, let kn = lw.kNorm {
                rmsnormForward(q, nil, q, qn, N: R * c.heads, C: HD, eps: c.rmsEps)
                rmsnormForward(k, nil, k, kn, N: R * c.kvHeads, C: HD, eps: c.rmsEps)
            }
            ropeForward(q, rcs, N: R, heads: c.heads, HD: HD, stride: c.qDim)
            ropeForward(k, rcs, N: R, heads: c.kvHeads, HD: HD, stride: c.kvDim)
            for (r, row) in rowArray.enumerated() {
                caches[row.sequence].store(layer: l, position: row.position, key: k + r * c.kvDim, value: v + r * c.kvDim)
            }
            attend(layer: l, rows: rowArray, runs: seqRuns, probOffsets: probOffsets, caches: caches, shape: shape)
            project(tmp, att, R, lw.wo, nil, l, .o, rowArray)
            flushLoRA(layer: l)
            if let pn = lw.postAttnNorm { rmsnormForward(tmp, nil, tmp, pn, N: R, C: C, eps: c.rmsEps) }
            for i in 0..<(R * C) { x[i] += tmp[i] }

            rmsnormForward(xn, nil, x, lw.ffnNorm, N: R, C: C, eps: c.rmsEps)
            project(gate, xn, R, lw.wGate, nil, l, .gate, rowArray)
            project(up, xn, R, lw.wUp, nil, l, .up, rowArray, sameInput: true)
            flushLoRA(layer: l)
            // Element-wise, so split across the pool for prompts without changing a bit.
            let gate = self.gate, up = self.up, H = c.hiddenDim, activation = c.activation
            parallelRanges(R, pieces: R >= 8 ? 2 * KernelThreads.count : 1) { rs in
                gatedForward(activation, gate + rs.lowerBound * H, gate + rs.lowerBound * H, up + rs.lowerBound * H, count: rs.count * H)
            }
            project(tmp, gate, R, lw.wDown, nil, l, .down, rowArray)
            flushLoRA(layer: l)
            if let pn = lw.postFfnNorm { rmsnormForward(tmp, nil, tmp, pn, N: R, C: C, eps: c.rmsEps) }
            for i in 0..<(R * C) { x[i] += tmp[i] }
        }
        for row in rowArray { caches[row.sequence].count = max(caches[row.sequence].count, row.position + 1) }

        var n = 0
        for (r, row) in rowArray.enumerated() where row.wantsLogits {
            rmsnormForward(xn + n * C, nil, x + r * C, w.outputNorm, N: 1, C: C, eps: c.rmsEps)
            n += 1
        }
        // One row per sequence that wants logits (its prompt's last or its decode step): each as it would be alone.
        if n > 0 { linear.linear(logitsOut, xn, rows: n, w.output, kernel: decodeOnly || n > 1 ? .decode : .byRows) }
        return n
    }

    private func attend(layer l: Int, rows: [ForwardRow], runs: [(Int, Int)], probOffsets: [Int], caches: [KVCache],
                        shape: AttentionShape) {
        let c = model.config, HD = c.headDim, group = c.heads / c.kvHeads
        // Single-token runs (decode steps) go in parallel over (run, head); prefill runs, one at a time, are blocked.
        let single = runs.indices.filter { runs[$0].1 == 1 }
        if !single.isEmpty {
            // A task per (run, head); in a batch, per (run, key-value head) over the heads that share it, so that its
            // keys and values are fetched once into one core's cache, not once per head (the cache of 16 sequences
            // does not fit in the caches). Each head is computed alike either way.
            let perTask = single.count >= 4 ? group : 1, tasksPerRun = c.heads / perTask
            parallelFor(single.count * tasksPerRun) { task in
                let ri = single[task / tasksPerRun], first = (task % tasksPerRun) * perTask
                let r = runs[ri].0, row = rows[r], cache = caches[row.sequence]
                let Tk = row.position + 1, lo = shape.firstVisibleKey(row.position)
                if perTask > 1 && cache.halfPrecision {
                    // The heads of one key-value head together: its keys and values widened once for all of them.
                    let at = lo * c.kvDim + (first / group) * HD
                    tk_attend_heads_f16(att + r * c.qDim + first * HD, probs + probOffsets[ri] + first * Tk, Int64(Tk),
                                        q + r * c.qDim + first * HD, cache.halves(cache.k[l]) + at,
                                        cache.halves(cache.v[l]) + at, Int64(Tk - lo), Int64(HD), Int64(c.kvDim),
                                        shape.scale, Int32(perTask))
                    return
                }
                for h in first..<(first + perTask) {
                    let at = lo * c.kvDim + (h / group) * HD
                    if cache.halfPrecision {
                        tk_attend_one_f16(att + r * c.qDim + h * HD, probs + probOffsets[ri] + h * Tk, q + r * c.qDim + h * HD,
                                          cache.halves(cache.k[l]) + at, cache.halves(cache.v[l]) + at, Int64(Tk - lo),
                                          Int64(HD), Int64(c.kvDim), shape.scale)
                    } else {
                        tk_attend_one(att + r * c.qDim + h * HD, probs + probOffsets[ri] + h * Tk, q + r * c.qDim + h * HD,
                                      cache.floats(cache.k[l]) + at, cache.floats(cache.v[l]) + at, Int64(Tk - lo),
                                      Int64(HD), Int64(c.kvDim), shape.scale)
                    }
                }
            }
        }
        for (first, count) in runs where count > 1 {
            let cache = caches[rows[first].sequence], keys = rows[first].position + count
            if cache.halfPrecision {
                ensure(&wideK, &wideKCapacity, keys * c.kvDim)
                ensure(&wideV, &wideVCapacity, keys * c.kvDim)
            }
            let (ck, cv) = cache.floatRows(layer: l, from: 0, to: keys, scratchK: wideK, scratchV: wideV)
            blockedAttentionForward(att + first * c.qDim, nil, q + first * c.qDim, ck, cv, Tq: count,
                                    start: rows[first].position, firstKey: nil, shape: shape, block: attnBlock, scratch: attnScratch)
        }
    }

    /// out[R, out] = in[R, in] · Wᵀ (+ bias) + the LoRA delta of each row's adapter.
    private func project(_ out: UnsafeMutablePointer<Float>, _ input: UnsafeMutablePointer<Float>, _ R: Int,
                         _ w: WeightMatrix, _ bias: [Float]?, _ layer: Int, _ target: LoRATarget, _ rows: [ForwardRow],
                         sameInput: Bool = false) {
        let outF = w.rows, inF = w.cols
        for group in kernelGroups {
            if group.runs.count == 1 || linear.computesRowsApart(w, kernel: group.kernel) {
                linear.linear(out + group.first * outF, input + group.first * inF, rows: group.count, w, kernel: group.kernel,
                              sameInput: sameInput && kernelGroups.count == 1)
            } else {
                // sgemm: a run's own call, as alone (see computesRowsApart).
                for (first, count) in chunkRuns[group.runs] {
                    linear.linear(out + first * outF, input + first * inF, rows: count, w, kernel: group.kernel)
                }
            }
        }
        if let bias {
            for r in 0..<R { for i in 0..<outF { out[r * outF + i] += bias[i] } }
        }
        if decodeOnly {
            // Left for flushLoRA, which runs the deltas of the projections that share an input (q, k, v; gate, up)
            // in one parallel job rather than one each.
            pendingLoRA.append((out, input, outF, inF, target))
            return
        }
        // Prompt chunks: run by run, as each would be alone (a one-row run as a decode step) — the runs side by side
        // on the pool, each with its own scratch (its rows' slice of loraTmp), so that a run's numbers are those of
        // its own calls. (Serially, several prompts' small products kept the other core waiting: ~4 % of the
        // generation thread's samples in 16 concurrent requests.)
        loraTasks.removeAll(keepingCapacity: true)
        for (first, count) in chunkRuns {
            guard let adapter = rows[first].adapter, let pair = adapter.pair(layer: layer, target) else { continue }
            loraTasks.append(LoRARowTask(a: pair.aPointer, bT: pair.bTPointer, out: out, input: input, inF: inF, outF: outF,
                                         rank: pair.rank, scale: adapter.scale, rows: first..<(first + count), scratchRow: first))
        }
        let scratch = loraTmp
        loraTasks.withUnsafeBufferPointer { tasks in
            parallelFor(tasks.count) { i in
                let t = tasks[i], s = scratch + t.scratchRow * Self.loraScratchPerRow
                if t.rows.count == 1 { Self.loraRow(t, row: t.rows.lowerBound, scratch: s) } else { Self.loraRows(t, scratch: s) }
            }
        }
    }

    /// The LoRA deltas of a decode step's projections since the last flush. Row by row (tk_lora_row: a sequence's
    /// output must not depend on who shares its batch), in parallel with a task per (projection, adapter) over its
    /// rows, so that each adapter's matrices are read into one core's cache once per step. Each row of each
    /// projection writes only its own output and scratch: the split changes no bits.
    private func flushLoRA(layer: Int) {
        guard !pendingLoRA.isEmpty else { return }
        defer { pendingLoRA.removeAll(keepingCapacity: true) }
        // (projection, adapter group, its matrices): the rows' grouping is the chunk's (adapterGroups), so a flush
        // looks up each adapter's matrices once, not once per row.
        loraTasks.removeAll(keepingCapacity: true)
        for (slot, p) in pendingLoRA.enumerated() {
            for group in adapterGroups {
                guard let pair = group.adapter.pair(layer: layer, p.target) else { continue }
                loraTasks.append(LoRARowTask(a: pair.aPointer, bT: pair.bTPointer, out: p.out, input: p.input, inF: p.inF,
                                             outF: p.outF, rank: pair.rank, scale: group.adapter.scale, rows: group.rows,
                                             scratchRow: slot * maxRows))
            }
        }
        let scratch = loraTmp
        loraTasks.withUnsafeBufferPointer { tasks in
            groupedRows.withUnsafeBufferPointer { grouped in
                parallelFor(tasks.count) { i in
                    let t = tasks[i]
                    for j in t.rows {
                        let r = grouped[j]
                        Self.loraRow(t, row: r, scratch: scratch + (t.scratchRow + r) * Self.loraScratchPerRow)
                    }
                }
            }
        }
    }

    /// y[out] += s·B·(A·x) for one row, in an order that does not depend on the batch (tk_lora_row).
    private static func loraRow(_ t: LoRARowTask, row r: Int, scratch: UnsafeMutablePointer<Float>) {
        tk_lora_row(t.out + r * t.outF, t.input + r * t.inF, t.a, t.bT, Int64(t.rank), Int64(t.inF), Int64(t.outF), t.scale,
                    scratch)
    }

    /// The same for a run of rows at once with sgemm (prefill); `scratch` holds rows × rank floats.
    private static func loraRows(_ t: LoRARowTask, scratch: UnsafeMutablePointer<Float>) {
        let first = t.rows.lowerBound, n = t.rows.count
        Blas.sgemm(transA: false, transB: true, m: n, n: t.rank, k: t.inF, a: t.input + first * t.inF, lda: t.inF, b: t.a,
                   ldb: t.inF, beta: 0, c: scratch, ldc: t.rank)
        Blas.sgemm(transA: false, transB: false, m: n, n: t.outF, k: t.rank, alpha: t.scale, a: scratch, lda: t.rank,
                   b: t.bT, ldb: t.outF, beta: 1, c: t.out + first * t.outF, ldc: t.outF)
    }
}
