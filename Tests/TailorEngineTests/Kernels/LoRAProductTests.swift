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

    /// C (+)= alpha·X·M with X read through a row stride wider than k (a view into a larger buffer).
    @Test func xmMatchesDoubleAndReference() {
        var rng = SeededRandom(seed: 21)
        for (rows, n, k) in Self.shapes.map({ ($0.rows, $0.r, $0.n) }) {
            let ldx = k + 3, ldc = n + 2
            let x = random(rows * ldx, &rng), m = random(k * n, &rng), c0 = random(rows * ldc, &rng)
            for accumulate in [0, 1] {
                var fast = c0, ref = c0
                tk_lora_xm(&fast, Int64(ldc), x, Int64(ldx), m, Int64(rows), Int64(k), Int64(n), 0.5, Int32(accumulate))
                tk_lora_xm_ref(&ref, Int64(ldc), x, Int64(ldx), m, Int64(rows), Int64(k), Int64(n), 0.5, Int32(accumulate))
                #expect(fast == ref, "xm rows \(rows) k \(k) n \(n): not the reference's bits")
                var want = c0.map(Double.init)
                for t in 0..<rows { for j in 0..<n {
                    var s = 0.0
                    for i in 0..<k { s += Double(x[t * ldx + i]) * Double(m[i * n + j]) }
                    want[t * ldc + j] = 0.5 * s + (accumulate == 1 ? Double(c0[t * ldc + j]) : 0)
                } }
                expectClose(fast, want, "xm rows \(rows) k \(k) n \(n)")
            }
        }
    }

    /// Y (+)= alpha·U·W: a rank-r update of a strided Y.
    @Test func uwMatchesDoubleAndReference() {
        var rng = SeededRandom(seed: 22)
        for (rows, r, n) in Self.shapes {
            let ldu = r + 1, ldy = n + 5
            let u = random(rows * ldu, &rng), w = random(r * n, &rng), y0 = random(rows * ldy, &rng)
            for accumulate in [0, 1] {
                var fast = y0, ref = y0
                tk_lora_uw(&fast, Int64(ldy), u, Int64(ldu), w, Int64(rows), Int64(r), Int64(n), -2, Int32(accumulate))
                tk_lora_uw_ref(&ref, Int64(ldy), u, Int64(ldu), w, Int64(rows), Int64(r), Int64(n), -2, Int32(accumulate))
                #expect(fast == ref, "uw rows \(rows) r \(r) n \(n): not the reference's bits")
                var want = y0.map(Double.init)
                for t in 0..<rows { for o in 0..<n {
                    var s = 0.0
                    for j in 0..<r { s += Double(u[t * ldu + j]) * Double(w[j * n + o]) }
                    want[t * ldy + o] = -2 * s + (accumulate == 1 ? Double(y0[t * ldy + o]) : 0)
                } }
                expectClose(fast, want, "uw rows \(rows) r \(r) n \(n)")
            }
        }
    }

    /// G += alpha·Uᵀ·Y into G as (r, n) or transposed (n, r).
    @Test func utvMatchesDoubleAndReference() {
        var rng = SeededRandom(seed: 23)
        for (rows, r, n) in Self.shapes {
            let ldu = r + 2, ldy = n + 1
            let u = random(rows * ldu, &rng), y = random(rows * ldy, &rng), g0 = random(r * n, &rng)
            for transposed in [0, 1] {
                var fast = g0, ref = g0
                tk_lora_utv(&fast, Int32(transposed), u, Int64(ldu), y, Int64(ldy), Int64(rows), Int64(r), Int64(n), 0.25)
                tk_lora_utv_ref(&ref, Int32(transposed), u, Int64(ldu), y, Int64(ldy), Int64(rows), Int64(r), Int64(n), 0.25)
                #expect(fast == ref, "utv rows \(rows) r \(r) n \(n) transposed \(transposed): not the reference's bits")
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
