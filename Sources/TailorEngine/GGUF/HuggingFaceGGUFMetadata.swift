// The GGUF metadata of a Hugging Face decoder directory — architecture, hyperparameters, tokenizer and chat template —
// as llama.cpp's convert_hf_to_gguf.py writes them, so a model trained from such a directory exports as a GGUF that
// llama.cpp (and Tailor) load without the Python converter. The inverse of GGUFModel.llamaConfig() and
// Tokenizer+GGUF.swift; the tensors are AdapterExport.mergedGGUF's. Byte-level BPE tokenizers only (the ones
// Tailor reads from tokenizer.json for decoders).
import Foundation

public enum HuggingFaceGGUFMetadata {
    /// The metadata, in writing order, for the model in `directory` whose configuration is `config`; `name` becomes
    /// general.name. Throws when llama.cpp's graph for the architecture cannot express the model as it is.
    public static func read(directory: String, config c: LlamaConfig, name: String) throws -> [(String, GGUFValue)] {
        let arch = ggufArchitecture(c.architecture), key = LlamaGGUFKeys(arch: arch)
        try checkExpressible(c, directory: directory)
        var kv: [(String, GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.name", .string(name)),
            (key.vocabSize, .uint(UInt64(c.vocabSize))),
            (key.contextLength, .uint(UInt64(c.contextLength))),
            (key.embeddingLength, .uint(UInt64(c.dim))),
            (key.blockCount, .uint(UInt64(c.layers))),
            (key.feedForwardLength, .uint(UInt64(c.hiddenDim))),
            (key.headCount, .uint(UInt64(c.heads))),
            (key.headCountKV, .uint(UInt64(c.kvHeads))),
            (key.keyLength, .uint(UInt64(c.headDim))),
            (key.valueLength, .uint(UInt64(c.headDim))),
            (key.ropeDimensionCount, .uint(UInt64(c.headDim))),
            (key.ropeFreqBase, .float(Double(c.ropeTheta))),
            (key.rmsEpsilon, .float(Double(c.rmsEps))),
        ]
        if c.architecture == "gemma3" {
            kv.append((key.slidingWindow, .uint(UInt64(c.slidingWindow))))
            // Gemma 3 stretches its global layers linearly (the larger sizes); llama.cpp reads it from these keys.
            if let f = c.ropeFreqFactors?.first {
                kv.append((key.ropeScalingType, .string("linear")))
                kv.append((key.ropeScalingFactor, .float(Double(f))))
            }
        }
        kv += try tokenizer(directory: directory)
        if let template = HuggingFaceModel.chatTemplate(directory: directory) {
            kv.append(("tokenizer.chat_template", .string(template)))
        }
        return kv
    }

    /// llama.cpp's architecture name: its converter writes Mistral checkpoints as "llama".
    static func ggufArchitecture(_ architecture: String) -> String {
        architecture == "mistral" ? "llama" : architecture
    }

    /// What llama.cpp's gemma3 graph hard-codes (GGUFModel.llamaConfig reads it back the same way): a model that
    /// differs would export as another model.
    private static func checkExpressible(_ c: LlamaConfig, directory: String) throws {
        guard c.architecture == "gemma3" else { return }
        func refuse(_ detail: String) -> ModelFileError {
            .badFormat(path: directory, detail: "\(detail), which llama.cpp's gemma3 graph cannot express; export --format safetensors instead")
        }
        let graphScale = 1 / Float(c.headDim).squareRoot(), scale = c.attentionScale ?? graphScale
        if abs(scale - graphScale) > 1e-6 * graphScale {
            let scalar = (1 / (scale * scale)).rounded()
            throw refuse("queries are scaled by query_pre_attn_scalar \(Int(scalar)), not head_dim \(c.headDim)")
        }
        if c.ropeLocalTheta != 10000 { throw refuse("rope_local_base_freq is \(c.ropeLocalTheta), not 10000") }
        if c.slidingLayers != LlamaConfig.slidingPattern(layers: c.layers, pattern: 6) {
            throw refuse("its sliding and global layers do not follow the every-sixth-layer-global pattern")
        }
    }

    /// tokenizer.ggml.*: the byte-level BPE vocabulary of tokenizer.json with llama.cpp's name for its word splitting.
    static func tokenizer(directory: String) throws -> [(String, GGUFValue)] {
        let source = (directory as NSString).appendingPathComponent("tokenizer.json")
        // An NFC normalizer (Qwen's tokenizer.json) has no GGUF key: the converter drops it too, and llama.cpp
        // tokenizes such files without it (the same ids for text already in NFC, as most text is).
        let (v, _) = try Vocabulary.huggingFace(directory: directory)
        guard case let .bytePairs(pre, merges) = v.kind else {
            throw TokenizerError.cannotWrite(source: source, detail: "its vocabulary is not byte-level BPE, and Tailor writes GGUF tokenizers only for byte-level BPE vocabularies; convert the exported safetensors directory with llama.cpp's convert_hf_to_gguf.py")
        }
        guard let preName = pre.llamaCppName else {
            throw TokenizerError.cannotWrite(source: source, detail: "llama.cpp has no pre-tokenizer name for its word splitting; convert the exported safetensors directory with llama.cpp's convert_hf_to_gguf.py")
        }
        var kv: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(preName)),
            ("tokenizer.ggml.tokens", .array(v.tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(v.attributes.map { .int(Int64($0.tokenType)) })),
            ("tokenizer.ggml.merges", .array(merges.map { .string("\($0.0) \($0.1)") })),
        ]
        var written: Set<SpecialRole> = []
        for (role, key) in SpecialRole.ggufKeys where !written.contains(role) {
            guard let id = v.roles[role] else { continue }
            kv.append((key, .uint(UInt64(id))))
            written.insert(role)
        }
        kv.append(("tokenizer.ggml.add_bos_token", .bool(v.addBOS)))
        kv.append(("tokenizer.ggml.add_eos_token", .bool(v.addEOS)))
        return kv
    }
}

extension TokenAttributes {
    /// llama_token_type, as a GGUF tokenizer.ggml.token_type value (the inverse of init(tokenType:)).
    var tokenType: Int {
        if contains(.control) { return 3 }
        if contains(.userDefined) { return 4 }
        if contains(.unknown) { return 2 }
        if contains(.unused) { return 5 }
        if contains(.byte) { return 6 }
        return 1
    }
}
