// LoRA's training products (LoRAProducts.c): each against a Double product (the arithmetic is right) and bit for bit
// against its scalar reference (the documented summation order, which makes the results independent of the pool's
// split), over ranks, widths and row counts that leave every vector edge partial.
import CKernels
import Foundation
import Testing
import TailorEngine

@Suite struct LoRAProductTests {
    static let shapes: [(rows: Int, r: Int, n: Int)] = [
        (1, 1, 1), (3, 4, 7), (9, 8, 8), (17, 8, 33), (37, 12, 96), (70, 16, 50), (45, 8, 192), (8, 24, 17), (130, 64, 40),
    ]

    func random(_ count: Int, _ rng: inout SeededRandom) -> [Float] { (0..<count).map { _ in rng.nextGaussian() } }

    func expectClose(_ got: [Float], _ want: [Double], _ what: String) {
        let bad = zip(got, want).enumerated().filter { abs(Double($1.0) - $1.1) > 1e-4 * max(1, abs($1.1)) }
        #expect(bad.isEmpty, "\(what): \(bad.count) of \(got.count) differ, first at \(bad.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
    }

    /// C (+)= alpha·A·B through tk_lora_product, A and C read through row strides wider than their rows (views into larger
    /// buffers): the reference's bits, and a Double product's values.
    func checkProduct(_ name: String, rows: Int, k: Int, n: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let lda = k + 3, ldc = n + 2, alpha: Float = -0.5
        let a = random(rows * lda, &rng), b = random(k * n, &rng), c0 = random(rows * ldc, &rng)
        for accumulate in [0, 1] {
            var fast = c0, ref = c0
            tk_lora_product(&fast, Int64(ldc), a, Int64(lda), b, Int64(rows), Int64(k), Int64(n), alpha, Int32(accumulate))
            tk_lora_product_ref(&ref, Int64(ldc), a, Int64(lda), b, Int64(rows), Int64(k), Int64(n), alpha, Int32(accumulate))
            #expect(fast == ref, "\(name) rows \(rows) k \(k) n \(n): not the reference's bits")
            var want = c0.map(Double.init)
            for t in 0..<rows { for j in 0..<n {
                var s = 0.0
                for i in 0..<k { s += Double(a[t * lda + i]) * Double(b[i * n + j]) }
                want[t * ldc + j] = Double(alpha) * s + (accumulate == 1 ? Double(c0[t * ldc + j]) : 0)
            } }
            expectClose(fast, want, "\(name) rows \(rows) k \(k) n \(n)")
        }
    }

    /// A few columns (the rank) from a long inner dimension: u = x·Aᵀ, du = dy·B.
    @Test func fewColumnsMatchDoubleAndReference() {
        for (i, s) in Self.shapes.enumerated() { checkProduct("few columns", rows: s.rows, k: s.n, n: s.r, seed: UInt64(21 + i)) }
    }

    /// A rank-r update of a wide Y: y = s·u·Bᵀ, dx += du·A.
    @Test func shortInnerDimensionMatchesDoubleAndReference() {
        for (i, s) in Self.shapes.enumerated() { checkProduct("short inner dimension", rows: s.rows, k: s.r, n: s.n, seed: UInt64(41 + i)) }
    }

    /// G += alpha·Uᵀ·Y into G as (r, n) or transposed (n, r).
    @Test func utvMatchesDoubleAndReference() {
        var rng = SeededRandom(seed: 23)
        for (rows, r, n) in Self.shapes {
            let ldu = r + 2, ldy = n + 1
            let u = random(rows * ldu, &rng), y = random(rows * ldy, &rng), g0 = random(r * n, &rng)
            for transposed in [0, 1] {
                var fast = g0, ref = g0, avx2 = g0
                tk_lora_utv(&fast, Int32(transposed), u, Int64(ldu), y, Int64(ldy), Int64(rows), Int64(r), Int64(n), 0.25)
                tk_lora_utv_ref(&ref, Int32(transposed), u, Int64(ldu), y, Int64(ldy), Int64(rows), Int64(r), Int64(n), 0.25)
                // The AVX-512 kernel where the CPU has it, and the AVX2 one (tk_set_vnni(0) keeps the sums on AVX2).
                tk_set_vnni(0)
                tk_lora_utv(&avx2, Int32(transposed), u, Int64(ldu), y, Int64(ldy), Int64(rows), Int64(r), Int64(n), 0.25)
                tk_set_vnni(1)
                #expect(fast == ref, "utv rows \(rows) r \(r) n \(n) transposed \(transposed): not the reference's bits")
                #expect(avx2 == ref, "utv (AVX2) rows \(rows) r \(r) n \(n) transposed \(transposed): not the reference's bits")
                var want = g0.map(Double.init)
                for j in 0..<r { for o in 0..<n {
                    var s = 0.0
                    for t in 0..<rows { s += Double(u[t * ldu + j]) * Double(y[t * ldy + o]) }
                    want[transposed == 1 ? o * r + j : j * n + o] += 0.25 * s
                } }
                expectClose(fast, want, "utv rows \(rows) r \(r) n \(n) transposed \(transposed)")
            }
        }
    }

    @Test func transposeSwapsRowsAndColumns() {
        let src: [Float] = [1, 2, 3, 4, 5, 6]   // 2 × 3
        var dst = [Float](repeating: 0, count: 6)
        tk_transpose(&dst, src, 2, 3)
        #expect(dst == [1, 4, 2, 5, 3, 6])
    }
}
