// Reads a tokenizer from GGUF metadata (tokenizer.ggml.*) with llama.cpp's defaults for what a file leaves out
// (llama_vocab::impl::load). Reads no tensors.

extension Tokenizer {
    public convenience init(gguf: GGUFFile) throws {
        self.init(vocabulary: try Vocabulary(gguf: gguf))
    }
}

extension Vocabulary {
    init(gguf: GGUFFile) throws {
        let meta = gguf.metadata, source = gguf.path
        func strings(_ key: String) throws -> [String] {
            guard let values = meta[key]?.arrayValue else { throw TokenizerError.missing(source: source, what: key) }
            let texts = values.compactMap(\.stringValue)
            guard texts.count == values.count else { throw TokenizerError.badFormat(source: source, detail: "\(key) is not a list of strings") }
            return texts
        }
        guard let model = meta["tokenizer.ggml.model"]?.stringValue else {
            throw TokenizerError.missing(source: source, what: "tokenizer.ggml.model")
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        let n = tokens.count

        var defaults: [SpecialRole: Int] = [:]
        switch model {
        case "gpt2":
            let preName = meta["tokenizer.ggml.pre"]?.stringValue
            guard let pre = PreTokenizer.llamaCpp(preName) else {
                throw TokenizerError.unsupportedPreTokenizer(source: source, name: "'\(preName ?? "")'")
            }
            kind = .bytePairs(pre, merges: try strings("tokenizer.ggml.merges").compactMap(Vocabulary.splitMerge))
            defaults = [.bos: 11, .eos: 11]
            addBOS = pre.addsBOSByDefault
        case "llama":
            kind = .sentencePiece
            defaults = [.bos: 1, .eos: 2, .unknown: 0]
            addBOS = true
            addSpacePrefix = true
        default:
            throw TokenizerError.unsupportedModel(source: source, model: model)
        }
        self.tokens = tokens

        let scores = meta["tokenizer.ggml.scores"]?.floatArray ?? []
        self.scores = scores.count >= n ? Array(scores.prefix(n)) : [Float](repeating: 0, count: n)
        if let types = meta["tokenizer.ggml.token_type"]?.intArray {
            guard types.count >= n else {
                throw TokenizerError.badFormat(source: source, detail: "\(types.count) token types for \(n) tokens")
            }
            attributes = types.prefix(n).map(TokenAttributes.init(tokenType:))
        } else {
            attributes = [TokenAttributes](repeating: .normal, count: n)
        }

        // A default outside the vocabulary is dropped; a key outside it is ignored in favour of the default.
        roles = defaults.filter { $0.value < n }
        for (role, key) in SpecialRole.ggufKeys {
            if let id = meta[key]?.intValue, id >= 0, id < n { roles[role] = id }
        }
        if let add = meta["tokenizer.ggml.add_bos_token"]?.boolValue { addBOS = add }
        if let add = meta["tokenizer.ggml.add_eos_token"]?.boolValue { addEOS = add }
        if let add = meta["tokenizer.ggml.add_space_prefix"]?.boolValue { addSpacePrefix = add }
        modelName = meta["general.name"]?.stringValue ?? ""
    }

    /// "Ġt he" → ("Ġt", "he"): split at the first space after the first byte, as llama.cpp does.
    static func splitMerge(_ merge: String) -> (String, String)? {
        let utf8 = merge.utf8
        guard let space = utf8.dropFirst().firstIndex(of: 0x20) else { return nil }
        return (String(merge[..<space]), String(merge[merge.utf8.index(after: space)...]))
    }
}
