// A read-only weight matrix `[rows = out, cols = in]` in its stored type (f32, f16, bf16 or ggml blocks), viewed
// in a memory-mapped file or in a buffer it owns. Decoding reads it quantised; prefill and training dequantise it.
import CKernels
import Synchronization

public final class WeightMatrix: @unchecked Sendable {
    // Sendable: the bytes are never written after init (mapped read-only, or filled once before publishing).
    public let rows: Int
    public let cols: Int
    public let type: GGMLType
    public let rowBytes: Int
    public let data: UnsafeRawPointer
    /// Whether the type has a packed layout for tk_matmul_q8_packed (Q4_0, Q4_1 and Q8_0).
    public let packs: Bool
    /// The packed copy (16 rows interleaved; as many bytes again as the matrix), built on first use — by the first
    /// 8-bit product or by `prepareForInference` — so that matrices only training reads (it dequantises) or that
    /// are discarded after loading (GGUF's permuted q/k views) never pay for one. The 8-bit products read it,
    /// everything else (dequantisation, the reference kernels) the original `data`.
    private let packedCopy = Mutex<UnsafeMutableRawPointer?>(nil)
    private let owner: AnyObject?
    private let ownedBytes: UnsafeMutableRawPointer?

    /// A view into memory kept alive by `owner` (the mapped file).
    init(rows: Int, cols: Int, type: GGMLType, data: UnsafeRawPointer, owner: AnyObject) {
        self.rows = rows; self.cols = cols; self.type = type
        rowBytes = type.byteCount(elements: cols)
        self.data = data; self.owner = owner; ownedBytes = nil
        packs = tk_q8_packed_bytes(Int32(type.rawValue), Int64(rows), Int64(cols)) > 0
    }

    /// A copy whose rows are taken from `source` in the order `rowOrder` (used to undo GGUF's q/k permutation).
    init(permuting source: WeightMatrix, rowOrder: [Int]) {
        rows = source.rows; cols = source.cols; type = source.type; rowBytes = source.rowBytes
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
        for (dst, src) in rowOrder.enumerated() {
            buffer.advanced(by: dst * rowBytes).copyMemory(from: source.data + src * rowBytes, byteCount: rowBytes)
        }
        data = UnsafeRawPointer(buffer); ownedBytes = buffer; owner = nil
        packs = tk_q8_packed_bytes(Int32(type.rawValue), Int64(rows), Int64(cols)) > 0
    }

    /// An f32 matrix owning a copy of `values` (row-major).
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols)
        self.rows = rows; self.cols = cols; type = .f32; rowBytes = cols * 4
        let byteCount = rows * cols * 4
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        values.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: byteCount) }
        data = UnsafeRawPointer(buffer); ownedBytes = buffer; owner = nil; packs = false
    }

    /// A matrix owning a copy of `bytes` in `type`'s layout (rows × rowBytes).
    public init(rows: Int, cols: Int, type: GGMLType, bytes: [UInt8]) {
        precondition(bytes.count == rows * type.byteCount(elements: cols), "\(bytes.count) bytes do not hold \(rows)×\(cols) \(type.name)")
        self.rows = rows; self.cols = cols; self.type = type; rowBytes = type.byteCount(elements: cols)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        data = UnsafeRawPointer(buffer); ownedBytes = buffer; owner = nil
        packs = tk_q8_packed_bytes(Int32(type.rawValue), Int64(rows), Int64(cols)) > 0
    }

    /// `values` quantised to Q8_0, Q4_0 or Q4_1 (tests; a quantising exporter).
    public convenience init(rows: Int, cols: Int, quantizing values: [Float], to type: GGMLType) {
        var bytes = [UInt8](repeating: 0, count: rows * type.byteCount(elements: cols))
        tk_quantize_ref(Int32(type.rawValue), values, &bytes, Int64(values.count))
        self.init(rows: rows, cols: cols, type: type, bytes: bytes)
    }

    deinit { ownedBytes?.deallocate(); packedCopy.withLock { $0?.deallocate() } }

    /// The packed copy, built now if this is the first call; nil when the type has none.
    var packed: UnsafeRawPointer? {
        guard packs else { return nil }
        return packedCopy.withLock { copy in
            if copy == nil {
                let t = Int32(type.rawValue)
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: tk_q8_packed_bytes(t, Int64(rows), Int64(cols)), alignment: 64)
                tk_q8_pack(t, data, rowBytes, Int64(rows), Int64(cols), buffer)
                copy = buffer
            }
            return UnsafeRawPointer(copy!)
        }
    }

    /// Whether the packed copy exists yet (tests).
    var isPacked: Bool { packedCopy.withLock { $0 != nil } }

    /// Builds the packed copy now, so that the first request does not (see `packed`).
    public func prepareForInference() { _ = packed }

    /// y[b·ldy + r] = W row r · xq row b with the 8-bit kernel: the packed copy's when there is one, so that every
    /// call on this matrix, whatever its batch, sums each output in the same order.
    func matmulQ8(_ xq: UnsafePointer<tk_block_q8>, batch: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let t = Int32(type.rawValue)
        if let packed = self.packed {
            tk_matmul_q8_packed(t, packed, data, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), y, Int64(ldy))
        } else {
            tk_matmul_q8(t, data, rowBytes, Int64(rows), Int64(cols), xq, Int64(batch), y, Int64(ldy))
        }
    }

    public var elementCount: Int { rows * cols }

    /// Rows `range` as f32 into `out` (range.count × cols).
    public func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        tk_dequantize(Int32(type.rawValue), data + range.lowerBound * rowBytes, out, Int64(range.count * cols))
    }

    /// One row as f32.
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) { dequantize(rows: r..<r + 1, into: out) }

    /// The whole matrix as f32.
    public func toFloats() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buf, n in
            dequantize(rows: 0..<rows, into: buf.baseAddress!); n = elementCount
        }
    }

    /// Whether decode can multiply it without dequantising (see tk_matmul_q8).
    public var supportsQuantizedMatmul: Bool { tk_matmul_q8_supports(Int32(type.rawValue)) != 0 }
}

/// Weights of one transformer block. Shapes with LlamaConfig's short names.
public struct LlamaLayerWeights: Sendable {
    public var attnNorm: [Float]          // (C)
    public var wq: WeightMatrix           // (NH*HD, C)
    public var wk: WeightMatrix           // (NKV*HD, C)
    public var wv: WeightMatrix           // (NKV*HD, C)
    public var wo: WeightMatrix           // (C, NH*HD)
    public var bq: [Float]?, bk: [Float]?, bv: [Float]?
    public var ffnNorm: [Float]           // (C)
    public var wGate: WeightMatrix        // (FF, C)
    public var wUp: WeightMatrix          // (FF, C)
    public var wDown: WeightMatrix        // (C, FF)
    /// Per-head q and k norms (HD) when config.qkNorm; output norms of attention and feed-forward (C) when
    /// config.postNorms. Norm weights are the multipliers (Gemma's 1 + w already added).
    public var qNorm: [Float]?, kNorm: [Float]?
    public var postAttnNorm: [Float]?, postFfnNorm: [Float]?

    public init(attnNorm: [Float], wq: WeightMatrix, wk: WeightMatrix, wv: WeightMatrix, wo: WeightMatrix,
                bq: [Float]?, bk: [Float]?, bv: [Float]?, ffnNorm: [Float], wGate: WeightMatrix, wUp: WeightMatrix,
                wDown: WeightMatrix, qNorm: [Float]? = nil, kNorm: [Float]? = nil, postAttnNorm: [Float]? = nil,
                postFfnNorm: [Float]? = nil) {
        self.attnNorm = attnNorm; self.wq = wq; self.wk = wk; self.wv = wv; self.wo = wo
        self.bq = bq; self.bk = bk; self.bv = bv; self.ffnNorm = ffnNorm; self.wGate = wGate; self.wUp = wUp
        self.wDown = wDown; self.qNorm = qNorm; self.kNorm = kNorm; self.postAttnNorm = postAttnNorm
        self.postFfnNorm = postFfnNorm
    }
}

public struct LlamaWeights: Sendable {
    public var tokenEmbedding: WeightMatrix   // (V, C)
    public var layers: [LlamaLayerWeights]
    public var outputNorm: [Float]            // (C)
    public var output: WeightMatrix           // (V, C); the same object as tokenEmbedding when tied

    public init(tokenEmbedding: WeightMatrix, layers: [LlamaLayerWeights], outputNorm: [Float], output: WeightMatrix) {
        self.tokenEmbedding = tokenEmbedding; self.layers = layers; self.outputNorm = outputNorm; self.output = output
    }
}
