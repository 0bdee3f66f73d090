// AdamW (Loshchilov & Hutter) over flat parameter buffers (an adapter's, or every weight's in full fine-tuning), with global-norm gradient clipping before the update.
import CKernels
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
    /// `clearingGradients`: the gradients are zeroed as the update reads them (the training loops' next step then
    /// needs no pass of its own to clear them).
    @discardableResult
    static func step(_ p: LoRAParameters, lr: Float, t: Int, config c: AdamWConfig, clearingGradients: Bool = false) -> Float {
        step(values: p.values, grads: p.grads, m: p.m, v: p.v, count: p.count, decayed: [0..<p.count], lr: lr, t: t, config: c,
             clearingGradients: clearingGradients)
    }

    /// Full fine-tuning: the weight decay applies to the matrices alone (FullParameters.decayed).
    @discardableResult
    static func step(_ p: FullParameters, lr: Float, t: Int, config c: AdamWConfig, clearingGradients: Bool = false) -> Float {
        step(values: p.values, grads: p.grads, m: p.m, v: p.v, count: p.count, decayed: p.decayed, lr: lr, t: t, config: c,
             clearingGradients: clearingGradients)
    }

    /// Flat buffers of `count` values, every one decayed alike (the LoRA weights of a T5 model).
    @discardableResult
    static func step(values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                     v: UnsafeMutablePointer<Float>, count n: Int, lr: Float, t: Int, config c: AdamWConfig,
                     clearingGradients: Bool = false) -> Float {
        step(values: values, grads: grads, m: m, v: v, count: n, decayed: [0..<n], lr: lr, t: t, config: c,
             clearingGradients: clearingGradients)
    }

    /// Values per task of the norm and update loops: fixed, so that the norm's partial sums (and so the norm) are the
    /// same for any number of threads.
    static let chunk = 1 << 16

    /// Flat buffers of `count` values; `decayed` (ascending, disjoint) the ranges that config.weightDecay applies to.
    /// Both passes (the gradient's squared norm, then the element-wise update) run in `chunk`-sized tasks over the
    /// kernel thread pool: full fine-tuning steps tens of millions of values, which one thread would take longer
    /// over than the rest of the step. Each value's update is the same arithmetic as a serial loop's.
    static func step(values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                     v: UnsafeMutablePointer<Float>, count n: Int, decayed: [Range<Int>], lr: Float, t: Int,
                     config c: AdamWConfig, clearingGradients: Bool = false) -> Float {
        let tasks = (n + chunk - 1) / chunk
        let norm = Float(squaredNorm(grads, count: n).squareRoot())
        let clip: Float = c.clipNorm > 0 && norm > c.clipNorm ? c.clipNorm / norm : 1
        let bc1 = 1 - pow(c.beta1, Float(t)), bc2 = 1 - pow(c.beta2, Float(t))
        let beta1 = c.beta1, beta2 = c.beta2, eps = c.eps
        func update(_ range: Range<Int>, decay: Float) {
            let i = range.lowerBound
            tk_adamw_update(values + i, grads + i, m + i, v + i, Int64(range.count), clip, beta1, beta2, bc1, bc2, lr, eps, decay,
                            clearingGradients ? 1 : 0)
        }
        // 0..<n as consecutive segments, each with its decay.
        var segments: [(Range<Int>, Float)] = []
        var at = 0
        for r in decayed {
            if at < r.lowerBound { segments.append((at..<r.lowerBound, 0)) }
            if !r.isEmpty { segments.append((r, c.weightDecay)) }
            at = r.upperBound
        }
        if at < n { segments.append((at..<n, 0)) }
        segments.withUnsafeBufferPointer { segments in
            parallelFor(tasks) { task in
                let lo = task * chunk, hi = min(n, lo + chunk)
                // The first segment that ends after lo (segments are ascending).
                var a = 0, b = segments.count
                while a < b { let mid = (a + b) / 2; if segments[mid].0.upperBound <= lo { a = mid + 1 } else { b = mid } }
                while a < segments.count, segments[a].0.lowerBound < hi {
                    let (r, decay) = segments[a]
                    update(max(lo, r.lowerBound)..<min(hi, r.upperBound), decay: decay)
                    a += 1
                }
            }
        }
        return norm
    }

    /// Σ gᵢ² in Double: a partial sum per `chunk` values (in parallel), the partials added in order.
    static func squaredNorm(_ g: UnsafePointer<Float>, count n: Int) -> Double {
        let tasks = (n + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: tasks)
        partial.withUnsafeMutableBufferPointer { partial in
            parallelFor(tasks) { task in
                let lo = task * chunk
                partial[task] = tk_sum_squares_f64(g + lo, Int64(min(n, lo + chunk) - lo))
            }
        }
        return partial.reduce(0, +)
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
