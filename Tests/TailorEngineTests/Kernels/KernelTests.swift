// The AVX2 kernels against their scalar references, on random blocks of every supported type.
import CKernels
import Foundation
import Testing
import TailorEngine

@Suite(.serialized) struct KernelTests {
    /// Random bytes for `blocks` blocks of `type`, with finite, moderate f16 scales where the format has them.
    /// n Gaussian activations times `scale`, quantised to 8-bit blocks as decode does.
    static func quantizedActivations(_ n: Int, seed: UInt64, scale: Float) -> [tk_block_q8] {
        var rng = SeededRandom(seed: seed)
        let x = (0..<n).map { _ in rng.nextGaussian() * scale }
        var xq = [tk_block_q8](repeating: tk_block_q8(), count: n / 32)
        tk_quantize_row_q8(x, &xq, Int64(n))
        return xq
    }

    static func randomBlocks(_ type: GGMLType, blocks: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        var bytes = (0..<(blocks * type.blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func setHalf(_ at: Int, _ v: Float) {
            let h = tk_f32_to_f16(v)
            bytes[at] = UInt8(h & 0xff); bytes[at + 1] = UInt8(h >> 8)
        }
        for b in 0..<blocks {
            let o = b * type.blockBytes
            let scale = Float(rng.next() % 1000 + 1) / 20000
            switch type {
            case .q4_0, .q5_0, .q8_0: setHalf(o, scale)
            case .q4_1, .q5_1: setHalf(o, scale); setHalf(o + 2, -scale * 4)
            case .q4_K, .q5_K: setHalf(o, scale); setHalf(o + 2, scale / 2)
            case .q6_K: setHalf(o + 208, scale)
            case .f16: setHalf(o, Float(Int(rng.next() % 2000)) / 500 - 2)
            case .bf16: let v = (Float(Int(rng.next() % 2000)) / 500 - 2).bitPattern >> 16
                bytes[o] = UInt8(v & 0xff); bytes[o + 1] = UInt8(v >> 8)
            case .f32: let v = (Float(Int(rng.next() % 2000)) / 500 - 2).bitPattern
                for k in 0..<4 { bytes[o + k] = UInt8((v >> (8 * UInt32(k))) & 0xff) }
            }
        }
        return bytes
    }

    @Test(arguments: GGMLType.allCases)
    func dequantizeMatchesReference(type: GGMLType) {
        let n = 512
        let bytes = Self.randomBlocks(type, blocks: n / type.blockSize, seed: UInt64(type.rawValue) + 1)
        var fast = [Float](repeating: 0, count: n), ref = fast
        tk_dequantize(Int32(type.rawValue), bytes, &fast, Int64(n))
        tk_dequantize_ref(Int32(type.rawValue), bytes, &ref, Int64(n))
        #expect(fast == ref)
        #expect(ref.allSatisfy { $0.isFinite })
    }

    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K], [1, 2, 3, 5, 9])
    func quantizedMatmulMatchesReference(type: GGMLType, batch: Int) {
        let rows = 37, cols = type.blockSize == 256 ? 512 : 96
        let w = Self.randomBlocks(type, blocks: rows * cols / 32, seed: 7)
        var rng = SeededRandom(seed: 8)
        let x = (0..<(batch * cols)).map { _ in rng.nextGaussian() }
        var xq = [tk_block_q8](repeating: tk_block_q8(), count: batch * cols / 32)
        for b in 0..<batch {
            x.withUnsafeBufferPointer { xp in
                xq.withUnsafeMutableBufferPointer { q in
                    tk_quantize_row_q8(xp.baseAddress! + b * cols, q.baseAddress! + b * cols / 32, Int64(cols))
                }
            }
        }
        var fast = [Float](repeating: 0, count: batch * rows), ref = fast
        let rowBytes = type.byteCount(elements: cols)
        KernelThreads.set(2)
        tk_matmul_q8(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &fast, Int64(rows))
        tk_matmul_q8_ref(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &ref, Int64(rows))
        for i in 0..<fast.count {
            #expect(abs(fast[i] - ref[i]) <= 1e-4 * max(1, abs(ref[i])), "row \(i % rows) batch \(i / rows): \(fast[i]) vs \(ref[i])")
        }
        // And against f32 arithmetic on the dequantised weights: 8-bit activations cost well under 1 %.
        var wf = [Float](repeating: 0, count: rows * cols)
        tk_dequantize_ref(Int32(type.rawValue), w, &wf, Int64(rows * cols))
        for b in 0..<batch {
            for r in 0..<rows {
                var exact: Float = 0
                for i in 0..<cols { exact += wf[r * cols + i] * x[b * cols + i] }
                let norm = (0..<cols).reduce(Float(0)) { $0 + abs(wf[r * cols + $1] * x[b * cols + $1]) }
                #expect(abs(ref[b * rows + r] - exact) <= 0.02 * norm + 1e-5)
            }
        }
    }

    /// A row's result must not depend on which other rows share its batch (decode batches are formed by timing):
    /// every batch size gives each activation row the same bits as a batch of one.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K])
    func quantizedMatmulIsBatchInvariant(type: GGMLType) {
        let rows = 19, cols = 512, batch = 6
        let w = Self.randomBlocks(type, blocks: rows * cols / type.blockSize, seed: 21)
        let xq = Self.quantizedActivations(batch * cols, seed: 22, scale: 1)
        let rowBytes = type.byteCount(elements: cols)
        KernelThreads.set(2)
        var all = [Float](repeating: 0, count: batch * rows)
        tk_matmul_q8(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &all, Int64(rows))
        for b in 0..<batch {
            var one = [Float](repeating: 0, count: rows)
            xq.withUnsafeBufferPointer { q in
                tk_matmul_q8(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), q.baseAddress! + b * cols / 32, 1, &one, Int64(rows))
            }
            #expect(one == Array(all[(b * rows)..<((b + 1) * rows)]), "activation row \(b)")
        }
    }

    /// The packed kernel (16 rows interleaved) on the same checks: against the reference within the same tolerance,
    /// each activation row's bits the same in every batch size it can share (tiles of 8 rows and their remainders,
    /// 37 rows: a partial last group, alone in its task; with two threads, 149 and 165 rows: the AVX2 path's pairs of
    /// groups beside single ones, the last pair's second group partial), and the same bits with VNNI switched off.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0], [37, 149, 165])
    func packedMatmulIsBatchInvariant(type: GGMLType, rows: Int) {
        let cols = 512, batch = 17
        let w = Self.randomBlocks(type, blocks: rows * cols / type.blockSize, seed: 23)
        let xq = Self.quantizedActivations(batch * cols, seed: 24, scale: 2)
        let t = Int32(type.rawValue), rowBytes = type.byteCount(elements: cols)
        let count = tk_q8_packed_bytes(t, Int64(rows), Int64(cols))
        #expect(count == (rows + 15) / 16 * 16 * rowBytes)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        defer { packed.deallocate() }
        KernelThreads.set(2)
        tk_q8_pack(t, w, rowBytes, Int64(rows), Int64(cols), packed)
        func product(_ first: Int, _ n: Int) -> [Float] {
            var y = [Float](repeating: .nan, count: n * rows)
            xq.withUnsafeBufferPointer { q in
                tk_matmul_q8_packed(t, packed, w, rowBytes, Int64(rows), Int64(cols), q.baseAddress! + first * cols / 32, Int64(n), &y, Int64(rows))
            }
            return y
        }
        let all = product(0, batch)
        var ref = [Float](repeating: 0, count: batch * rows)
        tk_matmul_q8_ref(t, w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &ref, Int64(rows))
        for i in 0..<all.count {
            #expect(abs(all[i] - ref[i]) <= 1e-4 * max(1, abs(ref[i])), "row \(i % rows) batch \(i / rows): \(all[i]) vs \(ref[i])")
        }
        let ones = (0..<batch).flatMap { product($0, 1) }
        #expect(ones == all)
        for n in [3, 4, 5, 8, 13, 16, 17] {
            for first in stride(from: 0, through: batch - n, by: n) {
                #expect(product(first, n) == Array(ones[(first * rows)..<((first + n) * rows)]), "batch \(n) from row \(first)")
            }
        }
        tk_set_vnni(0)
        let avx2 = product(0, batch)
        tk_set_vnni(1)
        #expect(avx2 == all)
    }

    /// The VNNI copy of the product gives the AVX2 copy's bits (no maddubs pair sum can saturate). On a machine
    /// without AVX-512 VNNI both calls run the AVX2 copy and this checks nothing more; `tk_uses_vnni` says which.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K])
    func vnniProductMatchesAVX2(type: GGMLType) {
        let rows = 23, cols = 512, batch = 7
        let w = Self.randomBlocks(type, blocks: rows * cols / type.blockSize, seed: 31)
        let xq = Self.quantizedActivations(batch * cols, seed: 32, scale: 4)
        let rowBytes = type.byteCount(elements: cols)
        var vnni = [Float](repeating: 0, count: batch * rows), avx2 = vnni
        tk_matmul_q8(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &vnni, Int64(rows))
        // The switch is process-wide; other tests running meanwhile get the same bits either way.
        tk_set_vnni(0)
        tk_matmul_q8(Int32(type.rawValue), w, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), &avx2, Int64(rows))
        tk_set_vnni(1)
        #expect(vnni == avx2)
    }

    /// The vector GeGLU against the scalar formula in Double, over the range activations take and beyond (tanh
    /// saturates; near 0 the quotient cancels), in place as the forward calls it.
    @Test func gegluMatchesTheFormula() {
        var rng = SeededRandom(seed: 41)
        var g = (0..<1001).map { _ in rng.nextGaussian() * 3 }
        g += [0, -0, 1e-6, -1e-6, 12, -12, 40, -40]
        let u = g.indices.map { _ in rng.nextGaussian() }
        var h = g
        tk_geglu(&h, h, u, Int64(g.count))
        for i in g.indices {
            let x = Double(g[i])
            let want = 0.5 * x * (1 + Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * Double(u[i])
            #expect(abs(Double(h[i]) - want) <= 1e-6 * max(1, abs(want)), "g \(g[i]): \(h[i]) vs \(want)")
        }
    }

    /// The vector GeGLU backward against its derivative in Double, over the same range.
    @Test func gegluBackwardMatchesTheFormula() {
        var rng = SeededRandom(seed: 43)
        var g = (0..<1001).map { _ in rng.nextGaussian() * 3 }
        g += [0, -0, 1e-6, -1e-6, 12, -12, 40, -40]
        let u = g.indices.map { _ in rng.nextGaussian() }, dh = g.indices.map { _ in rng.nextGaussian() }
        var dg = [Float](repeating: .nan, count: g.count), du = dg
        tk_geglu_backward(&dg, &du, dh, g, u, Int64(g.count))
        for i in g.indices {
            let x = Double(g[i]), t = Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
            let wantU = Double(dh[i]) * 0.5 * x * (1 + t)
            let prime = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x)
            let wantG = Double(dh[i]) * Double(u[i]) * prime
            #expect(abs(Double(du[i]) - wantU) <= 1e-6 * max(1, abs(wantU)), "g \(g[i]): du \(du[i]) vs \(wantU)")
            #expect(abs(Double(dg[i]) - wantG) <= 2e-6 * max(1, abs(wantG)), "g \(g[i]): dg \(dg[i]) vs \(wantG)")
        }
    }

    /// The vector SwiGLU and its backward against the formula in Double, over the range activations take and
    /// beyond (σ saturates both ways; exp(−g) would overflow for g < −88), the forward in place as it is called.
    @Test func swigluMatchesTheFormula() {
        var rng = SeededRandom(seed: 47)
        var g = (0..<1001).map { _ in rng.nextGaussian() * 4 }
        g += [0, -0, 1e-6, -1e-6, 12, -12, 40, -40, 100, -100]
        let u = g.indices.map { _ in rng.nextGaussian() }, dh = g.indices.map { _ in rng.nextGaussian() }
        var h = g
        tk_swiglu(&h, h, u, Int64(g.count))
        var dg = [Float](repeating: .nan, count: g.count), du = dg
        tk_swiglu_backward(&dg, &du, dh, g, u, Int64(g.count))
        for i in g.indices {
            let x = Double(g[i]), s = 1 / (1 + Foundation.exp(-x))
            let want = x * s * Double(u[i])
            let wantU = Double(dh[i]) * x * s, wantG = Double(dh[i]) * Double(u[i]) * s * (1 + x * (1 - s))
            #expect(abs(Double(h[i]) - want) <= 1e-6 * max(1, abs(want)), "g \(g[i]): \(h[i]) vs \(want)")
            #expect(abs(Double(du[i]) - wantU) <= 1e-6 * max(1, abs(wantU)), "g \(g[i]): du \(du[i]) vs \(wantU)")
            #expect(abs(Double(dg[i]) - wantG) <= 1e-6 * max(1, abs(wantG)), "g \(g[i]): dg \(dg[i]) vs \(wantG)")
        }
    }

    /// The vector quantiser must produce the reference's bytes exactly, ties (x·127/amax = k + 0.5) included.
    @Test func activationQuantisationMatchesReference() {
        var rng = SeededRandom(seed: 12)
        var x = (0..<(32 * 64)).map { _ in rng.nextGaussian() * 3 }
        for b in 0..<8 { for j in 0..<32 { x[b * 32 + j] = Float(j - 16) * 0.5 * (b % 2 == 0 ? 1 : -1) } }   // exact halves
        x[9 * 32 + 3] = 0; for j in 0..<32 { x[10 * 32 + j] = 0 }                                             // zeros
        var fast = [tk_block_q8](repeating: tk_block_q8(), count: x.count / 32), ref = fast
        tk_quantize_row_q8(x, &fast, Int64(x.count))
        tk_quantize_row_q8_ref(x, &ref, Int64(x.count))
        for i in 0..<fast.count {
            #expect(fast[i].d == ref[i].d && fast[i].s == ref[i].s, "block \(i)")
            #expect(withUnsafeBytes(of: fast[i].qs) { Array($0) } == withUnsafeBytes(of: ref[i].qs) { Array($0) }, "block \(i)")
        }
    }

    /// Decode attention (one query over the cache) against the plain loops, for head sizes 64, 128 and 256 (Gemma 3),
    /// one with a partial output chunk (72), one the vector path does not take (40), and a strided cache as the KV
    /// cache lays it out.
    @Test(arguments: [64, 128, 256, 72, 40]) func attendOneMatchesReference(headDim: Int) {
        var rng = SeededRandom(seed: UInt64(headDim))
        let tk = 37, stride = headDim * 3
        let q = (0..<headDim).map { _ in rng.nextGaussian() }
        let k = (0..<(tk * stride)).map { _ in rng.nextGaussian() }, v = (0..<(tk * stride)).map { _ in rng.nextGaussian() }
        var out = [Float](repeating: 0, count: headDim), probs = [Float](repeating: 0, count: tk)
        tk_attend_one(&out, &probs, q, k, v, Int64(tk), Int64(headDim), Int64(stride), 0.125)
        // The plain loops, in Double (not tk_set_force_reference: that switch is process-wide and tests run in parallel).
        let scores = (0..<tk).map { t in (0..<headDim).reduce(0.0) { $0 + Double(q[$1]) * Double(k[t * stride + $1]) } * 0.125 }
        let m = scores.max()!, z = scores.reduce(0.0) { $0 + exp($1 - m) }
        let probsRef = scores.map { Float(exp($0 - m) / z) }
        let outRef: [Float] = (0..<headDim).map { i in
            var s = 0.0
            for t in 0..<tk { s += Double(probsRef[t]) * Double(v[t * stride + i]) }
            return Float(s)
        }
        for i in 0..<headDim {
            let tolerance: Float = 1e-5 * max(1, abs(outRef[i]))
            #expect(abs(out[i] - outRef[i]) <= tolerance, "\(i): \(out[i]) vs \(outRef[i])")
        }
        for t in 0..<tk { #expect(abs(probs[t] - probsRef[t]) <= 1e-5) }
    }

    /// The decode LoRA delta against the plain loops in Double, for ranks that do and do not fill a vector and
    /// output sizes with and without a remainder.
    /// The f16 cache's decode attention is tk_attend_one on the widened keys and values, bit for bit; and a row
    /// written to f16 and read back is the scalar conversion's bits both ways.
    @Test(arguments: [64, 256, 72]) func attendOneOverHalvesIsTheSameArithmetic(headDim: Int) {
        var rng = SeededRandom(seed: UInt64(headDim + 5))
        let tk = 41, stride = headDim * 2
        let q = (0..<headDim).map { _ in rng.nextGaussian() }
        let k = (0..<(tk * stride)).map { _ in rng.nextGaussian() }, v = (0..<(tk * stride)).map { _ in rng.nextGaussian() * 3 }
        var kh = [UInt16](repeating: 0, count: k.count), vh = kh
        tk_f32_to_f16_row(k, &kh, Int64(k.count)); tk_f32_to_f16_row(v, &vh, Int64(v.count))
        #expect(kh == k.map { tk_f32_to_f16($0) } && vh == v.map { tk_f32_to_f16($0) })
        var kw = [Float](repeating: 0, count: k.count), vw = kw
        tk_f16_to_f32_row(kh, &kw, Int64(k.count)); tk_f16_to_f32_row(vh, &vw, Int64(v.count))
        #expect(kw == kh.map { tk_f16_to_f32($0) } && vw == vh.map { tk_f16_to_f32($0) })
        var out = [Float](repeating: 0, count: headDim), probs = [Float](repeating: 0, count: tk)
        var outHalf = out, probsHalf = probs
        tk_attend_one(&out, &probs, q, kw, vw, Int64(tk), Int64(headDim), Int64(stride), 0.125)
        tk_attend_one_f16(&outHalf, &probsHalf, q, kh, vh, Int64(tk), Int64(headDim), Int64(stride), 0.125)
        #expect(out == outHalf && probs == probsHalf)
    }

    /// The decode attention of the query heads that share one key-value head (each key and value row widened once
    /// for all of them) gives every head the bits tk_attend_one_f16 gives it alone: 1 to 6 heads (more than 4 run as
    /// two groups), head sizes with and without a half-vector tail, and a probabilities stride wider than the keys
    /// (a sliding window's first visible key).
    @Test(arguments: [1, 2, 3, 4, 6], [(64, 37), (72, 41), (64, 300)]) func groupedDecodeAttentionIsEachHeadAlone(heads: Int, shape: (Int, Int)) {
        let (headDim, tk) = shape
        var rng = SeededRandom(seed: UInt64(heads * 1000 + headDim + tk))
        let stride = headDim * 3, probsStride = tk + 5
        let q = (0..<(heads * headDim)).map { _ in rng.nextGaussian() }
        let k = (0..<(tk * stride)).map { _ in rng.nextGaussian() }, v = (0..<(tk * stride)).map { _ in rng.nextGaussian() * 3 }
        var kh = [UInt16](repeating: 0, count: k.count), vh = kh
        tk_f32_to_f16_row(k, &kh, Int64(k.count)); tk_f32_to_f16_row(v, &vh, Int64(v.count))
        var out = [Float](repeating: .nan, count: heads * headDim), probs = [Float](repeating: .nan, count: heads * probsStride)
        tk_attend_heads_f16(&out, &probs, Int64(probsStride), q, kh, vh, Int64(tk), Int64(headDim), Int64(stride), 0.125, Int32(heads))
        for h in 0..<heads {
            var one = [Float](repeating: 0, count: headDim), p = [Float](repeating: 0, count: tk)
            q.withUnsafeBufferPointer { qp in
                tk_attend_one_f16(&one, &p, qp.baseAddress! + h * headDim, kh, vh, Int64(tk), Int64(headDim), Int64(stride), 0.125)
            }
            #expect(Array(out[(h * headDim)..<((h + 1) * headDim)]) == one, "head \(h) output")
            #expect(Array(probs[(h * probsStride)..<(h * probsStride + tk)]) == p, "head \(h) probabilities")
        }
    }

    @Test(arguments: [(8, 576, 1536), (8, 576, 192), (4, 64, 40), (16, 100, 17), (6, 576, 100)]) func loraRowMatchesReference(rank: Int, inF: Int, outF: Int) {
        var rng = SeededRandom(seed: UInt64(rank * 1000 + outF))
        let x = (0..<inF).map { _ in rng.nextGaussian() }, a = (0..<(rank * inF)).map { _ in rng.nextGaussian() * 0.1 }
        let b = (0..<(outF * rank)).map { _ in rng.nextGaussian() * 0.1 }, y0 = (0..<outF).map { _ in rng.nextGaussian() }
        let pair = LoRAPair(a: a, b: b, rank: rank)
        var y = y0, t = [Float](repeating: 0, count: rank)
        tk_lora_row(&y, x, a, pair.bT, Int64(rank), Int64(inF), Int64(outF), 2, &t)
        for o in 0..<outF {
            var want = Double(y0[o])
            for k in 0..<rank {
                var tk = 0.0
                for i in 0..<inF { tk += Double(a[k * inF + i]) * Double(x[i]) }
                want += 2 * tk * Double(b[o * rank + k])
            }
            #expect(abs(Double(y[o]) - want) <= 1e-4 * max(1, abs(want)), "output \(o): \(y[o]) vs \(want)")
        }
        // And bit for bit in its documented order — each t[k] as tk_dot sums it, each output y then k = 0, 1, … by
        // fused multiply-adds — whatever the vector blocking (batch invariance rests on this order).
        var exact = y0
        let tExact = (0..<rank).map { k in a.withUnsafeBufferPointer { tk_dot($0.baseAddress! + k * inF, x, Int64(inF)) } * 2 }
        for o in 0..<outF { for k in 0..<rank { exact[o] = exact[o].addingProduct(tExact[k], pair.bT[k * outF + o]) } }
        let mismatches = (0..<outF).filter { y[$0] != exact[$0] }.count
        #expect(mismatches == 0, "\(mismatches) of \(outF) outputs differ from the documented order")
    }

    @Test func softmaxAndDotMatchReference() {
        var rng = SeededRandom(seed: 9)
        for n in [1, 7, 8, 33, 300] {
            let x = (0..<n).map { _ in rng.nextGaussian() * 5 }
            var fast = x, ref = x
            tk_softmax(&fast, Int64(n)); tk_softmax_ref(&ref, Int64(n))
            for i in 0..<n { #expect(abs(fast[i] - ref[i]) <= 1e-6 + 1e-5 * ref[i]) }
            let y = (0..<n).map { _ in rng.nextGaussian() }
            #expect(abs(tk_dot(x, y, Int64(n)) - tk_dot_ref(x, y, Int64(n))) <= 1e-4 * Float(n))
        }
    }

    /// A loss head's row: the vector path's loss, argmax (the first of tied maxima, wherever it falls in a vector) and
    /// weighted gradient against the scalar reference, on widths off the vector length, and the gradient against the
    /// definition weight·(softmax − onehot).
    @Test func crossEntropyRowMatchesReference() {
        var rng = SeededRandom(seed: 10)
        for (n, target, tie) in [(1, 0, -1), (7, 3, -1), (8, 7, 2), (37, 0, 30), (49_157, 41_000, 20_011)] {
            var x = (0..<n).map { _ in rng.nextGaussian() * 4 }
            if tie >= 0 { x[tie] = 30; x[n - 1] = 30 }           // two equal maxima: the first one is the argmax
            for weight: Float in [0, 1, -0.37] {
                var fast = x, ref = x, bestFast: Int32 = -9, bestRef: Int32 = -9
                let lossFast = tk_cross_entropy_row(&fast, Int64(n), Int32(target), weight, &bestFast)
                let lossRef = tk_cross_entropy_row_ref(&ref, Int64(n), Int32(target), weight, &bestRef)
                let m = Double(x.max()!), z = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
                let exact = Foundation.log(z) + m - Double(x[target])
                #expect(abs(lossFast - exact) <= 1e-5 * max(1, exact), "n \(n): \(lossFast) vs \(exact)")
                #expect(abs(lossRef - exact) <= 1e-5 * max(1, exact))
                #expect(bestFast == bestRef)
                #expect(Int(bestRef) == (tie >= 0 ? tie : x.indices.max { x[$0] < x[$1] }!))
                guard weight != 0 else { continue }
                let off = (0..<n).filter { i in
                    let want = Double(weight) * (Foundation.exp(Double(x[i]) - m) / z - (i == target ? 1 : 0))
                    return abs(Double(fast[i]) - want) > 1e-6 || abs(Double(ref[i]) - want) > 1e-6
                }
                #expect(off.isEmpty, "n \(n), weight \(weight): \(off.count) gradients off, first at \(off.first ?? -1)")
            }
        }
    }

    /// A loss row fed to the sliced head's online softmax a slice at a time (widths off the vector length, the maximum
    /// tied across slices): the vector path and the reference end with the loss, first argmax and target probability
    /// of the whole row, and every slice's entries are exp(x − m) with the target's zeroed.
    @Test func headSliceRowMatchesWholeRow() {
        var rng = SeededRandom(seed: 12)
        for (n, slice, target, tie) in [(37, 5, 36, 3), (49_157, 4_096, 8_191, 12_000), (49_157, 1_000, 17, -1)] {
            var x = (0..<n).map { _ in rng.nextGaussian() * 4 }
            if tie >= 0 { x[tie] = 40; x[n - 1] = 40 }
            let m = Double(x.max()!), z = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
            let exact = Foundation.log(z) + m - Double(x[target])
            for fast in [true, false] {
                var mx = -Float.infinity, sum = 0.0, best: Int32 = -1, xt: Float = 0, te = 0.0, offSlice = 0
                var v0 = 0
                while v0 < n {
                    let w = min(slice, n - v0)
                    var part = Array(x[v0..<(v0 + w)])
                    _ = fast ? tk_head_slice_row(&part, Int64(w), Int64(v0), Int32(target), &mx, &sum, &best, &xt, &te)
                             : tk_head_slice_row_ref(&part, Int64(w), Int64(v0), Int32(target), &mx, &sum, &best, &xt, &te)
                    offSlice += (0..<w).filter { i in
                        let want = v0 + i == target ? 0 : Foundation.exp(Double(x[v0 + i]) - Double(mx))
                        return abs(Double(part[i]) - want) > 1e-6 * max(1, want)
                    }.count
                    v0 += w
                }
                let loss = Foundation.log(sum) + Double(mx) - Double(xt)
                #expect(abs(loss - exact) <= 1e-5 * max(1, exact), "n \(n), fast \(fast): \(loss) vs \(exact)")
                #expect(Int(best) == (tie >= 0 ? tie : x.indices.max { x[$0] < x[$1] }!))
                #expect(abs(te / sum - Foundation.exp(Double(x[target]) - m) / z) < 1e-6)
                #expect(offSlice == 0, "n \(n), fast \(fast): \(offSlice) probabilities off")
            }
        }
    }

    /// The blocked attention's row kernels: two key blocks of an online softmax (rows seeing none, part or all of a
    /// block; widths off the vector length), the backward's probabilities from the resulting log-sum-exp, and dS.
    @Test func attentionBlockRowsMatchReference() {
        var rng = SeededRandom(seed: 11)
        let n = 13, ld = 40, hd = 24
        for nk in [5, 17, 40] {
            var lo = [Int32](repeating: 0, count: n), hi = lo
            for r in 0..<n { let a = Int32(r % 4 == 3 ? nk : r % 3), b = Int32(max(Int(a), nk - r)); lo[r] = a; hi[r] = r == 5 ? a : b }
            var mF = [Float](repeating: -.infinity, count: n), lF = [Float](repeating: 0, count: n), mR = mF, lR = lF
            var oF = (0..<(n * hd)).map { _ in rng.nextGaussian() }, oR = oF
            for _ in 0..<2 {
                let s = (0..<(n * ld)).map { _ in rng.nextGaussian() * 4 }
                var sF = s, sR = s
                tk_attention_block_forward(&sF, Int64(ld), Int64(n), Int64(nk), lo, hi, &mF, &lF, &oF, Int64(hd), Int64(hd))
                tk_attention_block_forward_ref(&sR, Int64(ld), Int64(n), Int64(nk), lo, hi, &mR, &lR, &oR, Int64(hd), Int64(hd))
                for r in 0..<n {
                    #expect(mF[r] == mR[r] && abs(lF[r] - lR[r]) <= 1e-5 * max(1, lR[r]), "row \(r)")
                    for c in 0..<nk {
                        let visible = c >= lo[r] && c < hi[r]
                        #expect(abs(sF[r * ld + c] - sR[r * ld + c]) <= 1e-6, "(\(r), \(c))")
                        if !visible { #expect(sF[r * ld + c] == 0) }
                    }
                    for d in 0..<hd { #expect(abs(oF[r * hd + d] - oR[r * hd + d]) <= 1e-6 * max(1, abs(oR[r * hd + d]))) }
                }
            }
            let lse = (0..<n).map { mR[$0] + logf(max(lR[$0], 1e-30)) }
            let s = (0..<(n * ld)).map { _ in rng.nextGaussian() * 4 }
            var pF = s, pR = s
            tk_attention_block_probs(&pF, Int64(ld), Int64(n), Int64(nk), lo, hi, lse)
            tk_attention_block_probs_ref(&pR, Int64(ld), Int64(n), Int64(nk), lo, hi, lse)
            for r in 0..<n {
                for c in 0..<nk {
                    #expect(abs(pF[r * ld + c] - pR[r * ld + c]) <= 1e-6 * max(1, pR[r * ld + c]), "(\(r), \(c))")
                    if c < lo[r] || c >= hi[r] { #expect(pF[r * ld + c] == 0) }
                }
            }
            let d = (0..<n).map { _ in rng.nextGaussian() }
            var dp = (0..<(n * ld)).map { _ in rng.nextGaussian() }
            let want = (0..<(n * ld)).map { i in pR[i] * (dp[i] - d[i / ld]) }
            tk_attention_block_dscores(&dp, pR, Int64(ld), Int64(n), Int64(nk), d)
            for r in 0..<n { for c in 0..<nk { #expect(dp[r * ld + c] == want[r * ld + c]) } }
        }
    }

    @Test func halfPrecisionRoundTrips() {
        for v: Float in [0, 1, -2.5, 65504, 6.1e-5, 3e-7, -1e-8] {
            let back = tk_f16_to_f32(tk_f32_to_f16(v))
            #expect(back == Float(Float16(v)), "\(v)")
        }
    }
}
