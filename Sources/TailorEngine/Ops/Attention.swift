// Causal multi-head attention with grouped-query heads (head h reads kv head h / (NH/NKV)), optionally within a sliding
// window (AttentionShape.window). One call covers a block of Tq queries at absolute positions start..<start+Tq over
// keys 0..<start+Tq of the same sequence. Two forms: the naive
// one, which holds the (Tq, Tk) probabilities of every head (decode steps, and the reference the tests check the
// other against), and the blocked one (after FlashAttention-2), which keeps only a log-sum-exp per query row and
// recomputes the probabilities block by block in the backward pass, so memory stays linear in the length (training
// and prefill). Products go through sgemm.
import CKernels
import Foundation

package struct AttentionShape {
    package var heads: Int          // NH
    package var kvHeads: Int        // NKV
    package var headDim: Int        // HD
    package var qStride: Int        // row stride of q and out (≥ NH*HD)
    package var kvStride: Int       // row stride of k and v (≥ NKV*HD)
    package var scale: Float        // of q·kᵀ: 1/sqrt(HD) unless the model says otherwise
    /// Sliding-window attention (Gemma 3's local layers): a query at position p sees keys p-window+1...p only.
    package var window: Int?
    package init(heads: Int, kvHeads: Int, headDim: Int, qStride: Int, kvStride: Int, scale: Float? = nil, window: Int? = nil) {
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim; self.qStride = qStride; self.kvStride = kvStride
        self.scale = scale ?? 1 / Float(headDim).squareRoot(); self.window = window
    }

    /// The first key a query at `position` sees (0 without a window).
    @inline(__always) package func firstVisibleKey(_ position: Int) -> Int { window.map { max(0, position - $0 + 1) } ?? 0 }
}

/// out[Tq, NH*HD] = softmax(q·kᵀ·scale, causal) · v. probs[NH, Tq, Tk] receives the attention weights (Tk = start+Tq).
package func attentionForward(_ out: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                      _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                      Tq: Int, start: Int, shape s: AttentionShape) {
    let Tk = start + Tq, HD = s.headDim, group = s.heads / s.kvHeads
    for h in 0..<s.heads {
        let g = h / group
        let P = probs + h * Tq * Tk
        let qh = q + h * HD, kg = k + g * HD, vg = v + g * HD, oh = out + h * HD
        if Tq == 1 {
            // A decode step: vector dot products beat sgemm's call overhead at this size.
            let lo = s.firstVisibleKey(Tk - 1)
            P.update(repeating: 0, count: lo)
            tk_attend_one(oh, P + lo, qh, kg + lo * s.kvStride, vg + lo * s.kvStride, Int64(Tk - lo), Int64(HD),
                          Int64(s.kvStride), s.scale)
            continue
        }
        Blas.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: HD, alpha: s.scale, a: qh, lda: s.qStride,
                   b: kg, ldb: s.kvStride, beta: 0, c: P, ldc: Tk)
        for i in 0..<Tq {
            let row = P + i * Tk, valid = start + i + 1, lo = s.firstVisibleKey(start + i)
            tk_softmax(row + lo, Int64(valid - lo))
            for t in 0..<lo { row[t] = 0 }
            for t in valid..<Tk { row[t] = 0 }
        }
        Blas.sgemm(transA: false, transB: false, m: Tq, n: HD, k: Tk, a: P, lda: Tk, b: vg, ldb: s.kvStride,
                   beta: 0, c: oh, ldc: s.qStride)
    }
}

/// Backward of attentionForward for a block with start = 0 (training). Adds into dq, dk, dv; dprobs is scratch
/// of the size of probs. With S = scale·QKᵀ, P = softmax(S): dP = dO·Vᵀ, dV += Pᵀ·dO,
/// dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ += scale·dS·K, dK += scale·dSᵀ·Q.
package func attentionBackward(_ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
                       _ dprobs: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ probs: UnsafePointer<Float>,
                       _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                       T: Int, shape s: AttentionShape) {
    let HD = s.headDim, group = s.heads / s.kvHeads
    for h in 0..<s.heads {
        let g = h / group
        let P = probs + h * T * T, dP = dprobs + h * T * T
        let doh = dout + h * HD
        Blas.sgemm(transA: false, transB: true, m: T, n: T, k: HD, a: doh, lda: s.qStride, b: v + g * HD, ldb: s.kvStride,
                   beta: 0, c: dP, ldc: T)
        Blas.sgemm(transA: true, transB: false, m: T, n: HD, k: T, a: P, lda: T, b: doh, ldb: s.qStride,
                   beta: 1, c: dv + g * HD, ldc: s.kvStride)
        for i in 0..<T {
            let p = P + i * T, d = dP + i * T
            let dot = tk_dot(p, d, Int64(i + 1))
            for t in 0...i { d[t] = p[t] * (d[t] - dot) }
            for t in (i + 1)..<T { d[t] = 0 }
        }
        Blas.sgemm(transA: false, transB: false, m: T, n: HD, k: T, alpha: s.scale, a: dP, lda: T, b: k + g * HD,
                   ldb: s.kvStride, beta: 1, c: dq + h * HD, ldc: s.qStride)
        Blas.sgemm(transA: true, transB: false, m: T, n: HD, k: T, alpha: s.scale, a: dP, lda: T, b: q + h * HD,
                   ldb: s.qStride, beta: 1, c: dk + g * HD, ldc: s.kvStride)
    }
}

// MARK: blocked

/// Rows (queries, and keys) per block of the blocked kernels: every product of two blocks then stays within
/// OpenBLAS's single-threaded size (m·n·k ≤ 2^18), so products of different heads run on the kernel pool's threads
/// at once without each of them calling on OpenBLAS's own threads too.
package func attentionBlockSize(headDim: Int) -> Int {
    var b = 64
    while b > 8 && b * b * headDim > 1 << 18 { b /= 2 }
    return b
}

/// Scratch floats the blocked forward needs (one slot per concurrent task).
package func blockedAttentionForwardScratch(_ s: AttentionShape, block B: Int) -> Int { forwardSlots * (B * B + B * s.headDim + 2 * B) }
/// Scratch floats the blocked backward needs: one slot per head, the per-head key and value gradients (T rows)
/// that are summed into each kv head when heads share one, and kᵀ, vᵀ.
package func blockedAttentionBackwardScratch(_ s: AttentionShape, T: Int, block B: Int) -> Int {
    s.heads * (2 * B * B + B) + (s.heads == s.kvHeads ? 0 : 2 * T * s.heads * s.headDim) + 2 * s.kvHeads * s.headDim * T
}

private let forwardSlots = 16

/// The keys query row i (absolute position start + i) sees: firstKey[i]...start+i, and within the shape's window.
/// firstKey (nil: all 0) is the first row of the row's segment when several examples are packed in one sequence
/// (rows and positions then count from the sequence's start alike); a key block no row of a query block sees is
/// never computed.
@inline(__always)
private func lowestKey(_ firstKey: UnsafePointer<Int32>?, _ i: Int, start: Int, _ s: AttentionShape) -> Int {
    max(firstKey.map { Int($0[i]) } ?? 0, s.firstVisibleKey(start + i))
}

/// The keys each of the query rows i0..<i0+n sees in the key block j0..<j1, as lo[r]..<hi[r] counted from j0
/// (0..<0 when none): in a block of the shared prefix (`shared`), all of it for the rows past the prefix and none for
/// the prefix's own rows (which see it through their own range); otherwise the row's own range.
@inline(__always)
private func visibleKeys(_ lo: UnsafeMutablePointer<Int32>, _ hi: UnsafeMutablePointer<Int32>, rows i0: Int, _ n: Int,
                         _ firstKey: UnsafePointer<Int32>?, start: Int, block j0: Int, _ j1: Int, shared: Bool,
                         prefix: Int, _ s: AttentionShape) {
    for r in 0..<n {
        if shared {
            (lo[r], hi[r]) = start + i0 + r >= prefix ? (0, Int32(j1 - j0)) : (0, 0)
            continue
        }
        let a = max(j0, lowestKey(firstKey, i0 + r, start: start, s)), b = min(j1, start + i0 + r + 1)
        (lo[r], hi[r]) = a < b ? (Int32(a - j0), Int32(b - j0)) : (0, 0)
    }
}

/// Calls `body(j0, j1, shared)` for each key block the query rows i0..<i1 see: first the shared prefix's blocks
/// (keys 0..<prefix, which every row past the prefix sees besides its own segment), then the blocks from the lowest
/// key any row's own range starts at up to the last row. Key blocks between the two (other examples' rows) are
/// never computed.
@inline(__always)
private func forEachKeyBlock(rows i0: Int, _ i1: Int, start: Int, firstKey: UnsafePointer<Int32>?, prefix: Int,
                             _ s: AttentionShape, block B: Int, _ body: (Int, Int, Bool) -> Void) {
    if start + i1 > prefix {
        var j0 = 0
        while j0 < prefix { let j1 = min(j0 + B, prefix); body(j0, j1, true); j0 = j1 }
    }
    var kLo = start + i0
    for i in i0..<i1 { kLo = min(kLo, lowestKey(firstKey, i, start: start, s)) }
    var j0 = kLo
    while j0 < start + i1 { let j1 = min(j0 + B, start + i1); body(j0, j1, false); j0 = j1 }
}

/// One of the blocked attention's small products on this thread, in CKernels (tk_block_matmul) rather than OpenBLAS:
/// no allocator lock for the pool's threads to meet in, no packing (BENCHMARKS.md, "One thread pool").
@inline(__always)
private func blockProduct(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>,
                          lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    tk_block_matmul(c, Int64(ldc), a, Int64(lda), transA ? 1 : 0, b, Int64(ldb), transB ? 1 : 0, Int64(m), Int64(n), Int64(k),
                    alpha, beta)
}

/// out[Tq, NH*HD] = softmax(q·kᵀ·scale, causal, within segments) · v, by blocks of B queries × B keys with an online
/// softmax. lse[NH, Tq] (when given) receives each row's log Σ exp(score), all the backward needs besides q, k, v, out.
/// `prefix` > 0 (with start 0): rows 0..<prefix are a prompt prefix the packed examples share, computed once; every
/// row past it sees those keys besides its own segment's. Its rows' positions count on from the prefix, so the window
/// is not applied to the prefix's keys: the caller shares a prefix only where no position reaches the window.
package func blockedAttentionForward(_ out: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>?,
                                     _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                     Tq: Int, start: Int, firstKey: UnsafePointer<Int32>?, prefix: Int = 0,
                                     shape s: AttentionShape, block B: Int, scratch: UnsafeMutablePointer<Float>) {
    precondition(prefix == 0 || start == 0, "a shared prefix is a training pass's, from row 0")
    let HD = s.headDim, group = s.heads / s.kvHeads
    let blocks = (Tq + B - 1) / B
    // Work items (head, query block), costliest (latest) blocks first, dealt round-robin to the slots.
    let items = blocks * s.heads
    let slots = min(forwardSlots, items)
    parallelFor(slots) { slot in
        let S = scratch + slot * (B * B + B * HD + 2 * B)      // (B, B) scores, then probabilities
        let O = S + B * B                                        // (B, HD) unnormalised output
        let m = O + B * HD, l = m + B                            // (B) running max and sum
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * B) { keys in
            let lo = keys.baseAddress!, hi = lo + B              // (B) each row's visible keys in a key block
            var item = slot
            while item < items {
                let I = blocks - 1 - item / s.heads, h = item % s.heads, g = h / group
                item += slots
                let i0 = I * B, i1 = min(Tq, i0 + B), n = i1 - i0
                let qh = q + i0 * s.qStride + h * HD
                O.update(repeating: 0, count: n * HD)
                m.update(repeating: -.infinity, count: n); l.update(repeating: 0, count: n)
                forEachKeyBlock(rows: i0, i1, start: start, firstKey: firstKey, prefix: prefix, s, block: B) { j0, j1, shared in
                    let nk = j1 - j0
                    blockProduct(transA: false, transB: true, m: n, n: nk, k: HD, alpha: s.scale, a: qh, lda: s.qStride,
                                 b: k + j0 * s.kvStride + g * HD, ldb: s.kvStride, beta: 0, c: S, ldc: B)
                    visibleKeys(lo, hi, rows: i0, n, firstKey, start: start, block: j0, j1, shared: shared, prefix: prefix, s)
                    tk_attention_block_forward(S, Int64(B), Int64(n), Int64(nk), lo, hi, m, l, O, Int64(HD), Int64(HD))
                    blockProduct(transA: false, transB: false, m: n, n: HD, k: nk, a: S, lda: B,
                                 b: v + j0 * s.kvStride + g * HD, ldb: s.kvStride, beta: 1, c: O, ldc: HD)
                }
                for r in 0..<n {
                    let o = out + (i0 + r) * s.qStride + h * HD, inv = 1 / l[r]
                    for d in 0..<HD { o[d] = O[r * HD + d] * inv }
                    lse?[h * Tq + i0 + r] = m[r] + logf(l[r])
                }
            }
        }
    }
}

/// Backward of blockedAttentionForward for a whole sequence (start = 0, T rows, the same `prefix`): adds into dq, dk,
/// dv (a shared prefix's keys and values collect every example's gradient). Per block,
/// P = exp(scale·QKᵀ − lse) is rebuilt, then dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P ⊙ (dP − D) with D = rowsum(dO ⊙ O),
/// dQ += scale·dS·K, dK += scale·dSᵀ·Q. Heads run in parallel; heads sharing a kv head sum their dK, dV afterwards.
package func blockedAttentionBackward(_ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>,
                                      _ dv: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                                      _ out: UnsafePointer<Float>, _ lse: UnsafePointer<Float>,
                                      _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                      T: Int, firstKey: UnsafePointer<Int32>?, prefix: Int = 0, shape s: AttentionShape,
                                      block B: Int, scratch: UnsafeMutablePointer<Float>) {
    let HD = s.headDim, NH = s.heads, group = NH / s.kvHeads
    let blocks = (T + B - 1) / B
    let perHead = scratch + NH * (2 * B * B + B)                // (2, T, NH*HD) when heads share a kv head
    // (2, NKV, HD, T): k and v transposed once, so that the two products against them per block are not transposed
    // (a 64 × 64 × 64 sgemm with a transposed right operand takes 5.8 µs here, 3.6 µs without).
    let kT = perHead + (group == 1 ? 0 : 2 * T * NH * HD), vT = kT + s.kvHeads * HD * T
    parallelFor(2 * s.kvHeads) { task in
        let g = task / 2, (src, dst) = task % 2 == 0 ? (k, kT) : (v, vT)
        for t in 0..<T {
            let row = src + t * s.kvStride + g * HD, col = dst + g * HD * T + t
            for d in 0..<HD { col[d * T] = row[d] }
        }
    }
    parallelFor(NH) { h in
        let g = h / group
        let S = scratch + h * (2 * B * B + B), dP = S + B * B, D = dP + B * B
        let dKh: UnsafeMutablePointer<Float>, dVh: UnsafeMutablePointer<Float>, ld: Int
        if group == 1 {
            dKh = dk + g * HD; dVh = dv + g * HD; ld = s.kvStride
        } else {
            dKh = perHead + h * HD; dVh = perHead + T * NH * HD + h * HD; ld = NH * HD
            for t in 0..<T { (dKh + t * ld).update(repeating: 0, count: HD); (dVh + t * ld).update(repeating: 0, count: HD) }
        }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * B) { keys in
            let lo = keys.baseAddress!, hi = lo + B
            for I in 0..<blocks {
                let i0 = I * B, i1 = min(T, i0 + B), n = i1 - i0
                let qh = q + i0 * s.qStride + h * HD, doh = dout + i0 * s.qStride + h * HD, dqh = dq + i0 * s.qStride + h * HD
                for r in 0..<n { D[r] = tk_dot(doh + r * s.qStride, out + (i0 + r) * s.qStride + h * HD, Int64(HD)) }
                forEachKeyBlock(rows: i0, i1, start: 0, firstKey: firstKey, prefix: prefix, s, block: B) { j0, j1, shared in
                    let nk = j1 - j0
                    blockProduct(transA: false, transB: false, m: n, n: nk, k: HD, alpha: s.scale, a: qh, lda: s.qStride,
                                 b: kT + g * HD * T + j0, ldb: T, beta: 0, c: S, ldc: B)
                    visibleKeys(lo, hi, rows: i0, n, firstKey, start: 0, block: j0, j1, shared: shared, prefix: prefix, s)
                    tk_attention_block_probs(S, Int64(B), Int64(n), Int64(nk), lo, hi, lse + h * T + i0)
                    blockProduct(transA: false, transB: false, m: n, n: nk, k: HD, a: doh, lda: s.qStride,
                                 b: vT + g * HD * T + j0, ldb: T, beta: 0, c: dP, ldc: B)
                    blockProduct(transA: true, transB: false, m: nk, n: HD, k: n, a: S, lda: B, b: doh, ldb: s.qStride,
                                 beta: 1, c: dVh + j0 * ld, ldc: ld)
                    tk_attention_block_dscores(dP, S, Int64(B), Int64(n), Int64(nk), D)
                    blockProduct(transA: false, transB: false, m: n, n: HD, k: nk, alpha: s.scale, a: dP, lda: B,
                                 b: k + j0 * s.kvStride + g * HD, ldb: s.kvStride, beta: 1, c: dqh, ldc: s.qStride)
                    blockProduct(transA: true, transB: false, m: nk, n: HD, k: n, alpha: s.scale, a: dP, lda: B, b: qh,
                                 ldb: s.qStride, beta: 1, c: dKh + j0 * ld, ldc: ld)
                }
            }
        }
    }
    guard group > 1 else { return }
    parallelRanges(T, pieces: KernelThreads.count * 4) { rows in
        for t in rows {
            for h in 0..<NH {
                let g = h / group
                let sk = perHead + t * NH * HD + h * HD, sv = perHead + T * NH * HD + t * NH * HD + h * HD
                let tk = dk + t * s.kvStride + g * HD, tv = dv + t * s.kvStride + g * HD
                for d in 0..<HD { tk[d] += sk[d]; tv[d] += sv[d] }
            }
        }
    }
}
