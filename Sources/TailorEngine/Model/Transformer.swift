// A decoder (Llama family, Qwen 3, Gemma 3) ready for inference: configuration, weights (kept in their stored type) and the linear layer
// that picks the right kernel for the batch size. Immutable and shared by every request; per-thread state lives in
// InferenceContext.
import CKernels

public final class Transformer: @unchecked Sendable {
    // Sendable: configuration and weights are read-only after init.
    public let config: LlamaConfig
    public let weights: LlamaWeights
    let rope: RopeTable
    /// The sliding-window layers' rotation (Gemma 3's local base), nil when every layer is global.
    let ropeLocal: RopeTable?

    /// Prefill chunks up to this many rows are multiplied in the weights' blocks with 8-bit activations (memory-bound,
    /// llama.cpp's arithmetic); longer ones are dequantised in tiles and multiplied in f32 with sgemm (compute-bound,
    /// transformers' arithmetic). Decode steps always use the blocks, whatever the batch (see InferenceContext).
    /// Measured on SmolLM2-135M Q4_1, 2 threads: 44 rows take 195 ms in blocks and 252 ms dequantised (the tiles cost
    /// ~100 ms whatever the rows), 64 rows 279 ms against 199 ms — so the switch lies between them.
    public static let defaultQuantizedRowsLimit = 48

    public init(config: LlamaConfig, weights: LlamaWeights) {
        self.config = config
        self.weights = weights
        rope = RopeTable(headDim: config.headDim, theta: config.ropeTheta, freqFactors: config.ropeFreqFactors)
        ropeLocal = config.slidingLayers == nil ? nil : RopeTable(headDim: config.headDim, theta: config.ropeLocalTheta, freqFactors: nil)
    }

    /// Builds every weight's packed copy for the 8-bit products (WeightMatrix.packed) before the model serves, so
    /// that no request pays for it. A process that only trains never calls it and never holds the copies.
    public func prepareForInference() {
        for l in weights.layers {
            for w in [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown] { w.prepareForInference() }
        }
        weights.output.prepareForInference()
    }

    public var parameterCount: Int {
        let c = config
        let perLayer = 2 * c.dim + c.qDim * c.dim * 2 + c.kvDim * c.dim * 2 + 3 * c.hiddenDim * c.dim
        return c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.layers * perLayer + c.dim
    }
}

/// Reusable buffers for the linear layer's two kernels.
final class LinearScratch {
    var q8: UnsafeMutablePointer<tk_block_q8>
    var q8Capacity: Int
    var tile: UnsafeMutablePointer<Float>
    var quantizedRowsLimit = Transformer.defaultQuantizedRowsLimit
    /// Which input q8 holds the quantisation of (valid only for a `sameInput` call right after).
    private var q8Source: UnsafePointer<Float>?
    private var q8Rows = 0, q8Cols = 0
    static let tileFloats = 1 << 20   // 4 MB of dequantised rows per sgemm

    init(maxRows: Int, maxCols: Int) {
        q8Capacity = maxRows * maxCols / 32
        q8 = .allocate(capacity: q8Capacity)
        tile = .allocate(capacity: Self.tileFloats)
    }
    deinit { q8.deallocate(); tile.deallocate() }

    /// Which kernel a call takes. `decode`: rows that are decode steps (or one-row runs), each computed exactly as it
    /// would be alone (block kernel, or one sgemm per row), so a sequence's tokens never depend on which other
    /// requests share its batch. `quantized` / `dequantized`: the kernel a run of `rows` prompt rows takes alone
    /// (`kernel(forRunOf:)`), forced for a call over several such runs. `byRows`: quantizedRowsLimit picks.
    enum Kernel { case byRows, decode, quantized, dequantized }

    /// The kernel a prompt chunk of `rows` rows takes when it is the only one in its forward.
    func kernel(forRunOf rows: Int) -> Kernel {
        rows == 1 ? .decode : rows <= quantizedRowsLimit ? .quantized : .dequantized
    }

    /// Whether a call of `kernel` over W computes each row apart from the call's other rows, so that several runs
    /// may share one call and each still get the bits it gets alone: true of decode rows (one product each) and of
    /// the 8-bit products; not of sgemm (f32 weights, dequantised tiles), whose result for a row may depend on where
    /// it falls among the call's rows — OpenBLAS's Haswell/Zen kernels take a row through a different micro-kernel,
    /// summing in another order, by the row count's remainder (its SkylakeX kernels happen not to).
    func computesRowsApart(_ w: WeightMatrix, kernel: Kernel) -> Bool {
        switch kernel {
        case .decode: return true
        case .byRows: return false
        case .quantized, .dequantized:
            guard w.type != .f32, w.supportsQuantizedMatmul else { return false }
            return kernel == .quantized || (w.packs && quantizedRowsLimit > 0)
        }
    }

    /// y[R, out] = x[R, in] · Wᵀ with W in any stored type, by `kernel` (see Kernel).
    /// `sameInput`: x is the input of the previous call too (q, k and v of one layer; gate and up), so its 8-bit
    /// quantisation, when that call made one, is reused rather than redone.
    func linear(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows R: Int, _ w: WeightMatrix, kernel: Kernel = .byRows,
                sameInput: Bool = false) {
        let decode = kernel == .decode
        // A packed copy's 8-bit product outruns dequantising + sgemm at every size (BENCHMARKS.md, "packed"), so such
        // a matrix takes it for long runs too; quantizedRowsLimit 0 still means f32 everywhere (reference checks).
        // This depends on the matrix only, so each run still takes the same kernel alone or beside others.
        let quantized = kernel == .quantized || (kernel == .byRows && R <= quantizedRowsLimit)
            || (w.packs && quantizedRowsLimit > 0)
        let inF = w.cols, outF = w.rows
        let reuse = sameInput && q8Source == x && q8Rows == R && q8Cols == inF
        q8Source = nil   // set again below only where q8 ends up holding x
        if w.type == .f32 {
            let wp = w.data.assumingMemoryBound(to: Float.self)
            if decode {
                for r in 0..<R { Blas.linear(y + r * outF, x + r * inF, wp, rows: 1, inFeatures: inF, outFeatures: outF) }
            } else {
                Blas.linear(y, x, wp, rows: R, inFeatures: inF, outFeatures: outF)
            }
            return
        }
        if ((decode && quantizedRowsLimit > 0) || quantized) && w.supportsQuantizedMatmul && R * inF / 32 <= q8Capacity {
            if !reuse {
                // Rows in parallel for prompts (each row's blocks alike either way); a decode step's few rows alone.
                let q8 = self.q8
                if R * inF >= 1 << 14 {
                    parallelRanges(R, pieces: 2 * KernelThreads.count) { rs in
                        for r in rs { tk_quantize_row_q8(x + r * inF, q8 + r * inF / 32, Int64(inF)) }
                    }
                } else {
                    for r in 0..<R { tk_quantize_row_q8(x + r * inF, q8 + r * inF / 32, Int64(inF)) }
                }
            }
            q8Source = x; q8Rows = R; q8Cols = inF
            w.matmulQ8(q8, batch: R, into: y, ldy: outF)
            return
        }
        let tileRows = max(1, Self.tileFloats / inF)
        var r0 = 0
        while r0 < outF {
            let n = min(tileRows, outF - r0)
            let tile = self.tile
            // Dequantise the tile on the kernel pool, then sgemm (OpenBLAS threads) over it.
            parallelRanges(n, pieces: KernelThreads.count * 2) { range in
                w.dequantize(rows: (r0 + range.lowerBound)..<(r0 + range.upperBound), into: tile + range.lowerBound * inF)
            }
            for (first, count) in decode ? (0..<R).map({ ($0, 1) }) : [(0, R)] {
                Blas.sgemm(transA: false, transB: true, m: count, n: n, k: inF, a: x + first * inF, lda: inF, b: tile, ldb: inF,
                           beta: 0, c: y + first * outF + r0, ldc: outF)
            }
            r0 += n
        }
    }
}
