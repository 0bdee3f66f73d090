// Softmax cross-entropy over the vocabulary, fused with its backward: the logits buffer is overwritten by
// ∂loss/∂logits so that no second (N, V) buffer exists. Only rows that carry loss are ever materialised.
import CKernels
import Foundation

/// For each row n: loss_n = −log softmax(logits_n)[target_n]; logits_n becomes weight·(softmax − onehot).
/// Returns Σ loss_n (unweighted) and the number of rows whose argmax equals the target.
package func crossEntropyForwardBackward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int,
                                 gradScale: Float) -> (lossSum: Double, correct: Int) {
    crossEntropyForwardBackward(logits, targets: targets, N: N, V: V, rowLoss: nil) { _ in gradScale }
}

/// The same with a weight per row (DPO weighs each sequence's rows by its pair's sigmoid, negatively for the rejected
/// answer), and each row's loss written to `rowLoss` when given. Rows run in parallel on the kernel pool (a step's
/// head has hundreds of rows of 49,152–262,144 logits, serial before: ~3 % of a SmolLM2 step with a core idle); the
/// sums are taken in row order afterwards, so they do not depend on the split.
package func crossEntropyForwardBackward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int,
                                         rowLoss: UnsafeMutablePointer<Double>?, weight: (Int) -> Float)
    -> (lossSum: Double, correct: Int) {
    var losses = [Double](repeating: 0, count: N), hits = [Bool](repeating: false, count: N)
    losses.withUnsafeMutableBufferPointer { loss in
        hits.withUnsafeMutableBufferPointer { hit in
            parallelRanges(N, pieces: KernelThreads.count * 4) { rows in
                for n in rows {
                    var best: Int32 = 0
                    loss[n] = tk_cross_entropy_row(logits + n * V, Int64(V), targets[n], weight(n), &best)
                    hit[n] = best == targets[n]
                }
            }
        }
    }
    var lossSum: Double = 0
    for n in 0..<N { lossSum += losses[n]; rowLoss?[n] = losses[n] }
    return (lossSum, hits.lazy.filter { $0 }.count)
}

/// Loss and accuracy only (evaluation): the logits are overwritten.
package func crossEntropyForward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int)
    -> (lossSum: Double, correct: Int) {
    crossEntropyForwardBackward(logits, targets: targets, N: N, V: V, gradScale: 0)
}
