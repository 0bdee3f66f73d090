// The pieces a T5 block is made of, as free functions over buffers (outputs first): attention without the
// 1/√HD scaling (T5 folds it into the initialisation) with an additive position bias and an optional causal limit,
// and the ReLU or gated feed-forward's activations, each with its backward beside it (backward adds into its
// gradient buffers). Layer norm is RMSNorm (Ops/RMSNorm.swift): no mean, no bias.
import CKernels
import Foundation

/// out[Tq, NH*HD] = softmax(q·kᵀ + bias) · v over keys 0..<Tk. q, k, v rows are NH*HD wide. With `causalStart`,
/// query i (at position causalStart+i) sees keys 0...causalStart+i only. bias is (NH, Tq, Tk) or nil;
/// scores is scratch of Tq*Tk, or (NH, Tq, Tk) with `keepProbabilities` (training keeps them for backward).
func t5AttentionForward(_ out: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                        _ v: UnsafePointer<Float>, bias: UnsafePointer<Float>?, causalStart: Int?,
                        scores allScores: UnsafeMutablePointer<Float>, keepProbabilities: Bool = false,
                        Tq: Int, Tk: Int, NH: Int, HD: Int) {
    let inner = NH * HD
    for h in 0..<NH {
        let scores = keepProbabilities ? allScores + h * Tq * Tk : allScores
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

/// Given dout (Tq, NH*HD) and the probabilities (NH, Tq, Tk) the forward kept: dq (Tq, I), dk and dv (Tk, I) +=
/// their gradients. No 1/√HD, as in the forward. dprobs is scratch of Tq*Tk. With dS = P ⊙ (dP − rowsum(dP ⊙ P)):
/// dq = dS·k, dk = dSᵀ·q, dv = Pᵀ·dout; the additive bias's gradient is dS itself, added into `dbias` (NH, Tq, Tk)
/// when given (full fine-tuning trains the position tables; LoRA leaves them frozen).
func t5AttentionBackward(_ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
                         _ dout: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                         _ v: UnsafePointer<Float>, probabilities: UnsafePointer<Float>, dprobs: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>? = nil, Tq: Int, Tk: Int, NH: Int, HD: Int) {
    let inner = NH * HD
    for h in 0..<NH {
        let p = probabilities + h * Tq * Tk
        Blas.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: HD, a: dout + h * HD, lda: inner, b: v + h * HD,
                   ldb: inner, beta: 0, c: dprobs, ldc: Tk)
        Blas.sgemm(transA: true, transB: false, m: Tk, n: HD, k: Tq, a: p, lda: Tk, b: dout + h * HD, ldb: inner,
                   beta: 1, c: dv + h * HD, ldc: inner)
        for i in 0..<Tq {
            let pr = p + i * Tk, dr = dprobs + i * Tk
            var dot: Float = 0
            for j in 0..<Tk { dot += pr[j] * dr[j] }
            for j in 0..<Tk { dr[j] = pr[j] * (dr[j] - dot) }
            if let dbias { let b = dbias + (h * Tq + i) * Tk; for j in 0..<Tk { b[j] += dr[j] } }
        }
        Blas.sgemm(transA: false, transB: false, m: Tq, n: HD, k: Tk, a: dprobs, lda: Tk, b: k + h * HD, ldb: inner,
                   beta: 1, c: dq + h * HD, ldc: inner)
        Blas.sgemm(transA: true, transB: false, m: Tk, n: HD, k: Tq, a: dprobs, lda: Tk, b: q + h * HD, ldb: inner,
                   beta: 1, c: dk + h * HD, ldc: inner)
    }
}

/// out[n] = act(x[n]): the feed-forward's nonlinearity (gelu_new is GELU's tanh approximation, as transformers').
func t5ActivationForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int, _ act: T5Config.Activation) {
    // Element by element: any split over the pool gives the same values (a training pass's 500 × 2,048 in pieces,
    // decoding's one row serially).
    parallelPieces(n, cost: 1, align: 64) { r in
        switch act {
        case .relu: tk_relu(out + r.lowerBound, x + r.lowerBound, Int64(r.count))
        case .gelu: for i in r { let v = x[i]; out[i] = 0.5 * v * (1 + erf(v / Float(2).squareRoot())) }
        case .geluNew:
            let a = (2 / Float.pi).squareRoot()
            for i in r { let v = x[i]; out[i] = 0.5 * v * (1 + tanh(a * (v + 0.044715 * v * v * v))) }
        case .silu: for i in r { let v = x[i]; out[i] = v / (1 + exp(-v)) }
        }
    }
}

/// dx[n] += act'(x[n])·dout[n].
func t5ActivationBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                          count n: Int, _ act: T5Config.Activation) {
    parallelPieces(n, cost: 1, align: 64) { r in
        switch act {
        case .relu: tk_relu_backward_add(dx + r.lowerBound, dout + r.lowerBound, x + r.lowerBound, Int64(r.count))
        case .gelu:
            let rs = 1 / Float(2).squareRoot(), d = 1 / (2 * Float.pi).squareRoot()
            for i in r { let v = x[i]; dx[i] += dout[i] * (0.5 * (1 + erf(v * rs)) + v * d * exp(-0.5 * v * v)) }
        case .geluNew:
            let a = (2 / Float.pi).squareRoot()
            for i in r {
                let v = x[i], t = tanh(a * (v + 0.044715 * v * v * v))
                dx[i] += dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * a * (1 + 3 * 0.044715 * v * v))
            }
        case .silu: for i in r { let s = 1 / (1 + exp(-x[i])); dx[i] += dout[i] * s * (1 + x[i] * (1 - s)) }
        }
    }
}

/// out[T, C] = wo · act(wi·x) (⊙ wi_1·x when gated). hidden and linear are scratch of T*FF.
func t5FeedForwardForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: T5FeedForwardWeights,
                          hidden: UnsafeMutablePointer<Float>, linear: UnsafeMutablePointer<Float>, T: Int,
                          config c: T5Config) {
    let C = c.dim, FF = c.hiddenDim, n = T * FF
    w.wi.withUnsafeBufferPointer { Blas.linear(hidden, x, $0.baseAddress!, rows: T, inFeatures: C, outFeatures: FF) }
    t5ActivationForward(hidden, hidden, count: n, c.activation)
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
