// Softmax cross-entropy over the vocabulary, fused with its backward: the logits buffer is overwritten by
// ∂loss/∂logits so that no second (N, V) buffer exists. Only rows that carry loss are ever materialised.
import CKernels
import Foundation

/// For each row n: loss_n = −log softmax(logits_n)[target_n]; logits_n becomes weight·(softmax − onehot).
/// Returns Σ loss_n (unweighted) and the number of rows whose argmax equals the target.
package func crossEntropyForwardBackward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int,
                                 gradScale: Float) -> (lossSum: Double, correct: Int) {
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
        lossSum += -Foundation.log(Double(row[best])) + Double(bestValue - target)
        for i in 0..<V { row[i] *= gradScale }
        row[t] -= gradScale
    }
    return (lossSum, correct)
}

/// Loss and accuracy only (evaluation): logits are overwritten by probabilities.
package func crossEntropyForward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int)
    -> (lossSum: Double, correct: Int) {
    crossEntropyForwardBackward(logits, targets: targets, N: N, V: V, gradScale: 0)
}
