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
