// The blocked (flash-style) attention against the naive one it replaces in training and prefill: outputs and the
// three input gradients, at lengths that do and do not fill the last block, with packed segments, grouped-query
// heads and a prefill chunk that starts mid-sequence; and the blocked backward against finite differences.
import Testing
import TailorEngine

@Suite struct BlockedAttentionTests {
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    /// Naive reference over each segment separately (the block-diagonal causal mask), the way training ran before.
    func naive(_ q: [Float], _ k: [Float], _ v: [Float], _ dout: [Float], segments: [Range<Int>], shape: AttentionShape)
        -> (out: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        var out = [Float](repeating: 0, count: q.count), dq = out
        var dk = [Float](repeating: 0, count: k.count), dv = dk
        for seg in segments {
            let n = seg.count, s = seg.lowerBound
            var probs = [Float](repeating: 0, count: shape.heads * n * n), dprobs = probs
            q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
                dout.withUnsafeBufferPointer { dout in
                    let q = q.baseAddress! + s * shape.qStride, k = k.baseAddress! + s * shape.kvStride
                    let v = v.baseAddress! + s * shape.kvStride
                    out.withUnsafeMutableBufferPointer { o in
                        attentionForward(o.baseAddress! + s * shape.qStride, &probs, q, k, v, Tq: n, start: 0, shape: shape)
                    }
                    dq.withUnsafeMutableBufferPointer { dq in dk.withUnsafeMutableBufferPointer { dk in dv.withUnsafeMutableBufferPointer { dv in
                        attentionBackward(dq.baseAddress! + s * shape.qStride, dk.baseAddress! + s * shape.kvStride,
                                          dv.baseAddress! + s * shape.kvStride, &dprobs, dout.baseAddress! + s * shape.qStride,
                                          probs, q, k, v, T: n, shape: shape)
                    } } }
                }
            } } }
        }
        return (out, dq, dk, dv)
    }

    func blocked(_ q: [Float], _ k: [Float], _ v: [Float], _ dout: [Float], segments: [Range<Int>], shape: AttentionShape,
                 block: Int) -> (out: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        let T = q.count / shape.qStride
        let first = segments.flatMap { seg in seg.map { _ in Int32(seg.lowerBound) } }
        var out = [Float](repeating: 0, count: q.count), dq = out, lse = [Float](repeating: 0, count: shape.heads * T)
        var dk = [Float](repeating: 0, count: k.count), dv = dk
        var fs = [Float](repeating: 0, count: blockedAttentionForwardScratch(shape, block: block))
        var bs = [Float](repeating: 0, count: blockedAttentionBackwardScratch(shape, T: T, block: block))
        blockedAttentionForward(&out, &lse, q, k, v, Tq: T, start: 0, firstKey: first, shape: shape, block: block, scratch: &fs)
        blockedAttentionBackward(&dq, &dk, &dv, dout, out, lse, q, k, v, T: T, firstKey: first, shape: shape, block: block,
                                 scratch: &bs)
        return (out, dq, dk, dv)
    }

    func expectClose(_ name: String, _ a: [Float], _ b: [Float], tolerance: Float = 2e-5) {
        var worst: Float = 0, at = 0
        for i in a.indices {
            let e = abs(a[i] - b[i]) / max(1, abs(b[i]))
            if e > worst { worst = e; at = i }
        }
        #expect(worst <= tolerance, "\(name): worst difference \(worst) at \(at): blocked \(a[at]), naive \(b[at])")
    }

    @Test(arguments: [(1, 8), (7, 8), (16, 8), (37, 16), (64, 16), (130, 32), (200, 64), (257, 64)])
    func matchesNaive(T: Int, block: Int) {
        for (NH, NKV) in [(4, 2), (3, 3)] {
            let HD = 16
            let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD)
            var rng = SeededRandomLite(seed: UInt64(T * 31 + block))
            let q = rng.values(T * NH * HD, scale: 2), k = rng.values(T * NKV * HD, scale: 2), v = rng.values(T * NKV * HD)
            let dout = rng.values(T * NH * HD)
            // One sequence, then the same rows packed as several examples of uneven lengths.
            var packed: [Range<Int>] = []
            var s = 0
            for n in [T / 3, 1, T / 5 + 2, T] where s < T { packed.append(s..<min(T, s + max(n, 1))); s = packed.last!.upperBound }
            for segments in [[0..<T], packed] {
                let a = blocked(q, k, v, dout, segments: segments, shape: shape, block: block)
                let b = naive(q, k, v, dout, segments: segments, shape: shape)
                let what = "T \(T) block \(block) heads \(NH)/\(NKV) segments \(segments.count)"
                expectClose("\(what) out", a.out, b.out)
                expectClose("\(what) dq", a.dq, b.dq)
                expectClose("\(what) dk", a.dk, b.dk)
                expectClose("\(what) dv", a.dv, b.dv)
            }
        }
    }

    @Test func prefillChunkMatchesNaive() {
        // 11 queries at positions 29..<40 over 40 cached keys, as a prefill chunk after earlier ones.
        let NH = 4, NKV = 2, HD = 16, start = 29, Tq = 11, Tk = start + Tq
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD)
        var rng = SeededRandomLite(seed: 77)
        let q = rng.values(Tq * NH * HD, scale: 2), k = rng.values(Tk * NKV * HD, scale: 2), v = rng.values(Tk * NKV * HD)
        var a = [Float](repeating: 0, count: q.count), b = a, probs = [Float](repeating: 0, count: NH * Tq * Tk)
        for block in [8, 16, 64] {
            var scratch = [Float](repeating: 0, count: blockedAttentionForwardScratch(shape, block: block))
            blockedAttentionForward(&a, nil, q, k, v, Tq: Tq, start: start, firstKey: nil, shape: shape, block: block, scratch: &scratch)
            attentionForward(&b, &probs, q, k, v, Tq: Tq, start: start, shape: shape)
            expectClose("prefill block \(block)", a, b)
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        let T = 11, NH = 4, NKV = 2, HD = 4, block = 4
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD)
        let segments = [0..<6, 6..<11]
        var rng = SeededRandomLite(seed: 21)
        var q = rng.values(T * NH * HD), k = rng.values(T * NKV * HD), v = rng.values(T * NKV * HD)
        let r = GradientCheck.projection(T * NH * HD, seed: 22)
        func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            dot(blocked(q, k, v, r, segments: segments, shape: shape, block: block).out, r)
        }
        let g = blocked(q, k, v, r, segments: segments, shape: shape, block: block)
        let q0 = q, k0 = k, v0 = v
        GradientCheck.check("blocked attention dq", values: &q, analytic: g.dq) { f($0, k0, v0) }
        GradientCheck.check("blocked attention dk", values: &k, analytic: g.dk) { f(q0, $0, v0) }
        GradientCheck.check("blocked attention dv", values: &v, analytic: g.dv) { f(q0, k0, $0) }
    }

    /// Gemma 3's local layers: each query sees the last `window` positions of its own segment, with a query scale
    /// other than 1/sqrt(HD); training (packed segments) and a prefill chunk that starts mid-sequence.
    @Test(arguments: [1, 3, 8, 100])
    func slidingWindowMatchesNaive(window: Int) {
        let T = 37, NH = 4, NKV = 2, HD = 16, block = 8
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD, scale: 0.3,
                                   window: window)
        var rng = SeededRandomLite(seed: UInt64(window))
        let q = rng.values(T * NH * HD, scale: 2), k = rng.values(T * NKV * HD, scale: 2), v = rng.values(T * NKV * HD)
        let dout = rng.values(T * NH * HD)
        for segments in [[0..<T], [0..<13, 13..<14, 14..<37]] {
            let a = blocked(q, k, v, dout, segments: segments, shape: shape, block: block)
            let b = naive(q, k, v, dout, segments: segments, shape: shape)
            let what = "window \(window) segments \(segments.count)"
            expectClose("\(what) out", a.out, b.out)
            expectClose("\(what) dq", a.dq, b.dq)
            expectClose("\(what) dk", a.dk, b.dk)
            expectClose("\(what) dv", a.dv, b.dv)
        }
        // The window does cut: without it the outputs differ (unless it spans the sequence).
        var global = shape
        global.window = nil
        let c = blocked(q, k, v, dout, segments: [0..<T], shape: global, block: block)
        let a = blocked(q, k, v, dout, segments: [0..<T], shape: shape, block: block)
        #expect((a.out == c.out) == (window >= T))
        // A prefill chunk at positions 20..<37 over cached keys, and single decode steps (the naive path).
        let start = 20, Tq = T - start
        var x = [Float](repeating: 0, count: Tq * NH * HD), y = x, probs = [Float](repeating: 0, count: NH * Tq * T)
        var scratch = [Float](repeating: 0, count: blockedAttentionForwardScratch(shape, block: block))
        let qc = Array(q[(start * NH * HD)...])
        blockedAttentionForward(&x, nil, qc, k, v, Tq: Tq, start: start, firstKey: nil, shape: shape, block: block, scratch: &scratch)
        attentionForward(&y, &probs, qc, k, v, Tq: Tq, start: start, shape: shape)
        expectClose("window \(window) prefill chunk", x, y)
        expectClose("window \(window) prefill chunk vs whole", x, Array(a.out[(start * NH * HD)...]))
        for p in [0, 5, 36] {
            var o = [Float](repeating: 0, count: NH * HD), pr = [Float](repeating: 0, count: NH * (p + 1))
            attentionForward(&o, &pr, Array(q[(p * NH * HD)..<((p + 1) * NH * HD)]), k, v, Tq: 1, start: p, shape: shape)
            expectClose("window \(window) decode at \(p)", o, Array(a.out[(p * NH * HD)..<((p + 1) * NH * HD)]))
        }
    }

    @Test func slidingWindowBackwardMatchesFiniteDifferences() {
        let T = 11, NH = 4, NKV = 2, HD = 4, block = 4
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: NH * HD, kvStride: NKV * HD, scale: 0.7,
                                   window: 3)
        let segments = [0..<7, 7..<11]
        var rng = SeededRandomLite(seed: 23)
        var q = rng.values(T * NH * HD), k = rng.values(T * NKV * HD), v = rng.values(T * NKV * HD)
        let r = GradientCheck.projection(T * NH * HD, seed: 24)
        func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            dot(blocked(q, k, v, r, segments: segments, shape: shape, block: block).out, r)
        }
        let g = blocked(q, k, v, r, segments: segments, shape: shape, block: block)
        let q0 = q, k0 = k, v0 = v
        GradientCheck.check("windowed attention dq", values: &q, analytic: g.dq) { f($0, k0, v0) }
        GradientCheck.check("windowed attention dk", values: &k, analytic: g.dk) { f(q0, $0, v0) }
        GradientCheck.check("windowed attention dv", values: &v, analytic: g.dv) { f(q0, k0, $0) }
    }

    /// A prompt prefix shared by packed examples, computed once (rows 0..<P) and seen by every example's rows besides
    /// their own, against each example packed whole (prefix repeated): the same outputs for every row, the prefix's
    /// q, k, v gradients the sum of its copies'. Prefixes shorter and longer than a block, examples of one row.
    @Test(arguments: [(5, 8), (8, 8), (21, 8), (40, 16), (3, 64)])
    func sharedPrefixEqualsEachExampleWhole(P: Int, block: Int) {
        let NH = 4, NKV = 2, HD = 16, qW = NH * HD, kvW = NKV * HD
        let shape = AttentionShape(heads: NH, kvHeads: NKV, headDim: HD, qStride: qW, kvStride: kvW)
        let own = [7, 1, 30, 12]                       // each example's rows after the prefix
        var rng = SeededRandomLite(seed: UInt64(P * 7 + block))
        let pq = rng.values(P * qW, scale: 2), pk = rng.values(P * kvW, scale: 2), pv = rng.values(P * kvW)
        let pd = own.map { _ in rng.values(P * qW) }  // each copy's prefix rows get their own upstream gradient
        let oq = own.map { rng.values($0 * qW, scale: 2) }, ok = own.map { rng.values($0 * kvW, scale: 2) }
        let ov = own.map { rng.values($0 * kvW) }, od = own.map { rng.values($0 * qW) }
        // Whole: [prefix, own 0], [prefix, own 1], …
        var segments: [Range<Int>] = [], q: [Float] = [], k: [Float] = [], v: [Float] = [], d: [Float] = []
        for e in own.indices {
            segments.append(q.count / qW..<(q.count / qW + P + own[e]))
            q += pq + oq[e]; k += pk + ok[e]; v += pv + ov[e]; d += pd[e] + od[e]
        }
        let whole = blocked(q, k, v, d, segments: segments, shape: shape, block: block)
        // Shared: [prefix][own 0][own 1]…, the prefix's upstream gradient the sum of the copies'.
        var sq = pq, sk = pk, sv = pv, sd = pd.reduce([Float](repeating: 0, count: P * qW)) { zip($0, $1).map { $0 + $1 } }
        var first = [Int32](repeating: 0, count: P)
        for e in own.indices {
            first += [Int32](repeating: Int32(sq.count / qW), count: own[e])
            sq += oq[e]; sk += ok[e]; sv += ov[e]; sd += od[e]
        }
        let T = sq.count / qW
        var out = [Float](repeating: 0, count: sq.count), dq = out, lse = [Float](repeating: 0, count: NH * T)
        var dk = [Float](repeating: 0, count: sk.count), dv = dk
        var fs = [Float](repeating: 0, count: blockedAttentionForwardScratch(shape, block: block))
        var bs = [Float](repeating: 0, count: blockedAttentionBackwardScratch(shape, T: T, block: block))
        blockedAttentionForward(&out, &lse, sq, sk, sv, Tq: T, start: 0, firstKey: first, prefix: P, shape: shape,
                                block: block, scratch: &fs)
        blockedAttentionBackward(&dq, &dk, &dv, sd, out, lse, sq, sk, sv, T: T, firstKey: first, prefix: P, shape: shape,
                                 block: block, scratch: &bs)
        // The whole layout's rows, mapped to the shared one: each copy's prefix rows summed, own rows as they are.
        func fold(_ x: [Float], _ w: Int, sum: Bool) -> [Float] {
            var y = Array(x[0..<(P * w)])      // the first copy's prefix rows
            if sum { for seg in segments.dropFirst() { for i in y.indices { y[i] += x[seg.lowerBound * w + i] } } }
            for seg in segments { y += x[((seg.lowerBound + P) * w)..<(seg.upperBound * w)] }
            return y
        }
        let what = "prefix \(P) block \(block)"
        expectClose("\(what) out", out, fold(whole.out, qW, sum: false))
        expectClose("\(what) dq", dq, fold(whole.dq, qW, sum: true))
        expectClose("\(what) dk", dk, fold(whole.dk, kvW, sum: true))
        expectClose("\(what) dv", dv, fold(whole.dv, kvW, sum: true))
        // Every copy of the prefix computed whole gives the same output: the shared rows stand for each.
        for seg in segments.dropFirst() {
            expectClose("\(what) prefix copy", Array(whole.out[(seg.lowerBound * qW)..<((seg.lowerBound + P) * qW)]),
                        Array(whole.out[0..<(P * qW)]))
        }
    }
}
