// The cross-entropy loss head over frozen head weights, by slices of the vocabulary: every loss row at once against
// E[v0..<v0+w] (w columns), so that no (rows, V) logits buffer exists and each slice of E is read from memory once for
// both of its products. Per slice: logits = X·E_sliceᵀ, then per row one step of an online softmax (tk_head_slice_row:
// running max, Σ exp, first argmax, the target's logit and exp), and — backward — acc = acc·shrink + P·E_slice over
// the other tokens. At the end ∂loss/∂x = w·(acc/Σ + (p_t − 1)·E[target]), with p_t − 1 = −(Σ − e_t)/Σ computed in
// double, so a row whose target is near-certain keeps its gradient. Used wherever the head does not train: the
// decoders' LoRA steps, every evaluation and DPO's log-likelihoods (TrainingModel), T5's LoRA steps and evaluations
// (T5TrainingModel). Full fine-tuning needs whole rows of probabilities for the head's own gradient and runs its head
// by rows instead.
import CKernels
import Foundation

final class SlicedLossHead {
    /// Columns of the head's input rows (the model's width).
    let dim: Int
    /// Rows one call may take.
    let maxRows: Int
    /// Vocabulary columns per slice.
    let slice: Int

    private let logits: UnsafeMutablePointer<Float>   // (maxRows, slice)
    private let acc: UnsafeMutablePointer<Float>      // (maxRows, dim): Σ p·E over the slices so far
    // Each row's online-softmax state.
    private let maxLogit: UnsafeMutablePointer<Float>
    private let targetLogit: UnsafeMutablePointer<Float>
    private let best: UnsafeMutablePointer<Int32>
    private let sum: UnsafeMutablePointer<Double>
    private let targetExp: UnsafeMutablePointer<Double>
    private let rowLoss: UnsafeMutablePointer<Double>

    /// `slice` columns at most per slice (tests pass fewer; the numbers agree within rounding).
    init(dim: Int, maxRows: Int, slice: Int) {
        precondition(dim > 0 && maxRows > 0 && slice > 0)
        self.dim = dim; self.maxRows = maxRows; self.slice = slice
        logits = .allocate(capacity: maxRows * slice)
        acc = .allocate(capacity: maxRows * dim)
        maxLogit = .allocate(capacity: maxRows); targetLogit = .allocate(capacity: maxRows); best = .allocate(capacity: maxRows)
        sum = .allocate(capacity: maxRows); targetExp = .allocate(capacity: maxRows); rowLoss = .allocate(capacity: maxRows)
    }

    deinit {
        logits.deallocate(); acc.deallocate(); maxLogit.deallocate(); targetLogit.deallocate(); best.deallocate()
        sum.deallocate(); targetExp.deallocate(); rowLoss.deallocate()
    }

    /// Vocabulary columns per slice for passes of up to `rows` rows: 32 MB of logits, 1,024–8,192 columns (a multiple
    /// of 64), never more than the vocabulary. Against chunks of 128 rows, Gemma 3's head (262,144 × 640, ~300 loss
    /// rows) takes 1.08–1.10 s of products a step instead of 1.25–1.34 s; SmolLM2's is level with one product of
    /// every row.
    static func slice(vocabulary V: Int, rows: Int) -> Int {
        min(V, max(1024, min(8192, (32 << 20) / (4 * max(1, rows)) / 64 * 64)))
    }

    /// Bytes a head of this shape allocates.
    static func bytes(dim: Int, maxRows: Int, slice: Int) -> Int {
        4 * maxRows * (slice + dim + 3) + 8 * maxRows * 3
    }

    /// The loss of rows 0..<n of `input` ((n, dim), contiguous) against the head `weights` ((V, dim)): returns
    /// Σ −log p(target(j)) and how many rows' first argmax is their target; `loss(j)` then gives row j's term. With
    /// `backward`, `dx(j)` receives weight(j)·∂(−log p(target(j)))/∂input_j (overwritten). `yieldPoint` runs before
    /// each slice (a slice's two products take ~10–40 ms).
    func run(_ input: UnsafePointer<Float>, rows n: Int, weights: UnsafePointer<Float>, vocabulary V: Int,
             targets: (Int) -> Int32, backward: Bool, weight: (Int) -> Float, yieldPoint: (() -> Void)? = nil,
             dx: (Int) -> UnsafeMutablePointer<Float>) -> (lossSum: Double, correct: Int) {
        precondition(n <= maxRows, "\(n) rows; this head holds \(maxRows)")
        guard n > 0 else { return (0, 0) }
        let C = dim
        maxLogit.update(repeating: -.infinity, count: n); sum.update(repeating: 0, count: n)
        targetExp.update(repeating: 0, count: n); best.update(repeating: -1, count: n); targetLogit.update(repeating: 0, count: n)
        var v0 = 0
        while v0 < V {
            yieldPoint?()
            let w = min(slice, V - v0), e = weights + v0 * C
            Blas.linear(logits, input, e, rows: n, inFeatures: C, outFeatures: w)
            parallelPieces(n, cost: w) { js in
                for j in js {
                    let shrink = tk_head_slice_row(logits + j * w, Int64(w), Int64(v0), targets(j), maxLogit + j, sum + j,
                                                   best + j, targetLogit + j, targetExp + j)
                    if backward && v0 > 0 && shrink != 1 { let a = acc + j * C; for i in 0..<C { a[i] *= shrink } }
                }
            }
            if backward {
                Blas.sgemm(transA: false, transB: false, m: n, n: C, k: w, a: logits, lda: w, b: e, ldb: C,
                           beta: v0 == 0 ? 0 : 1, c: acc, ldc: C)
            }
            v0 += w
        }
        parallelPieces(n, cost: C) { js in
            for j in js {
                // −log p_t = log Σ exp(x − max) + max − x_t
                rowLoss[j] = Foundation.log(sum[j]) + Double(maxLogit[j]) - Double(targetLogit[j])
                guard backward else { continue }
                let wr = Double(weight(j)), k = Float(wr / sum[j]), kt = Float(-wr * (sum[j] - targetExp[j]) / sum[j])
                let a = acc + j * C, et = weights + Int(targets(j)) * C, d = dx(j)
                for i in 0..<C { d[i] = k * a[i] + kt * et[i] }
            }
        }
        var lossSum: Double = 0, correct = 0
        for j in 0..<n {
            lossSum += rowLoss[j]
            if best[j] == targets(j) { correct += 1 }
        }
        return (lossSum, correct)
    }

    /// Row j's −log p(target) from the last `run`.
    func loss(_ j: Int) -> Double { rowLoss[j] }
}
