// A frozen linear layer with an optional LoRA adapter, forward and backward side by side:
// y = x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ. A and B gradients add into the LoRA grad buffer; W is frozen, except in full
// fine-tuning (no adapter), where its gradient dW += dyᵀ·x is asked for.
// The dropout mask is not stored: it is a pure function of (seed, element) and regenerated in backward.
import CKernels

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
/// when dropout is on. The adapter's term is written first and the base product adds onto it (beta 1): one pass
/// over y fewer than adding the term afterwards, and none for OpenBLAS's clearing of y.
package func loraLinearForward(_ y: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>?, _ x: UnsafePointer<Float>,
                       _ w: UnsafePointer<Float>, _ lora: LoRAView?, scratch: UnsafeMutablePointer<Float>,
                       T: Int, inF: Int, outF: Int) {
    guard let lora, let u else { return Blas.linear(y, x, w, rows: T, inFeatures: inF, outFeatures: outF) }
    loraAdapterForward(y, ldy: outF, u, x, lora, scratch: scratch, T: T, inF: inF, outF: outF, accumulate: false)
    Blas.linear(y, x, w, rows: T, inFeatures: inF, outFeatures: outF, accumulate: true)
}

/// The adapter's part of loraLinearForward: u = drop(x)·Aᵀ, y (+)= s·u·Bᵀ, y's rows `ldy` apart. The rank-r products
/// run in CKernels (LoRAProducts.c), not OpenBLAS, whose small-matrix paths are slow on these shapes.
package func loraAdapterForward(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ u: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                _ lora: LoRAView, scratch: UnsafeMutablePointer<Float>, T: Int, inF: Int, outF: Int,
                                accumulate: Bool) {
    var input = x
    if lora.dropout > 0 {
        dropoutApply(scratch, x, count: T * inF, p: lora.dropout, seed: lora.dropoutSeed)
        input = UnsafePointer(scratch)
    }
    let r = lora.rank
    withUnsafeTemporaryAllocation(of: Float.self, capacity: r * max(inF, outF)) { buffer in
        let t = buffer.baseAddress!
        tk_transpose(t, lora.a, Int64(r), Int64(inF))    // Aᵀ (in, r)
        tk_lora_product(u, Int64(r), input, Int64(inF), t, Int64(T), Int64(inF), Int64(r), 1, 0)
        tk_transpose(t, lora.b, Int64(outF), Int64(r))   // Bᵀ (r, out)
        tk_lora_product(y, Int64(ldy), u, Int64(r), t, Int64(T), Int64(r), Int64(outF), lora.scale, accumulate ? 1 : 0)
    }
}

/// Given dy[T, out]: dx (+)= dy·W + (s·dy·B)·A (masked by dropout), dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·drop(x).
/// `accumulate` adds into dx instead of overwriting it. `du` is scratch (T, r); `scratch` holds T·in floats.
/// `dw` (out, in), when given, receives dW += dyᵀ·x (full fine-tuning: W itself is trained). Without dropout the
/// adapter's part of dx comes first and the base product adds onto it, as in the forward.
package func loraLinearBackward(_ dx: UnsafeMutablePointer<Float>?, accumulate: Bool, _ dy: UnsafePointer<Float>,
                        _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>?, _ w: UnsafePointer<Float>,
                        _ lora: LoRAView?, du: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                        T: Int, inF: Int, outF: Int, dw: UnsafeMutablePointer<Float>? = nil) {
    guard let dx else {
        // Nothing needs the input's gradient (the first layer over a frozen embedding): the weights' alone.
        if let lora, let u {
            loraAdapterBackward(nil, dy, x, u, lora, du: du, scratch: scratch, T: T, inF: inF, outF: outF, accumulate: false)
        }
        if let dw { weightGradient(dw, dy, x, T: T, inF: inF, outF: outF) }
        return
    }
    var adapterFirst = false
    if let lora, let u, lora.dropout == 0 {
        loraAdapterBackward(dx, dy, x, u, lora, du: du, scratch: scratch, T: T, inF: inF, outF: outF, accumulate: accumulate)
        adapterFirst = true
    }
    Blas.sgemm(transA: false, transB: false, m: T, n: inF, k: outF, a: dy, lda: outF, b: w, ldb: inF,
               beta: accumulate || adapterFirst ? 1 : 0, c: dx, ldc: inF)
    if let dw { weightGradient(dw, dy, x, T: T, inF: inF, outF: outF) }
    guard !adapterFirst, let lora, let u else { return }
    loraAdapterBackward(dx, dy, x, u, lora, du: du, scratch: scratch, T: T, inF: inF, outF: outF, accumulate: true)
}

/// The adapter's part of loraLinearBackward: dx (+)= (s·dy·B)·A (masked by dropout; with dropout dx only adds),
/// dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·drop(x); dx nil: the weights' gradients alone.
package func loraAdapterBackward(_ dx: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                 _ u: UnsafePointer<Float>, _ lora: LoRAView, du: UnsafeMutablePointer<Float>,
                                 scratch: UnsafeMutablePointer<Float>, T: Int, inF: Int, outF: Int, accumulate: Bool) {
    precondition(accumulate || lora.dropout == 0 || dx == nil, "with dropout the adapter's part adds into a dx already written")
    let r = lora.rank, R = Int64(r), rows = Int64(T)
    tk_lora_utv(lora.db, 1, u, R, dy, Int64(outF), rows, R, Int64(outF), lora.scale)       // dB += s·dyᵀ·u
    tk_lora_product(du, R, dy, Int64(outF), lora.b, rows, Int64(outF), R, lora.scale, 0)       // du = s·dy·B
    var input = x
    if lora.dropout > 0 {
        dropoutApply(scratch, x, count: T * inF, p: lora.dropout, seed: lora.dropoutSeed)
        input = UnsafePointer(scratch)
    }
    tk_lora_utv(lora.da, 0, du, R, input, Int64(inF), rows, R, Int64(inF), 1)             // dA += duᵀ·drop(x)
    guard let dx else { return }
    if lora.dropout > 0 {
        tk_lora_product(scratch, Int64(inF), du, R, lora.a, rows, R, Int64(inF), 1, 0)
        let keep = 1 / (1 - lora.dropout)
        for i in 0..<(T * inF) where dropoutKeeps(lora.dropoutSeed, i, lora.dropout) { dx[i] += scratch[i] * keep }
    } else {
        tk_lora_product(dx, Int64(inF), du, R, lora.a, rows, R, Int64(inF), 1, accumulate ? 1 : 0)   // dx (+)= du·A
    }
}

/// dW[out, in] += dyᵀ·x: a trained weight's gradient (full fine-tuning).
package func weightGradient(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                            T: Int, inF: Int, outF: Int) {
    Blas.sgemm(transA: true, transB: false, m: outF, n: inF, k: T, a: dy, lda: outF, b: x, ldb: inF,
               beta: 1, c: dw, ldc: inF)
}
