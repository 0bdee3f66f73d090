// The SwiGLU gate of Llama's feed-forward block: h = silu(gate) ⊙ up, silu(g) = g·σ(g).
import Foundation

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

/// h[n] = silu(gate[n]) · up[n] for n in 0..<count.
@inline(__always)
package func swigluForward(_ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { let g = gate[i]; h[i] = g / (1 + exp(-g)) * up[i] }
}

/// dgate, dup (overwritten) from dh: dgate = dh·up·σ(g)(1 + g(1−σ(g))), dup = dh·silu(g).
@inline(__always)
package func swigluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>,
                    _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = gate[i], s = sigmoid(g)
        dup[i] = dh[i] * g * s
        dgate[i] = dh[i] * up[i] * s * (1 + g * (1 - s))
    }
}
