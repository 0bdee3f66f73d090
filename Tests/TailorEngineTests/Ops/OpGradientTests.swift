// Every op's backward against central finite differences of its forward (llama.cpp test-backend-ops style).
import Testing
import TailorEngine

@Suite struct OpGradientTests {
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    @Test func rmsnorm() {
        let N = 3, C = 8
        var rng = SeededRandomLite(seed: 1)
        var x = rng.values(N * C), w = rng.values(C).map { 1 + $0 * 0.3 }
        let r = GradientCheck.projection(N * C, seed: 2)
        func f(_ x: [Float], _ w: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: N * C)
            rmsnormForward(&out, nil, x, w, N: N, C: C, eps: 1e-5)
            return out
        }
        var rstd = [Float](repeating: 0, count: N), out = [Float](repeating: 0, count: N * C)
        rmsnormForward(&out, &rstd, x, w, N: N, C: C, eps: 1e-5)
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C)
        rmsnormBackward(&dx, &dw, r, x, w, rstd, N: N, C: C)
        let w0 = w, x0 = x
        GradientCheck.check("rmsnorm dx", values: &x, analytic: dx) { dot(f($0, w0), r) }
        GradientCheck.check("rmsnorm dw", values: &w, analytic: dw) { dot(f(x0, $0), r) }
    }

    @Test func rope() {
        let N = 3, heads = 2, HD = 8, stride = heads * HD
        let table = RopeTable(headDim: HD, theta: 10000, freqFactors: [1, 2, 1, 4])
        var cs = [Float](repeating: 0, count: N * HD)
        for n in 0..<N { cs.withUnsafeMutableBufferPointer { table.fill($0.baseAddress! + n * HD, position: n * 5 + 1) } }
        var rng = SeededRandomLite(seed: 3)
        var x = rng.values(N * stride)
        let r = GradientCheck.projection(N * stride, seed: 4)
        func f(_ x: [Float]) -> [Float] { var y = x; ropeForward(&y, cs, N: N, heads: heads, HD: HD, stride: stride); return y }
        var dx = r
        ropeBackward(&dx, cs, N: N, heads: heads, HD: HD, stride: stride)
        GradientCheck.check("rope", values: &x, analytic: dx) { dot(f($0), r) }
    }

    @Test func swiglu() {
        let n = 20
        var rng = SeededRandomLite(seed: 5)
        var gate = rng.values(n, scale: 3), up = rng.values(n, scale: 2)
        let r = GradientCheck.projection(n, seed: 6)
        func f(_ g: [Float], _ u: [Float]) -> [Float] { var h = [Float](repeating: 0, count: n); swigluForward(&h, g, u, count: n); return h }
        var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
        swigluBackward(&dg, &du, r, gate, up, count: n)
        let g0 = gate, u0 = up
        GradientCheck.check("swiglu dgate", values: &gate, analytic: dg) { dot(f($0, u0), r) }
        GradientCheck.check("swiglu dup", values: &up, analytic: du) { dot(f(g0, $0), r) }
    }

    @Test func geglu() {
        let n = 20
        var rng = SeededRandomLite(seed: 15)
        var gate = rng.values(n, scale: 3), up = rng.values(n, scale: 2)
        let r = GradientCheck.projection(n, seed: 16)
        func f(_ g: [Float], _ u: [Float]) -> [Float] { var h = [Float](repeating: 0, count: n); gegluForward(&h, g, u, count: n); return h }
        var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
        gegluBackward(&dg, &du, r, gate, up, count: n)
        // PyTorch's gelu(approximate="tanh") at a few points.
        var h = [Float](repeating: 0, count: 3)
        gegluForward(&h, [-2, 0.5, 3], [1, 1, 1], count: 3)
        for (mine, torch) in zip(h, [Float(-0.04540229), 0.34571400, 2.99636269]) { #expect(abs(mine - torch) < 1e-6) }
        let g0 = gate, u0 = up
        GradientCheck.check("geglu dgate", values: &gate, analytic: dg) { dot(f($0, u0), r) }
        GradientCheck.check("geglu dup", values: &up, analytic: du) { dot(f(g0, $0), r) }
    }

    /// Qwen 3 and Gemma 3's q/k norm: one RMSNorm per head of each row (N·heads rows of HD), one weight (HD) shared.
    @Test func perHeadNorm() {
        let T = 3, heads = 4, HD = 8, n = T * heads * HD
        var rng = SeededRandomLite(seed: 17)
        var x = rng.values(n, scale: 2), w = rng.values(HD).map { 1 + $0 * 0.3 }
        let r = GradientCheck.projection(n, seed: 18)
        func f(_ x: [Float], _ w: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            rmsnormForward(&out, nil, x, w, N: T * heads, C: HD, eps: 1e-6)
            return out
        }
        var rstd = [Float](repeating: 0, count: T * heads), out = [Float](repeating: 0, count: n)
        rmsnormForward(&out, &rstd, x, w, N: T * heads, C: HD, eps: 1e-6)
        var dx = [Float](repeating: 0, count: n), dw = [Float](repeating: 0, count: HD)
        rmsnormBackward(&dx, &dw, r, x, w, rstd, N: T * heads, C: HD)
        let w0 = w, x0 = x
        GradientCheck.check("q/k norm dx", values: &x, analytic: dx) { dot(f($0, w0), r) }
        GradientCheck.check("q/k norm dw", values: &w, analytic: dw) { dot(f(x0, $0), r) }
    }

    @Test func attentionWithGroupedQueryHeads() {
        let T = 5, NH = 4, NKV = 2, HD = 4
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD)
        var rng = SeededRandomLite(seed: 7)
        var q = rng.values(T * NH * HD), k = rng.values(T * NKV * HD), v = rng.values(T * NKV * HD)
        let r = GradientCheck.projection(T * NH * HD, seed: 8)
        func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: T * NH * HD), probs = [Float](repeating: 0, count: NH * T * T)
            attentionForward(&out, &probs, q, k, v, Tq: T, start: 0, shape: shape)
            return out
        }
        var out = [Float](repeating: 0, count: T * NH * HD), probs = [Float](repeating: 0, count: NH * T * T)
        attentionForward(&out, &probs, q, k, v, Tq: T, start: 0, shape: shape)
        var dq = [Float](repeating: 0, count: q.count), dk = [Float](repeating: 0, count: k.count)
        var dv = [Float](repeating: 0, count: v.count), dprobs = [Float](repeating: 0, count: probs.count)
        attentionBackward(&dq, &dk, &dv, &dprobs, r, probs, q, k, v, T: T, shape: shape)
        let q0 = q, k0 = k, v0 = v
        GradientCheck.check("attention dq", values: &q, analytic: dq) { dot(f($0, k0, v0), r) }
        GradientCheck.check("attention dk", values: &k, analytic: dk) { dot(f(q0, $0, v0), r) }
        GradientCheck.check("attention dv", values: &v, analytic: dv) { dot(f(q0, k0, $0), r) }
    }

    @Test func attentionIsCausal() {
        // Changing a later key must not change an earlier query's output.
        let T = 4, NH = 2, HD = 4
        let shape = AttentionShape(heads: NH, kvHeads: NH, headDim: HD, qStride: NH * HD, kvStride: NH * HD)
        var rng = SeededRandomLite(seed: 9)
        let q = rng.values(T * NH * HD), v = rng.values(T * NH * HD)
        var k = rng.values(T * NH * HD)
        var a = [Float](repeating: 0, count: T * NH * HD), b = a, probs = [Float](repeating: 0, count: NH * T * T)
        attentionForward(&a, &probs, q, k, v, Tq: T, start: 0, shape: shape)
        for i in (3 * NH * HD)..<(4 * NH * HD) { k[i] += 1 }
        attentionForward(&b, &probs, q, k, v, Tq: T, start: 0, shape: shape)
        #expect(Array(a[0..<(3 * NH * HD)]) == Array(b[0..<(3 * NH * HD)]))
        #expect(a[(3 * NH * HD)...] != b[(3 * NH * HD)...])
    }

    @Test(arguments: [Float(0), 0.25])
    func loraLinear(dropout: Float) {
        let T = 3, inF = 6, outF = 5, rank = 2
        var rng = SeededRandomLite(seed: 10)
        var x = rng.values(T * inF), a = rng.values(rank * inF), b = rng.values(outF * rank)
        let w = rng.values(outF * inF)
        let r = GradientCheck.projection(T * outF, seed: 11)
        var scratch = [Float](repeating: 0, count: T * inF)
        func f(_ x: [Float], _ a: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: T * outF), u = [Float](repeating: 0, count: T * rank)
            var da = [Float](repeating: 0, count: a.count), db = [Float](repeating: 0, count: b.count)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                da.withUnsafeMutableBufferPointer { dap in db.withUnsafeMutableBufferPointer { dbp in
                    let view = LoRAView(a: ap.baseAddress!, b: bp.baseAddress!, da: dap.baseAddress!, db: dbp.baseAddress!,
                                        rank: rank, scale: 1.5, dropout: dropout, dropoutSeed: 42)
                    loraLinearForward(&y, &u, x, w, view, scratch: &scratch, T: T, inF: inF, outF: outF)
                } }
            } }
            return y
        }
        var u = [Float](repeating: 0, count: T * rank), y = [Float](repeating: 0, count: T * outF)
        var da = [Float](repeating: 0, count: a.count), db = [Float](repeating: 0, count: b.count)
        var dx = [Float](repeating: 0, count: x.count), du = [Float](repeating: 0, count: T * rank)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
            da.withUnsafeMutableBufferPointer { dap in db.withUnsafeMutableBufferPointer { dbp in
                let view = LoRAView(a: ap.baseAddress!, b: bp.baseAddress!, da: dap.baseAddress!, db: dbp.baseAddress!,
                                    rank: rank, scale: 1.5, dropout: dropout, dropoutSeed: 42)
                loraLinearForward(&y, &u, x, w, view, scratch: &scratch, T: T, inF: inF, outF: outF)
                loraLinearBackward(&dx, accumulate: false, r, x, u, w, view, du: &du, scratch: &scratch, T: T, inF: inF, outF: outF)
            } }
        } }
        let x0 = x, a0 = a, b0 = b
        GradientCheck.check("lora dx", values: &x, analytic: dx) { dot(f($0, a0, b0), r) }
        GradientCheck.check("lora dA", values: &a, analytic: da) { dot(f(x0, $0, b0), r) }
        GradientCheck.check("lora dB", values: &b, analytic: db) { dot(f(x0, a0, $0), r) }
    }

    @Test func crossEntropy() {
        let N = 3, V = 7
        var rng = SeededRandomLite(seed: 12)
        var logits = rng.values(N * V, scale: 3)
        let targets: [Int32] = [1, 6, 0]
        func loss(_ l: [Float]) -> Double {
            var copy = l
            return crossEntropyForward(&copy, targets: targets, N: N, V: V).lossSum
        }
        var grad = logits
        let (lossSum, _) = crossEntropyForwardBackward(&grad, targets: targets, N: N, V: V, gradScale: 1)
        #expect(abs(lossSum - loss(logits)) < 1e-9)
        GradientCheck.check("cross-entropy", values: &logits, analytic: grad, eps: 1e-2) { loss($0) }
    }

    @Test func crossEntropyOfAnUnlikelyTargetIsFinite() {
        var logits: [Float] = [100, -100, 0]
        let (loss, correct) = crossEntropyForward(&logits, targets: [Int32(1)], N: 1, V: 3)
        #expect(abs(loss - 200) < 1e-3)
        #expect(correct == 0)
    }
}
