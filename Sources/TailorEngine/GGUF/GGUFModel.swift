// Reads a decoder's configuration and weights from a GGUF file (llama.cpp's key and tensor names).
import Foundation

extension GGUFFile: TensorSource {
    func name(for role: TensorRole, layer: Int?) -> String { layer.map { role.gguf(layer: $0) } ?? role.gguf }
    func has(_ name: String) -> Bool { tensors[name] != nil }

    func matrix(_ name: String) throws -> WeightMatrix {
        let t = try tensor(name)
        guard t.dims.count == 2 else {
            throw ModelFileError.shapeMismatch(path: path, tensor: name, expected: [-1, -1], found: t.dims.reversed())
        }
        return WeightMatrix(rows: t.dims[1], cols: t.dims[0], type: t.type, data: bytes(of: t), owner: file)
    }

    func vector(_ name: String) throws -> [Float] {
        let t = try tensor(name)
        let m = WeightMatrix(rows: 1, cols: t.elementCount, type: t.type, data: bytes(of: t), owner: file)
        return m.toFloats()
    }

    var permutesQK: Bool { LlamaConfig.ggufPermutesQK.contains(architecture) }
    /// llama.cpp's converter already added Gemma's 1 to every norm weight.
    var normShift: Float { 0 }

    public var architecture: String { metadata["general.architecture"]?.stringValue ?? "unknown" }

    /// The model configuration from `{arch}.*` metadata.
    public func llamaConfig() throws -> LlamaConfig {
        let arch = architecture, key = LlamaGGUFKeys(arch: arch)
        guard LlamaConfig.supportedArchitectures.contains(arch) else {
            throw ModelFileError.unsupportedArchitecture(path: path, architecture: arch)
        }
        let dim = try requiredInt(key.embeddingLength)
        let heads = try requiredInt(key.headCount)
        guard heads > 0 else {
            throw ModelFileError.badFormat(path: path, detail: "\(key.headCount) is \(heads); it must be positive")
        }
        let kvHeads = metadata[key.headCountKV]?.intValue ?? heads
        let headDim = metadata[key.keyLength]?.intValue ?? dim / heads
        let vocab = metadata[key.vocabSize]?.intValue
            ?? metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? tensors["token_embd.weight"]?.dims.last ?? 0
        var freqFactors: [Float]? = nil
        if tensors[TensorRole.ropeFreqs.gguf] != nil { freqFactors = try vector(TensorRole.ropeFreqs.gguf) }
        var c = LlamaConfig(
            architecture: arch, vocabSize: vocab, dim: dim,
            hiddenDim: try requiredInt(key.feedForwardLength),
            layers: try requiredInt(key.blockCount), heads: heads, kvHeads: kvHeads, headDim: headDim,
            contextLength: metadata[key.contextLength]?.intValue ?? 2048,
            ropeTheta: Float(metadata[key.ropeFreqBase]?.doubleValue ?? 10000),
            rmsEps: Float(metadata[key.rmsEpsilon]?.doubleValue ?? 1e-5),
            tiedEmbeddings: tensors["output.weight"] == nil,
            qkvBias: tensors["blk.0.attn_q.bias"] != nil,
            ropeFreqFactors: freqFactors)
        c.qkNorm = LlamaConfig.qkNormArchitectures.contains(arch)
        if arch == "gemma3" {
            // What llama.cpp's gemma3 graph hard-codes: local rope base 10000, every sixth layer global, GeGLU,
            // embeddings scaled by sqrt(C), queries by 1/sqrt(HD) (all sizes but 27B, whose scalar is C/NH).
            c.postNorms = true
            c.activation = .geluTanh
            c.embeddingScale = Float(dim).squareRoot()
            c.attentionScale = 1 / Float(headDim).squareRoot()
            c.ropeLocalTheta = 10000
            c.slidingWindow = metadata[key.slidingWindow]?.intValue ?? 4096
            guard c.slidingWindow > 0 else {
                throw ModelFileError.badFormat(path: path, detail: "\(key.slidingWindow) is \(c.slidingWindow); it must be positive")
            }
            c.slidingLayers = LlamaConfig.slidingPattern(layers: c.layers, pattern: 6)
            if metadata[key.ropeScalingType]?.stringValue == "linear",
               let f = metadata[key.ropeScalingFactor]?.doubleValue {
                c.ropeFreqFactors = [Float](repeating: Float(f), count: headDim / 2)
            }
        }
        return c
    }

    public func llamaWeights(config: LlamaConfig) throws -> LlamaWeights {
        try WeightsBuilder.build(self, config: config)
    }

    public var chatTemplate: String? { metadata["tokenizer.chat_template"]?.stringValue }
}
