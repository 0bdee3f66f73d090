// Causal multi-head attention with grouped-query heads (head h reads kv head h / (NH/NKV)). One call covers a block of
// Tq queries at absolute positions start..<start+Tq over keys 0..<start+Tq of the same sequence: a decode step
// (Tq = 1), a prefill chunk, or one packed training example (start = 0). Scores and products go through sgemm.
import CKernels

package struct AttentionShape {
    package var heads: Int          // NH
    package var kvHeads: Int        // NKV
    package var headDim: Int        // HD
    package var qStride: Int        // row stride of q and out (≥ NH*HD)
    package var kvStride: Int       // row stride of k and v (≥ NKV*HD)
    package var scale: Float { 1 / Float(headDim).squareRoot() }
    package init(heads: Int, kvHeads: Int, headDim: Int, qStride: Int, kvStride: Int) {
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim; self.qStride = qStride; self.kvStride = kvStride
    }
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
            tk_attend_one(oh, P, qh, kg, vg, Int64(Tk), Int64(HD), Int64(s.kvStride), s.scale)
            continue
        }
        Blas.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: HD, alpha: s.scale, a: qh, lda: s.qStride,
                   b: kg, ldb: s.kvStride, beta: 0, c: P, ldc: Tk)
        for i in 0..<Tq {
            let row = P + i * Tk, valid = start + i + 1
            tk_softmax(row, Int64(valid))
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
