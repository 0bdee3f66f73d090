// The pieces a T5 block is made of, as free functions over buffers (outputs first): attention without the
// 1/√HD scaling (T5 folds it into the initialisation) with an additive position bias and an optional causal limit,
// and the ReLU or gated feed-forward. Layer norm is RMSNorm (Ops/RMSNorm.swift): no mean, no bias. Forward only
// for now; the backward passes for training go beside these.
import CKernels
import Foundation

/// out[Tq, NH*HD] = softmax(q·kᵀ + bias) · v over keys 0..<Tk. q, k, v rows are NH*HD wide. With `causalStart`,
/// query i (at position causalStart+i) sees keys 0...causalStart+i only. bias is (NH, Tq, Tk) or nil;
/// scores is scratch of Tq*Tk.
func t5AttentionForward(_ out: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                        _ v: UnsafePointer<Float>, bias: UnsafePointer<Float>?, causalStart: Int?,
                        scores: UnsafeMutablePointer<Float>, Tq: Int, Tk: Int, NH: Int, HD: Int) {
    let inner = NH * HD
    for h in 0..<NH {
        Blas.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: HD, a: q + h * HD, lda: inner, b: k + h * HD, ldb: inner,
                   beta: 0, c: scores, ldc: Tk)
        for i in 0..<Tq {
            let row = scores + i * Tk
            if let bias { let b = bias + (h * Tq + i) * Tk; for j in 0..<Tk { row[j] += b[j] } }
            let valid = causalStart.map { min(Tk, $0 + i + 1) } ?? Tk
            tk_softmax(row, Int64(valid))
            for j in valid..<Tk { row[j] = 0 }
        }
        Blas.sgemm(transA: false, transB: false, m: Tq, n: HD, k: Tk, a: scores, lda: Tk, b: v + h * HD, ldb: inner,
                   beta: 0, c: out + h * HD, ldc: inner)
    }
}

/// out[T, C] = wo · act(wi·x) (⊙ wi_1·x when gated). hidden and linear are scratch of T*FF.
func t5FeedForwardForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: T5FeedForwardWeights,
                          hidden: UnsafeMutablePointer<Float>, linear: UnsafeMutablePointer<Float>, T: Int,
                          config c: T5Config) {
    let C = c.dim, FF = c.hiddenDim, n = T * FF
    w.wi.withUnsafeBufferPointer { Blas.linear(hidden, x, $0.baseAddress!, rows: T, inFeatures: C, outFeatures: FF) }
    switch c.activation {
    case .relu: for i in 0..<n { hidden[i] = max(hidden[i], 0) }
    case .gelu: for i in 0..<n { let v = hidden[i]; hidden[i] = 0.5 * v * (1 + erf(v / Float(2).squareRoot())) }
    case .geluNew:
        let a = (2 / Float.pi).squareRoot()
        for i in 0..<n { let v = hidden[i]; hidden[i] = 0.5 * v * (1 + tanh(a * (v + 0.044715 * v * v * v))) }
    case .silu: for i in 0..<n { let v = hidden[i]; hidden[i] = v / (1 + exp(-v)) }
    }
    if let wiLinear = w.wiLinear {
        wiLinear.withUnsafeBufferPointer { Blas.linear(linear, x, $0.baseAddress!, rows: T, inFeatures: C, outFeatures: FF) }
        for i in 0..<n { hidden[i] *= linear[i] }
    }
    w.wo.withUnsafeBufferPointer { Blas.linear(out, hidden, $0.baseAddress!, rows: T, inFeatures: FF, outFeatures: C) }
}

/// y[T, out] = x[T, in] · Wᵀ for a weight held as an array.
@inline(__always)
func t5Linear(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: [Float], rows: Int, inFeatures: Int, outFeatures: Int) {
    w.withUnsafeBufferPointer { Blas.linear(y, x, $0.baseAddress!, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures) }
}
