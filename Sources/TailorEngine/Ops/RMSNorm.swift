// RMSNorm (Zhang & Sennrich 2019) as Llama uses it: y = x / sqrt(mean(x²) + eps) · w, per row of C values.

import CKernels

/// out[N, C] = rmsnorm(x[N, C]) · w[C]; rstd[N] keeps 1/rms for the backward pass when given.
@inline(__always)
package func rmsnormForward(_ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>?,
                    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, N: Int, C: Int, eps: Float) {
    parallelPieces(N, cost: C) { rows in for n in rows {
        let xr = x + n * C, yr = out + n * C
        let ss = tk_dot(xr, xr, Int64(C))   // Σ x² in vector lanes (a scalar float sum does not vectorise)
        let r = 1 / (ss / Float(C) + eps).squareRoot()
        rstd?[n] = r
        for i in 0..<C { yr[i] = xr[i] * r * w[i] }
    } }
}

/// dx[N, C] += ∂loss/∂x given dout; dw[C] += ∂loss/∂w when given (frozen norms pass nil).
/// With y_i = x_i·r·w_i and r = (mean(x²)+eps)^-½: dx_i = r·w_i·dy_i − (r³/C)·x_i·Σ_j dy_j·w_j·x_j.
@inline(__always)
package func rmsnormBackward(_ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>?,
                     _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                     _ rstd: UnsafePointer<Float>, N: Int, C: Int) {
    // Rows in parallel unless the weight has a gradient (a sum over rows, kept in row order: cost 0 runs serially).
    parallelPieces(N, cost: dw == nil ? C : 0) { rows in for n in rows {
        let xr = x + n * C, dyr = dout + n * C, dxr = dx + n * C
        let r = rstd[n]
        var dot: Float = 0
        for i in 0..<C { dot += dyr[i] * w[i] * xr[i] }
        let k = r * r * r / Float(C) * dot
        for i in 0..<C { dxr[i] += r * w[i] * dyr[i] - k * xr[i] }
        if let dw { for i in 0..<C { dw[i] += dyr[i] * xr[i] * r } }
    } }
}
