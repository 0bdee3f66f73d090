// Central finite differences against analytic gradients, in f32 with an explicit step and tolerance.
import Testing

enum GradientCheck {
    /// For each index in `indices`, perturbs values[i] by ±eps, evaluates `loss` and compares the slope with
    /// analytic[i]. Passes when |fd − an| ≤ atol + rtol·max(|fd|, |an|). Prints the first failures.
    /// `kinks`: the loss has kinks (ReLU), where a finite difference means nothing. An index whose two one-sided
    /// slopes, (L(+eps) − L) / eps and (L − L(−eps)) / eps, disagree by more than the tolerance has a kink inside its
    /// step and is not compared (at most a quarter of the indices may be passed over so); and since several units
    /// at their kink within one step can bend both slopes alike, up to 1 in 16 of the compared indices may be off
    /// (a ReLU backward that was wrong would be off nearly everywhere).
    /// `points` > 1: the slope is fitted (least squares, odd part b·t + d·t³) to the loss at ±eps, ±2·eps, …,
    /// ±points·eps instead of one central difference: for a loss whose f32 rounding noise is not small against a
    /// step's change (a sum of large per-token losses). A slope from one difference at step h carries 0.71·σ/h of
    /// the loss's noise σ; the fit over ten points of 1.5e-3 carries 61·σ (one difference at 1.5e-2 reaches as far
    /// with 47·σ, but bends by the third derivative), while its cubic term takes the bend out.
    static func check(_ name: String, values: inout [Float], analytic: [Float], indices: [Int]? = nil,
                      eps: Float = 1e-2, points: Int = 1, rtol: Float = 2e-2, atol: Float = 1e-3, kinks: Bool = false,
                      loss: ([Float]) -> Double) {
        precondition(points == 1 || !kinks, "the kink test compares one-sided slopes of a single step")
        let idx = indices ?? Array(values.indices)
        var failures = 0, kinked = 0
        var worst: Float = 0
        let l0 = kinks ? loss(values) : 0
        for i in idx {
            let saved = values[i]
            values[i] = saved + eps; let lp = loss(values)
            values[i] = saved - eps; let lm = loss(values)
            var fd = Float((lp - lm) / Double(2 * eps))
            if points > 1 {
                // Normal equations of (f(x+t) − f(x−t))/2 ≈ b·t + d·t³ over t = k·eps.
                var s2 = 0.0, s4 = 0.0, s6 = 0.0, y1 = 0.0, y3 = 0.0
                for k in 1...points {
                    let t = Double(k) * Double(eps)
                    let odd: Double
                    if k == 1 { odd = (lp - lm) / 2 } else {
                        values[i] = saved + Float(k) * eps; let p = loss(values)
                        values[i] = saved - Float(k) * eps; let m = loss(values)
                        odd = (p - m) / 2
                    }
                    s2 += t * t; s4 += t * t * t * t; s6 += t * t * t * t * t * t
                    y1 += odd * t; y3 += odd * t * t * t
                }
                fd = Float((y1 * s6 - y3 * s4) / (s2 * s6 - s4 * s4))
            }
            values[i] = saved
            if kinks {
                let up = Float((lp - l0) / Double(eps)), down = Float((l0 - lm) / Double(eps))
                if abs(up - down) > atol + rtol * max(abs(up), abs(down)) { kinked += 1; continue }
            }
            let an = analytic[i]
            let err = abs(fd - an)
            worst = max(worst, err / max(abs(fd), abs(an), 1e-6))
            if err > atol + rtol * max(abs(fd), abs(an)) {
                failures += 1
                if failures <= 5 { print("\(name)[\(i)]: finite difference \(fd), analytic \(an)") }
            }
        }
        #expect(kinks ? failures * 16 <= idx.count - kinked : failures == 0,
                "\(name): \(failures) of \(idx.count - kinked) gradients off (worst relative error \(worst))")
        #expect(kinked * 4 <= idx.count, "\(name): \(kinked) of \(idx.count) steps crossed a kink")
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
