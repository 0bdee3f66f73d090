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
/// answer), and each row's loss written to `rowLoss` when given.
package func crossEntropyForwardBackward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int,
                                         rowLoss: UnsafeMutablePointer<Double>?, weight: (Int) -> Float)
    -> (lossSum: Double, correct: Int) {
    var lossSum: Double = 0
    var correct = 0
    for n in 0..<N {
        let row = logits + n * V, t = Int(targets[n])
        var best = 0
        var bestValue = row[0]
        for i in 1..<V where row[i] > bestValue { bestValue = row[i]; best = i }
        if best == t { correct += 1 }
        let target = row[t]
        tk_softmax(row, Int64(V))
        // −log p_t = log Σ exp(x − max) + max − x_t, and the max's probability is 1 / Σ: no underflow for unlikely t.
        let loss = -Foundation.log(Double(row[best])) + Double(bestValue - target)
        lossSum += loss
        rowLoss?[n] = loss
        let w = weight(n)
        for i in 0..<V { row[i] *= w }
        row[t] -= w
    }
    return (lossSum, correct)
}

/// Loss and accuracy only (evaluation): logits are overwritten by probabilities.
package func crossEntropyForward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int)
    -> (lossSum: Double, correct: Int) {
    crossEntropyForwardBackward(logits, targets: targets, N: N, V: V, gradScale: 0)
}
