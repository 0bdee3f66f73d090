// Rotary position embeddings in the Hugging Face layout ("rotate_half"): dimension i pairs with i + HD/2.
// GGUF files store q/k interleaved for llama.cpp; the loader puts them back in this order (WeightsBuilder).
import Foundation

/// The cos/sin table for one position: HD/2 angles θ_i = p / (theta^(2i/HD) · factor_i).
package struct RopeTable {
    let halfDim: Int
    let invFreq: [Float]   // (HD/2)

    package init(headDim: Int, theta: Float, freqFactors: [Float]?) {
        halfDim = headDim / 2
        invFreq = (0..<headDim / 2).map { i in
            let f = 1 / Float(pow(Double(theta), Double(2 * i) / Double(headDim)))
            return f / (freqFactors?[i] ?? 1)
        }
    }

    /// cos and sin for `position` into cs[0..<HD/2] and cs[HD/2..<HD].
    @inline(__always)
    package func fill(_ cs: UnsafeMutablePointer<Float>, position: Int) {
        for i in 0..<halfDim {
            let a = Float(position) * invFreq[i]
            cs[i] = cos(a); cs[halfDim + i] = sin(a)
        }
    }
}

/// Rotates `heads` vectors of HD values in place for each of N rows; cs[N, HD] from RopeTable.fill.
/// x has row stride `stride` (the q or k projection width).
@inline(__always)
package func ropeForward(_ x: UnsafeMutablePointer<Float>, _ cs: UnsafePointer<Float>, N: Int, heads: Int, HD: Int, stride: Int) {
    let half = HD / 2
    parallelPieces(N, cost: heads * HD) { rows in for n in rows {
        let c = cs + n * HD, s = c + half
        for h in 0..<heads {
            let v = x + n * stride + h * HD
            for i in 0..<half {
                let x0 = v[i], x1 = v[i + half]
                v[i] = x0 * c[i] - x1 * s[i]
                v[i + half] = x0 * s[i] + x1 * c[i]
            }
        }
    } }
}

/// The backward of a rotation is the rotation by −θ, applied in place to the incoming gradient.
@inline(__always)
package func ropeBackward(_ dx: UnsafeMutablePointer<Float>, _ cs: UnsafePointer<Float>, N: Int, heads: Int, HD: Int, stride: Int) {
    let half = HD / 2
    parallelPieces(N, cost: heads * HD) { rows in for n in rows {
        let c = cs + n * HD, s = c + half
        for h in 0..<heads {
            let v = dx + n * stride + h * HD
            for i in 0..<half {
                let d0 = v[i], d1 = v[i + half]
                v[i] = d0 * c[i] + d1 * s[i]
                v[i + half] = -d0 * s[i] + d1 * c[i]
            }
        }
    } }
}
