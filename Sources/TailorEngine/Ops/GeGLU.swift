// Gemma's GeGLU gate of the feed-forward block: h = gelu(gate) ⊙ up, with PyTorch's tanh approximation
// gelu(g) = ½·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))). Also the switch between it and SwiGLU.
import CKernels
import Foundation

/// h[n] = gelu_tanh(gate[n]) · up[n] for n in 0..<count (tk_geglu: tanh through a vector exp; libm's tanhf per
/// element was 8 % of a Gemma 3 prefill's instructions).
@inline(__always)
package func gegluForward(_ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    parallelPieces(count, cost: 1, align: 64) { r in
        tk_geglu(h + r.lowerBound, gate + r.lowerBound, up + r.lowerBound, Int64(r.count))
    }
}

/// dgate, dup (overwritten) from dh: dup = dh·gelu(g), dgate = dh·up·gelu′(g) with
/// gelu′(g) = ½(1 + t) + ½·g·(1 − t²)·√(2/π)·(1 + 3·0.044715·g²), t = tanh(√(2/π)(g + 0.044715·g³))
/// (tk_geglu_backward: the same vector tanh as the forward).
@inline(__always)
package func gegluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>,
                           _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    parallelPieces(count, cost: 1, align: 64) { r in
        let o = r.lowerBound
        tk_geglu_backward(dgate + o, dup + o, dh + o, gate + o, up + o, Int64(r.count))
    }
}

/// The model's gate: SwiGLU or GeGLU.
@inline(__always)
package func gatedForward(_ activation: FeedForwardActivation, _ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>,
                          _ up: UnsafePointer<Float>, count: Int) {
    switch activation {
    case .silu: swigluForward(h, gate, up, count: count)
    case .geluTanh: gegluForward(h, gate, up, count: count)
    }
}

@inline(__always)
package func gatedBackward(_ activation: FeedForwardActivation, _ dgate: UnsafeMutablePointer<Float>,
                           _ dup: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>, _ gate: UnsafePointer<Float>,
                           _ up: UnsafePointer<Float>, count: Int) {
    switch activation {
    case .silu: swigluBackward(dgate, dup, dh, gate, up, count: count)
    case .geluTanh: gegluBackward(dgate, dup, dh, gate, up, count: count)
    }
}
