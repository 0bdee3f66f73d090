// Central finite differences against analytic gradients, in f32 with an explicit step and tolerance.
import Testing

enum GradientCheck {
    /// For each index in `indices`, perturbs values[i] by ±eps, evaluates `loss` and compares the slope with
    /// analytic[i]. Passes when |fd − an| ≤ atol + rtol·max(|fd|, |an|). Prints the first failures.
    static func check(_ name: String, values: inout [Float], analytic: [Float], indices: [Int]? = nil,
                      eps: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 1e-3,
                      loss: ([Float]) -> Double) {
        let idx = indices ?? Array(values.indices)
        var failures = 0
        var worst: Float = 0
        for i in idx {
            let saved = values[i]
            values[i] = saved + eps; let lp = loss(values)
            values[i] = saved - eps; let lm = loss(values)
            values[i] = saved
            let fd = Float((lp - lm) / Double(2 * eps))
            let an = analytic[i]
            let err = abs(fd - an)
            worst = max(worst, err / max(abs(fd), abs(an), 1e-6))
            if err > atol + rtol * max(abs(fd), abs(an)) {
                failures += 1
                if failures <= 5 { print("\(name)[\(i)]: finite difference \(fd), analytic \(an)") }
            }
        }
        #expect(failures == 0, "\(name): \(failures) of \(idx.count) gradients off (worst relative error \(worst))")
    }

    /// A fixed random projection, so that loss = Σ out ⊙ r has ∂loss/∂out = r.
    static func projection(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandomLite(seed: seed)
        return (0..<n).map { _ in rng.next() }
    }
}

/// Deterministic values in [−1, 1) for test inputs.
struct SeededRandomLite {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    mutating func values(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
}
