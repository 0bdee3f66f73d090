// The SwiGLU gate of Llama's feed-forward block: h = silu(gate) ⊙ up, silu(g) = g·σ(g).
import CKernels

/// h[n] = silu(gate[n]) · up[n] for n in 0..<count (tk_swiglu: σ through a vector exp; libm's expf per element was
/// 4.3 % of a generation's instructions, BENCHMARKS.md "callgrind").
@inline(__always)
package func swigluForward(_ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    parallelPieces(count, cost: 1, align: 64) { r in
        tk_swiglu(h + r.lowerBound, gate + r.lowerBound, up + r.lowerBound, Int64(r.count))
    }
}

/// dgate, dup (overwritten) from dh: dgate = dh·up·σ(g)(1 + g(1−σ(g))), dup = dh·silu(g) (tk_swiglu_backward).
@inline(__always)
package func swigluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>,
                    _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    parallelPieces(count, cost: 1, align: 64) { r in
        let o = r.lowerBound
        tk_swiglu_backward(dgate + o, dup + o, dh + o, gate + o, up + o, Int64(r.count))
    }
}
