// The blocked attention's small products (BlockMatmul.c): bit for bit the scalar reference (the documented order of
// summation) and within rounding of a Double product, for every transposition, alpha and beta, over shapes that
// leave partial tiles in rows and columns, operands read through strides wider than their rows.
import CKernels
import Foundation
import Testing
import TailorEngine

@Suite struct BlockMatmulTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [(64, 64, 64), (1, 1, 1), (3, 17, 5), (37, 64, 64), (64, 9, 40), (5, 33, 64), (64, 64, 7), (13, 48, 64)]

    @Test(arguments: [false, true], [false, true])
    func matchesReferenceAndDouble(transA: Bool, transB: Bool) {
        var rng = SeededRandom(seed: 11)
        for (m, n, k) in Self.shapes {
            let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
            let lda = ac + 5, ldb = bc + 3, ldc = n + 2
            let a = (0..<(ar * lda)).map { _ in rng.nextGaussian() }, b = (0..<(br * ldb)).map { _ in rng.nextGaussian() }
            let start = (0..<(m * ldc)).map { _ in rng.nextGaussian() }
            for (alpha, beta) in [(Float(0.125), Float(0)), (Float(1), Float(1)), (Float(-0.5), Float(0.75))] {
                let what = "m \(m) n \(n) k \(k) trans \(transA)/\(transB) alpha \(alpha) beta \(beta)"
                var c0 = start
                if beta == 0 { for i in 0..<m { c0[i * ldc] = .nan } }   // C is not read when beta is 0
                var fast = c0, ref = c0, avx2 = c0
                tk_block_matmul(&fast, Int64(ldc), a, Int64(lda), transA ? 1 : 0, b, Int64(ldb), transB ? 1 : 0, Int64(m), Int64(n),
                                Int64(k), alpha, beta)
                // The AVX-512 tiles where the CPU has them, and the AVX2 ones (tk_set_vnni(0) keeps them on AVX2).
                tk_set_vnni(0)
                tk_block_matmul(&avx2, Int64(ldc), a, Int64(lda), transA ? 1 : 0, b, Int64(ldb), transB ? 1 : 0, Int64(m), Int64(n),
                                Int64(k), alpha, beta)
                tk_set_vnni(1)
                tk_block_matmul_ref(&ref, Int64(ldc), a, Int64(lda), transA ? 1 : 0, b, Int64(ldb), transB ? 1 : 0, Int64(m),
                                    Int64(n), Int64(k), alpha, beta)
                let differ = zip(fast, ref).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differ == 0, "\(what): \(differ) elements are not the reference's bits")
                let differ2 = zip(avx2, ref).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differ2 == 0, "\(what): \(differ2) elements of the AVX2 path are not the reference's bits")
                var bad = 0
                for i in 0..<m {
                    for j in 0..<ldc {
                        let got = Double(fast[i * ldc + j])
                        guard j < n else { bad += got.bitPattern == Double(c0[i * ldc + j]).bitPattern ? 0 : 1; continue }
                        var s = 0.0
                        for p in 0..<k {
                            s += Double(transA ? a[p * lda + i] : a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                        }
                        let want = Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j]))
                        if !(abs(got - want) <= 1e-4 * max(1, abs(want))) { bad += 1 }
                    }
                }
                #expect(bad == 0, "\(what): \(bad) elements wrong")
            }
        }
    }
}
