// AdamW (Loshchilov & Hutter) over flat parameter buffers (an adapter's, or every weight's in full fine-tuning), with global-norm gradient clipping before the update.
import Foundation

public struct AdamWConfig: Sendable, Codable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Decoupled weight decay. 0 by default: LoRA's B starts at zero and decay would only pull the update back.
    public var weightDecay: Float = 0
    /// Clip the global gradient norm to this value (0: off). 1.0 is the usual guard against rare spikes.
    public var clipNorm: Float = 1
    public init() {}
}

enum AdamW {
    /// One update at step `t` (1-based) with learning rate `lr`. Returns the gradient norm before clipping.
    @discardableResult
    static func step(_ p: LoRAParameters, lr: Float, t: Int, config c: AdamWConfig) -> Float {
        step(values: p.values, grads: p.grads, m: p.m, v: p.v, count: p.count, decayed: [0..<p.count], lr: lr, t: t, config: c)
    }

    /// Full fine-tuning: the weight decay applies to the matrices alone (FullParameters.decayed).
    @discardableResult
    static func step(_ p: FullParameters, lr: Float, t: Int, config c: AdamWConfig) -> Float {
        step(values: p.values, grads: p.grads, m: p.m, v: p.v, count: p.count, decayed: p.decayed, lr: lr, t: t, config: c)
    }

    /// Flat buffers of `count` values, every one decayed alike (the LoRA weights of a T5 model).
    @discardableResult
    static func step(values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                     v: UnsafeMutablePointer<Float>, count n: Int, lr: Float, t: Int, config c: AdamWConfig) -> Float {
        step(values: values, grads: grads, m: m, v: v, count: n, decayed: [0..<n], lr: lr, t: t, config: c)
    }

    /// Flat buffers of `count` values; `decayed` (ascending, disjoint) the ranges that config.weightDecay applies to.
    static func step(values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                     v: UnsafeMutablePointer<Float>, count n: Int, decayed: [Range<Int>], lr: Float, t: Int,
                     config c: AdamWConfig) -> Float {
        var sq: Double = 0
        for i in 0..<n { sq += Double(grads[i]) * Double(grads[i]) }
        let norm = Float(sq.squareRoot())
        let clip: Float = c.clipNorm > 0 && norm > c.clipNorm ? c.clipNorm / norm : 1
        let bc1 = 1 - pow(c.beta1, Float(t)), bc2 = 1 - pow(c.beta2, Float(t))
        func update(_ range: Range<Int>, decay: Float) {
            for i in range {
                let g = grads[i] * clip
                m[i] = c.beta1 * m[i] + (1 - c.beta1) * g
                v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g
                let mhat = m[i] / bc1, vhat = v[i] / bc2
                values[i] -= lr * (mhat / (vhat.squareRoot() + c.eps) + decay * values[i])
            }
        }
        var at = 0
        for r in decayed {
            update(at..<r.lowerBound, decay: 0)
            update(r, decay: c.weightDecay)
            at = r.upperBound
        }
        update(at..<n, decay: 0)
        return norm
    }
}

/// Linear warm-up from 0, then linear or cosine decay to `minRatio`·peak at the last step.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public enum Decay: String, Sendable, Codable { case linear, cosine, constant }
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var minRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, decay: Decay = .linear, minRatio: Float = 0) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.decay = decay
        self.minRatio = minRatio
    }

    /// The rate for step `t` (1-based).
    public func rate(step t: Int) -> Float {
        if t <= warmupSteps { return peak * Float(t) / Float(max(1, warmupSteps)) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Float(t - warmupSteps) / Float(span))
        let floor = peak * minRatio
        switch decay {
        case .constant: return peak
        case .linear: return floor + (peak - floor) * (1 - progress)
        case .cosine: return floor + (peak - floor) * 0.5 * (1 + cos(Float.pi * progress))
        }
    }
}
