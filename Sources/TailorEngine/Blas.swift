// The one door to OpenBLAS. Layout everywhere in the engine: row-major, weights `[out, in]`, so a linear layer is
// `y[T, out] = x[T, in] · Wᵀ`. Thread settings are decided here and logged once at start-up.
//
// One thread pool (`useKernelPool`, what `tailor` does at start-up): OpenBLAS runs single-threaded, and a product large
// enough is split into column (or row) blocks run on Tailor's kernel pool (CKernels' tk_parallel_for), the threads
// that run everything between the products. With OpenBLAS's own threads beside the pool, each product found the
// pool's worker asleep afterwards and each pool job found OpenBLAS's asleep: on two cores, three threads handing the
// cores back and forth (BENCHMARKS.md, "One thread pool").
import CKernels
import COpenBLAS

public enum Blas {
    /// C[M, N] (+)= alpha · op(A) · op(B), all row-major with leading dimensions given.
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let blocks = poolBlocks
        guard blocks > 1, m * n * k >= minSplitWork else {
            return call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        splitSgemm(blocks: blocks, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// Products below this many multiply-adds run whole on the calling thread (~10 µs at this machine's rate).
    package static let minSplitWork = 1 << 20

    /// Blocks a large product is split into on the kernel pool: the pool's thread count after `useKernelPool`; 1 (no
    /// split, OpenBLAS threaded as it is) for library users and unit tests that never call it. Set once at start-up,
    /// before any product: a step's bits depend on it (as they depended on OpenBLAS's thread count before), and a
    /// test changing the pool's size meanwhile must not change another test's products.
    nonisolated(unsafe) package private(set) static var poolBlocks = 1

    /// OpenBLAS single-threaded, products of `threads` blocks on the kernel pool (which must have that many threads).
    public static func useKernelPool(threads: Int) {
        openblas_set_num_threads(1)
        poolBlocks = max(1, threads)
    }

    @inline(__always)
    static func call(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The product in `blocks` blocks on the pool, each one OpenBLAS call. Each block packs the whole of the operand
    /// it shares with the others, so the split is along C's columns (each block repacks A, m × k) when A is the
    /// smaller operand — a step's activations against a layer's matrix — and along C's rows otherwise; blocks are
    /// multiples of 48 rows or columns. The same shape and block count always give the same bits, but not always one
    /// call's: OpenBLAS's kernels round the columns at a call's edges and internal block boundaries differently (as
    /// its own threads did; on the Zen 3's kernels row blocks of 12k rows keep one call's bits, column blocks not).
    package static func splitSgemm(blocks wanted: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        let byColumns = m <= n
        let span = byColumns ? n : m
        let step = ((span + wanted - 1) / wanted + 47) / 48 * 48
        let blocks = (span + step - 1) / step
        guard blocks > 1 else { return call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        parallelFor(blocks) { i in
            let lo = i * step, w = min(span, lo + step) - lo
            if byColumns {
                // op(B)'s columns lo..<lo+w: rows of B when transposed, columns otherwise.
                call(transA, transB, m, w, k, alpha, a, lda, transB ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc)
            } else {
                call(transA, transB, w, n, k, alpha, transA ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc)
            }
        }
    }

    /// y[T, out] (+)= x[T, in] · W[out, in]ᵀ
    @inline(__always)
    public static func linear(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                              rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
        sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
              b: w, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: outFeatures)
    }

    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }
}
