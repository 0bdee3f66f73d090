// Builds LlamaWeights from any tensor source (GGUF or safetensors), checking every shape against the config so a
// mismatch names the tensor. Sources differ only in naming, storage type and GGUF's q/k row permutation.
import Foundation

/// A file format's view of its tensors: shape in PyTorch order (`[out, in]`), type and bytes.
protocol TensorSource {
    var path: String { get }
    func name(for role: TensorRole, layer: Int?) -> String
    func has(_ name: String) -> Bool
    func matrix(_ name: String) throws -> WeightMatrix
    func vector(_ name: String) throws -> [Float]
    /// Whether q/k rows are stored in llama.cpp's interleaved-rotary order and must be put back in HF order.
    var permutesQK: Bool { get }
    /// Added to every norm weight read (1 for Gemma's (1 + w) norms as transformers stores them).
    var normShift: Float { get }
}

enum WeightsBuilder {
    static func build(_ source: TensorSource, config: LlamaConfig) throws -> LlamaWeights {
        let C = config.dim, FF = config.hiddenDim, V = config.vocabSize
        func matrix(_ role: TensorRole, _ layer: Int?, rows: Int, cols: Int) throws -> WeightMatrix {
            let name = source.name(for: role, layer: layer)
            let m = try source.matrix(name)
            guard m.rows == rows, m.cols == cols else {
                throw ModelFileError.shapeMismatch(path: source.path, tensor: name, expected: [rows, cols], found: [m.rows, m.cols])
            }
            return m
        }
        func vector(_ role: TensorRole, _ layer: Int?, count: Int) throws -> [Float] {
            let name = source.name(for: role, layer: layer)
            let v = try source.vector(name)
            guard v.count == count else {
                throw ModelFileError.shapeMismatch(path: source.path, tensor: name, expected: [count], found: [v.count])
            }
            return v
        }
        func optionalVector(_ role: TensorRole, _ layer: Int, count: Int) throws -> [Float]? {
            source.has(source.name(for: role, layer: layer)) ? try vector(role, layer, count: count) : nil
        }
        func norm(_ role: TensorRole, _ layer: Int?, count: Int) throws -> [Float] {
            let shift = source.normShift
            return try vector(role, layer, count: count).map { $0 + shift }
        }

        var layers: [LlamaLayerWeights] = []
        for l in 0..<config.layers {
            var wq = try matrix(.wq, l, rows: config.qDim, cols: C)
            var wk = try matrix(.wk, l, rows: config.kvDim, cols: C)
            var bq = try optionalVector(.bq, l, count: config.qDim)
            var bk = try optionalVector(.bk, l, count: config.kvDim)
            if source.permutesQK {
                let qOrder = rotaryRowOrder(heads: config.heads, headDim: config.headDim)
                let kOrder = rotaryRowOrder(heads: config.kvHeads, headDim: config.headDim)
                wq = WeightMatrix(permuting: wq, rowOrder: qOrder)
                wk = WeightMatrix(permuting: wk, rowOrder: kOrder)
                bq = bq.map { b in qOrder.map { b[$0] } }
                bk = bk.map { b in kOrder.map { b[$0] } }
            }
            layers.append(LlamaLayerWeights(
                attnNorm: try norm(.attnNorm, l, count: C),
                wq: wq, wk: wk,
                wv: try matrix(.wv, l, rows: config.kvDim, cols: C),
                wo: try matrix(.wo, l, rows: C, cols: config.qDim),
                bq: bq, bk: bk, bv: try optionalVector(.bv, l, count: config.kvDim),
                ffnNorm: try norm(.ffnNorm, l, count: C),
                wGate: try matrix(.wGate, l, rows: FF, cols: C),
                wUp: try matrix(.wUp, l, rows: FF, cols: C),
                wDown: try matrix(.wDown, l, rows: C, cols: FF),
                qNorm: config.qkNorm ? try norm(.qNorm, l, count: config.headDim) : nil,
                kNorm: config.qkNorm ? try norm(.kNorm, l, count: config.headDim) : nil,
                postAttnNorm: config.postNorms ? try norm(.postAttnNorm, l, count: C) : nil,
                postFfnNorm: config.postNorms ? try norm(.postFfnNorm, l, count: C) : nil))
        }
        let embedding = try matrix(.tokenEmbedding, nil, rows: V, cols: C)
        let output = config.tiedEmbeddings ? embedding : try matrix(.output, nil, rows: V, cols: C)
        return LlamaWeights(tokenEmbedding: embedding, layers: layers,
                            outputNorm: try norm(.outputNorm, nil, count: C), output: output)
    }

    /// For each Hugging Face row (head h, half s, index j) the GGUF row it is stored at: llama.cpp's converter
    /// interleaves the two rotary halves of every head (`permute` in convert_hf_to_gguf.py).
    static func rotaryRowOrder(heads: Int, headDim: Int) -> [Int] {
        var order = [Int](repeating: 0, count: heads * headDim)
        let half = headDim / 2
        for h in 0..<heads {
            for s in 0..<2 {
                for j in 0..<half { order[h * headDim + s * half + j] = h * headDim + 2 * j + s }
            }
        }
        return order
    }

    /// The inverse of rotaryRowOrder: HF rows to GGUF order (used when exporting adapters for llama.cpp).
    static func rotaryRowOrderInverse(heads: Int, headDim: Int) -> [Int] {
        let forward = rotaryRowOrder(heads: heads, headDim: headDim)
        var inverse = [Int](repeating: 0, count: forward.count)
        for (hf, gguf) in forward.enumerated() { inverse[gguf] = hf }
        return inverse
    }
}
