// AdamW's chunked, pooled, vectorised update against a plain serial loop of PyTorch's arithmetic: the same bits in
// every value and both moments over several steps (clipping on, decay on some ranges, a count that is no multiple of
// a chunk nor of the vector width), the same norm, the same result on one thread as on two, and with the gradients
// cleared as they are read (every one zero after, nothing else changed). And parallelZero clears exactly its buffer.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct AdamWTests {
    /// The serial reference: torch.optim.AdamW's update (decoupled decay as x·(1 − lr·decay), the step m·lr/bc1 over
    /// √v·(1/√bc2) + eps), one value at a time.
    static func serialStep(values: inout [Float], grads: [Float], m: inout [Float], v: inout [Float], decayed: [Range<Int>],
                           lr: Float, t: Int, config c: AdamWConfig) -> Float {
        let n = values.count
        var sq: Double = 0
        for i in 0..<n { sq += Double(grads[i]) * Double(grads[i]) }
        let norm = Float(sq.squareRoot())
        let clip: Float = c.clipNorm > 0 && norm > c.clipNorm ? c.clipNorm / norm : 1
        let bc1 = 1 - pow(c.beta1, Float(t)), bc2 = 1 - pow(c.beta2, Float(t))
        let step = lr / bc1, rs2 = 1 / bc2.squareRoot()
        func update(_ range: Range<Int>, decay: Float) {
            let keep = 1 - lr * decay
            for i in range {
                let g = grads[i] * clip
                m[i] = c.beta1 * m[i] + (1 - c.beta1) * g
                v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g
                let denom = v[i].squareRoot() * rs2 + c.eps
                values[i] = values[i] * keep - (m[i] * step) / denom
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

    /// Three steps of AdamW.step on `threads` pool threads; values, m, v and the norms.
    static func pooled(threads: Int, values start: [Float], grads: [[Float]], decayed: [Range<Int>], config: AdamWConfig,
                       clearing: Bool) -> (values: [Float], m: [Float], v: [Float], norms: [Float]) {
        let before = KernelThreads.count
        KernelThreads.set(threads)
        defer { KernelThreads.set(before) }
        var values = start, m = [Float](repeating: 0, count: start.count), v = m, norms: [Float] = []
        for (t, g) in grads.enumerated() {
            var g = g
            let norm = values.withUnsafeMutableBufferPointer { vp in
                g.withUnsafeMutableBufferPointer { gp in
                    m.withUnsafeMutableBufferPointer { mp in
                        v.withUnsafeMutableBufferPointer { vv in
                            AdamW.step(values: vp.baseAddress!, grads: gp.baseAddress!, m: mp.baseAddress!, v: vv.baseAddress!,
                                       count: vp.count, decayed: decayed, lr: 1e-3, t: t + 1, config: config,
                                       clearingGradients: clearing)
                        }
                    }
                }
            }
            #expect(clearing ? g.allSatisfy { $0 == 0 } : g == grads[t], "the gradients after the step")
            norms.append(norm)
        }
        return (values, m, v, norms)
    }

    @Test(arguments: [0, 10])
    func pooledUpdateMatchesTheSerialLoop(clipScale: Int) {
        // A little over three chunks; decayed ranges that start at 0, straddle chunk borders, touch and end inside.
        let chunk = AdamW.chunk, n = 3 * chunk + 1234
        let decayed = [0..<100, (chunk - 50)..<(chunk + 70), (chunk + 70)..<(chunk + 80), (2 * chunk + 5)..<(3 * chunk + 1000)]
        var rng = SeededRandom(seed: 7)
        let start = (0..<n).map { _ in rng.nextGaussian() }
        // clipScale 10: gradients whose norm (≈ 10·√n·0.01) is far above clipNorm, so that clipping acts.
        let scale = clipScale == 0 ? Float(1e-4) : Float(0.01 * Double(clipScale))
        let grads = (0..<3).map { _ in (0..<n).map { _ in scale * rng.nextGaussian() } }
        var config = AdamWConfig()
        config.weightDecay = 0.01
        var values = start, m = [Float](repeating: 0, count: n), v = m, norms: [Float] = []
        for (t, g) in grads.enumerated() {
            norms.append(Self.serialStep(values: &values, grads: g, m: &m, v: &v, decayed: decayed, lr: 1e-3, t: t + 1, config: config))
        }
        #expect(clipScale == 0 ? norms.allSatisfy { $0 < 1 } : norms.allSatisfy { $0 > 1 }, "norms \(norms)")
        for threads in [1, 2] { for clearing in [false, true] {
            let p = Self.pooled(threads: threads, values: start, grads: grads, decayed: decayed, config: config, clearing: clearing)
            func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0 != $1 }.count }
            #expect(differing(p.values, values) == 0, "\(threads) threads: values differ")
            #expect(differing(p.m, m) == 0, "\(threads) threads: m differs")
            #expect(differing(p.v, v) == 0, "\(threads) threads: v differs")
            for (a, b) in zip(p.norms, norms) { #expect(abs(a - b) <= 1e-6 * b, "\(threads) threads: norm \(a) vs \(b)") }
        } }
    }

    @Test func parallelZeroClearsItsBufferAlone() {
        let before = KernelThreads.count
        KernelThreads.set(2)
        defer { KernelThreads.set(before) }
        let n = 5 * (1 << 18) + 3
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n + 2)
        defer { p.deallocate() }
        p.initialize(repeating: 1, count: n + 2)
        parallelZero(p + 1, count: n)
        #expect(p[0] == 1 && p[n + 1] == 1)
        #expect((1...n).allSatisfy { p[$0] == 0 })
    }
}
