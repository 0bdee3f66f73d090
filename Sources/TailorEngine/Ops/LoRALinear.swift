// A frozen linear layer with an optional LoRA adapter, forward and backward side by side:
// y = x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ. A and B gradients add into the LoRA grad buffer; W is frozen, except in full
// fine-tuning (no adapter), where its gradient dW += dyᵀ·x is asked for.
// The dropout mask is not stored: it is a pure function of (seed, element) and regenerated in backward.

/// The adapter part of one projection during a training step.
package struct LoRAView {
    package let a: UnsafePointer<Float>          // (r, in)
    package let b: UnsafePointer<Float>          // (out, r)
    package let da: UnsafeMutablePointer<Float>  // (r, in)
    package let db: UnsafeMutablePointer<Float>  // (out, r)
    package let rank: Int
    package let scale: Float
    package let dropout: Float
    package let dropoutSeed: UInt64
    package init(a: UnsafePointer<Float>, b: UnsafePointer<Float>, da: UnsafeMutablePointer<Float>,
                 db: UnsafeMutablePointer<Float>, rank: Int, scale: Float, dropout: Float, dropoutSeed: UInt64) {
        self.a = a; self.b = b; self.da = da; self.db = db; self.rank = rank; self.scale = scale
        self.dropout = dropout; self.dropoutSeed = dropoutSeed
    }
}

/// Keep-or-drop for element i of a dropout mask, from a counter-based hash (SplitMix64 finaliser).
@inline(__always)
package func dropoutKeeps(_ seed: UInt64, _ i: Int, _ p: Float) -> Bool {
    var z = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Float(z >> 40) / Float(1 << 24) >= p
}

/// xd = dropout(x) with inverted scaling.
@inline(__always)
package func dropoutApply(_ xd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int, p: Float, seed: UInt64) {
    let keep = 1 / (1 - p)
    for i in 0..<count { xd[i] = dropoutKeeps(seed, i, p) ? x[i] * keep : 0 }
}

/// y[T, out] = x[T, in]·Wᵀ + s·u·Bᵀ, u[T, r] = drop(x)·Aᵀ (u kept for backward). `scratch` holds T·in floats
/// when dropout is on.
package func loraLinearForward(_ y: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>?, _ x: UnsafePointer<Float>,
                       _ w: UnsafePointer<Float>, _ lora: LoRAView?, scratch: UnsafeMutablePointer<Float>,
                       T: Int, inF: Int, outF: Int) {
    Blas.linear(y, x, w, rows: T, inFeatures: inF, outFeatures: outF)
    guard let lora, let u else { return }
    loraAdapterForward(y, u, x, lora, scratch: scratch, T: T, inF: inF, outF: outF)
}

/// The adapter's part of loraLinearForward, after the base product: u = drop(x)·Aᵀ, y += s·u·Bᵀ.
package func loraAdapterForward(_ y: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                _ lora: LoRAView, scratch: UnsafeMutablePointer<Float>, T: Int, inF: Int, outF: Int) {
    var input = x
    if lora.dropout > 0 {
        dropoutApply(scratch, x, count: T * inF, p: lora.dropout, seed: lora.dropoutSeed)
        input = UnsafePointer(scratch)
    }
    Blas.sgemm(transA: false, transB: true, m: T, n: lora.rank, k: inF, a: input, lda: inF, b: lora.a, ldb: inF,
               beta: 0, c: u, ldc: lora.rank)
    Blas.sgemm(transA: false, transB: true, m: T, n: outF, k: lora.rank, alpha: lora.scale, a: u, lda: lora.rank,
               b: lora.b, ldb: lora.rank, beta: 1, c: y, ldc: outF)
}

/// Given dy[T, out]: dx (+)= dy·W + (s·dy·B)·A (masked by dropout), dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·drop(x).
/// `accumulate` adds into dx instead of overwriting it. `du` is scratch (T, r); `scratch` holds T·in floats.
/// `dw` (out, in), when given, receives dW += dyᵀ·x (full fine-tuning: W itself is trained).
package func loraLinearBackward(_ dx: UnsafeMutablePointer<Float>, accumulate: Bool, _ dy: UnsafePointer<Float>,
                        _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>?, _ w: UnsafePointer<Float>,
                        _ lora: LoRAView?, du: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                        T: Int, inF: Int, outF: Int, dw: UnsafeMutablePointer<Float>? = nil) {
    Blas.sgemm(transA: false, transB: false, m: T, n: inF, k: outF, a: dy, lda: outF, b: w, ldb: inF,
               beta: accumulate ? 1 : 0, c: dx, ldc: inF)
    if let dw { weightGradient(dw, dy, x, T: T, inF: inF, outF: outF) }
    guard let lora, let u else { return }
    loraAdapterBackward(dx, dy, x, u, lora, du: du, scratch: scratch, T: T, inF: inF, outF: outF)
}

/// The adapter's part of loraLinearBackward, after the base product wrote dx: dx += (s·dy·B)·A (masked by dropout),
/// dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·drop(x).
package func loraAdapterBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                 _ u: UnsafePointer<Float>, _ lora: LoRAView, du: UnsafeMutablePointer<Float>,
                                 scratch: UnsafeMutablePointer<Float>, T: Int, inF: Int, outF: Int) {
    let r = lora.rank
    Blas.sgemm(transA: true, transB: false, m: outF, n: r, k: T, alpha: lora.scale, a: dy, lda: outF, b: u, ldb: r,
               beta: 1, c: lora.db, ldc: r)
    Blas.sgemm(transA: false, transB: false, m: T, n: r, k: outF, alpha: lora.scale, a: dy, lda: outF, b: lora.b,
               ldb: r, beta: 0, c: du, ldc: r)
    var input = x
    if lora.dropout > 0 {
        dropoutApply(scratch, x, count: T * inF, p: lora.dropout, seed: lora.dropoutSeed)
        input = UnsafePointer(scratch)
    }
    Blas.sgemm(transA: true, transB: false, m: r, n: inF, k: T, a: du, lda: r, b: input, ldb: inF, beta: 1,
               c: lora.da, ldc: inF)
    if lora.dropout > 0 {
        Blas.sgemm(transA: false, transB: false, m: T, n: inF, k: r, a: du, lda: r, b: lora.a, ldb: inF, beta: 0,
                   c: scratch, ldc: inF)
        let keep = 1 / (1 - lora.dropout)
        for i in 0..<(T * inF) where dropoutKeeps(lora.dropoutSeed, i, lora.dropout) { dx[i] += scratch[i] * keep }
    } else {
        Blas.sgemm(transA: false, transB: false, m: T, n: inF, k: r, a: du, lda: r, b: lora.a, ldb: inF, beta: 1,
                   c: dx, ldc: inF)
    }
}

/// dW[out, in] += dyᵀ·x: a trained weight's gradient (full fine-tuning).
package func weightGradient(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                            T: Int, inF: Int, outF: Int) {
    Blas.sgemm(transA: true, transB: false, m: outF, n: inF, k: T, a: dy, lda: outF, b: x, ldb: inF,
               beta: 1, c: dw, ldc: inF)
}
