// The loss head by vocabulary slices against the same head computed whole in double: each row's loss, the first
// argmax, and ∂loss/∂x, for slice widths from one column to the whole vocabulary, with a near-certain row (p_t within
// ~1e-6 of 1, where a float p_t − 1 keeps a digit or two) and tied maxima that straddle two slices.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct SlicedLossHeadTests {
    let n = 6, C = 24, V = 300

    /// Row j's loss, first argmax and weight·∂loss/∂x, all in double.
    func reference(_ x: [Float], _ e: [Float], targets: [Int32], weights: [Float]) -> (loss: [Double], best: [Int], dx: [[Double]]) {
        var loss: [Double] = [], best: [Int] = [], dx: [[Double]] = []
        for j in 0..<n {
            let z = (0..<V).map { v in (0..<C).reduce(0.0) { $0 + Double(x[j * C + $1]) * Double(e[v * C + $1]) } }
            // The float logits decide the argmax, as the head's product does (a tie in double is a tie in float here).
            let m = z.max()!, s = z.reduce(0) { $0 + exp($1 - m) }
            loss.append(log(s) + m - z[Int(targets[j])])
            best.append(z.firstIndex(of: m)!)
            // Σ_v (p_v − [v = t])·E_v, with p_t − 1 as −Σ_{v≠t} p_v so that it keeps its digits near 1.
            let t = Int(targets[j])
            let others = z.enumerated().reduce(0.0) { $1.offset == t ? $0 : $0 + exp($1.element - m) } / s
            dx.append((0..<C).map { i in
                Double(weights[j]) * ((0..<V).reduce(0.0) { v, k in k == t ? v : v + exp(z[k] - m) / s * Double(e[k * C + i]) }
                    - others * Double(e[t * C + i]))
            })
        }
        return (loss, best, dx)
    }

    @Test func everySliceWidthGivesTheWholeHead() {
        var rng = SeededRandom(seed: 17)
        var x = (0..<(n * C)).map { _ in rng.nextUnitFloat() * 2 - 1 }
        var e = (0..<(V * C)).map { _ in (rng.nextUnitFloat() * 2 - 1) * 0.5 }
        let targets: [Int32] = [5, 299, 0, 150, 64, 77]
        let weights: [Float] = [1, 0.5, -0.25, 2, 1, 1]
        // Row 3: near-certain (its target's logit 20, the others within ±2): p_t − 1 ≈ −1e-6, 16 units of float's 6e-8.
        for i in 0..<C { x[3 * C + i] = i == 0 ? 4 : 0; e[150 * C + i] = i == 0 ? 5 : 0 }
        // Row 4: its largest logit tied at columns 63 and 64 (across the boundary of 64-column slices) and 200.
        for i in 0..<C { x[4 * C + i] = i == 1 ? 1 : 0 }
        for v in [63, 64, 200] { for i in 0..<C { e[v * C + i] = i == 1 ? 9 : 0 } }
        let want = reference(x, e, targets: targets, weights: weights)
        #expect(want.best[4] == 63)
        for slice in [1, 7, 64, 100, V - 1, V] {
            let head = SlicedLossHead(dim: C, maxRows: 8, slice: slice)
            var dx = [Float](repeating: .nan, count: n * C)
            let (lossSum, correct) = x.withUnsafeBufferPointer { xp in e.withUnsafeBufferPointer { ep in
                dx.withUnsafeMutableBufferPointer { dp in
                    head.run(xp.baseAddress!, rows: n, weights: ep.baseAddress!, vocabulary: V, targets: { targets[$0] },
                             backward: true, weight: { weights[$0] }) { dp.baseAddress! + $0 * C }
                }
            } }
            #expect(abs(lossSum - want.loss.reduce(0, +)) < 1e-5 * want.loss.reduce(0, +), "slice \(slice): \(lossSum)")
            #expect(correct == (0..<n).filter { want.best[$0] == Int(targets[$0]) }.count, "slice \(slice)")
            for j in 0..<n {
                #expect(abs(head.loss(j) - want.loss[j]) < 1e-4 * max(1, want.loss[j]), "slice \(slice) row \(j): \(head.loss(j)) vs \(want.loss[j])")
                let scale = max(1e-30, want.dx[j].map(abs).max()!)
                let worst = (0..<C).map { abs(Double(dx[j * C + $0]) - want.dx[j][$0]) }.max()! / scale
                #expect(worst < 1e-4, "slice \(slice) row \(j): ∂x off by \(worst) of its largest entry")
            }
            // The near-certain row's gradient is tiny but not zero, and not of the wrong sign.
            #expect(dx[3 * C] != 0 && (dx[3 * C] > 0) == (want.dx[3][0] > 0), "slice \(slice): \(dx[3 * C]) vs \(want.dx[3][0])")
        }
        // Without the backward the losses are the same and ∂x is left alone.
        let head = SlicedLossHead(dim: C, maxRows: n, slice: 64)
        var untouched = [Float](repeating: 7, count: n * C)
        let (lossSum, _) = x.withUnsafeBufferPointer { xp in e.withUnsafeBufferPointer { ep in
            untouched.withUnsafeMutableBufferPointer { dp in
                head.run(xp.baseAddress!, rows: n, weights: ep.baseAddress!, vocabulary: V, targets: { targets[$0] },
                         backward: false, weight: { _ in 1 }) { dp.baseAddress! + $0 * C }
            }
        } }
        #expect(abs(lossSum - want.loss.reduce(0, +)) < 1e-5 * want.loss.reduce(0, +))
        #expect(untouched.allSatisfy { $0 == 7 })
    }
}
