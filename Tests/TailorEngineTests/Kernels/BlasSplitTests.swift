// Products split into blocks on the kernel pool (Blas.splitSgemm, what `tailor` runs once `Blas.useKernelPool` is
// set): every element right for every shape, transposition, block count and split direction (a block's offsets into
// A, B or C wrong would show here), the padding between C's rows untouched, and the same bits on every run. Shapes
// leave partial blocks and edges of OpenBLAS's micro-kernels; operands are read through leading dimensions wider
// than their rows.
import Foundation
import Testing
import TailorEngine

@Suite struct BlasSplitTests {
    /// (m, n, k): m ≤ n splits along C's columns, m > n along its rows.
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (131, 960, 200), (170, 1000, 64), (97, 50, 8), (5, 4096, 96), (601, 96, 130), (1000, 37, 64), (200, 200, 33),
    ]

    @Test(arguments: [false, true], [false, true])
    func splitProductsAreRightAndRepeatable(transA: Bool, transB: Bool) {
        var rng = SeededRandom(seed: 7)
        for (m, n, k) in Self.shapes {
            // Stored shapes: op(A) is m × k, op(B) is k × n; each row padded by 3.
            let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
            let lda = ac + 3, ldb = bc + 3, ldc = n + 3
            let a = (0..<(ar * lda)).map { _ in rng.nextGaussian() }, b = (0..<(br * ldb)).map { _ in rng.nextGaussian() }
            let c0 = (0..<(m * ldc)).map { _ in rng.nextGaussian() }
            for (alpha, beta) in [(Float(1), Float(0)), (Float(0.5), Float(1))] {
                for blocks in [2, 3, 5] {
                    let what = "m \(m) n \(n) k \(k) trans \(transA)/\(transB) beta \(beta), \(blocks) blocks"
                    func run() -> [Float] {
                        var c = c0
                        Blas.splitSgemm(blocks: blocks, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a,
                                        lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc)
                        return c
                    }
                    let split = run(), again = run()
                    #expect(zip(split, again).allSatisfy { $0 == $1 }, "\(what): two runs differ")
                    // Every element against a Double sum (the padding between rows untouched).
                    var bad = 0
                    for i in 0..<m {
                        for j in 0..<ldc {
                            let got = Double(split[i * ldc + j])
                            guard j < n else { bad += got == Double(c0[i * ldc + j]) ? 0 : 1; continue }
                            var s = 0.0
                            for p in 0..<k {
                                s += Double(transA ? a[p * lda + i] : a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                            }
                            let want = Double(alpha) * s + Double(beta) * Double(c0[i * ldc + j])
                            if abs(got - want) > 1e-4 * max(1, abs(want)) { bad += 1 }
                        }
                    }
                    #expect(bad == 0, "\(what): \(bad) of \(m * ldc) elements wrong")
                }
            }
        }
    }
}
