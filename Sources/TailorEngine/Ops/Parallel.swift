// Fork-join over the kernel thread pool (CKernels' tk_parallel_for) for Swift bodies.
// Concurrent callers are safe: the second one runs its body serially (the ComputeGate keeps training and
// generation from competing for the workers in the first place).
import CKernels

@inline(__always)
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 { if count == 1 { body(0) }; return }
    withoutActuallyEscaping(body) { escapable in
        var closure = escapable
        withUnsafeMutablePointer(to: &closure) { ptr in
            tk_parallel_for(Int32(count), { ctx, task in
                ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(task))
            }, ptr)
        }
    }
}

/// Splits `0..<n` into about `pieces` contiguous ranges and runs them in parallel.
@inline(__always)
public func parallelRanges(_ n: Int, pieces: Int, _ body: (Range<Int>) -> Void) {
    let p = max(1, min(pieces, n))
    let step = (n + p - 1) / p
    parallelFor(p) { i in
        let lo = i * step, hi = min(n, lo + step)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body` over 0..<n in contiguous ranges on the kernel pool when the work — n items of `cost` floats — is worth
/// the hand-off (2^15 floats a piece at least), else as body(0..<n) on this thread. For the per-row and elementwise
/// loops between a step's products (norms, rotations, gates, residual sums), which ran on the training thread alone
/// while the other cores waited (~7 % of that thread's samples in a SmolLM2 step). Results do not depend on the
/// split as long as an item's result depends on that item alone; vector kernels get boundaries at multiples of
/// `align` so that the same items take their vector path whatever the thread count.
package func parallelPieces(_ n: Int, cost: Int, align: Int = 1, _ body: (Range<Int>) -> Void) {
    let pieces = KernelThreads.count > 1 ? min(KernelThreads.count * 2, n * cost >> 15) : 1
    guard pieces > 1 else { if n > 0 { body(0..<n) }; return }
    let step = ((n + pieces - 1) / pieces + align - 1) / align * align
    parallelFor((n + step - 1) / step) { i in body(i * step..<min(n, (i + 1) * step)) }
}

/// y[i] += x[i] for i in 0..<count (a residual connection), in parallel when large.
package func parallelAdd(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    parallelPieces(count, cost: 1, align: 64) { r in for i in r { y[i] += x[i] } }
}

/// Sets `count` floats at `p` to zero in parallel (a full fine-tuning gradient buffer holds tens of millions).
public func parallelZero(_ p: UnsafeMutablePointer<Float>, count n: Int) {
    let chunk = 1 << 18
    parallelFor((n + chunk - 1) / chunk) { i in
        let lo = i * chunk
        (p + lo).update(repeating: 0, count: min(n, lo + chunk) - lo)
    }
}

public enum KernelThreads {
    public static func set(_ n: Int) { tk_pool_set_threads(Int32(n)) }
    public static var count: Int { Int(tk_pool_threads()) }
}
