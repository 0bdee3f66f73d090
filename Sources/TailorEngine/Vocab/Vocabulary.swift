// What a tokenizer file says about its tokens (texts, scores, attributes, special ids), llama.cpp's load-time rules
// on top (llama_vocab::impl::load: name-based EOT/FIM detection, the end-of-generation set, per-model strip flags),
// and the byte-exact text-to-id index. Filled in by the GGUF and tokenizer.json readers; the encoders are elsewhere.

/// llama.cpp's llama_token_attr bits.
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt32
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    static let leftStrip = TokenAttributes(rawValue: 1 << 7)
    static let rightStrip = TokenAttributes(rawValue: 1 << 8)

    /// Tokens recognised inside text (llama.cpp's cache_special_tokens).
    static let special: TokenAttributes = [.control, .userDefined, .unknown]

    /// From a GGUF `tokenizer.ggml.token_type` value (llama_token_type).
    init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }

    init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// Roles a token id can have, with the GGUF keys that name them (llama-arch.cpp), in llama.cpp's reading order.
enum SpecialRole: CaseIterable, Sendable {
    case bos, eos, endOfTurn, endOfMessage, unknown, separator, padding, mask
    case fimPrefix, fimSuffix, fimMiddle, fimPadding, fimRepository, fimSeparator

    static let ggufKeys: [(SpecialRole, String)] = [
        (.bos, "tokenizer.ggml.bos_token_id"), (.eos, "tokenizer.ggml.eos_token_id"),
        (.endOfTurn, "tokenizer.ggml.eot_token_id"), (.endOfMessage, "tokenizer.ggml.eom_token_id"),
        (.unknown, "tokenizer.ggml.unknown_token_id"), (.separator, "tokenizer.ggml.seperator_token_id"),
        (.padding, "tokenizer.ggml.padding_token_id"), (.mask, "tokenizer.ggml.mask_token_id"),
        (.fimPrefix, "tokenizer.ggml.fim_pre_token_id"), (.fimSuffix, "tokenizer.ggml.fim_suf_token_id"),
        (.fimMiddle, "tokenizer.ggml.fim_mid_token_id"), (.fimPadding, "tokenizer.ggml.fim_pad_token_id"),
        (.fimRepository, "tokenizer.ggml.fim_rep_token_id"), (.fimSeparator, "tokenizer.ggml.fim_sep_token_id"),
        (.fimPrefix, "tokenizer.ggml.prefix_token_id"), (.fimSuffix, "tokenizer.ggml.suffix_token_id"),
        (.fimMiddle, "tokenizer.ggml.middle_token_id"),
    ]

    /// Token texts llama.cpp takes for a role the file leaves unset (and then marks as control tokens).
    static let namedCandidates: [(SpecialRole, [String])] = [
        (.endOfTurn, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                      "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]),
        (.endOfMessage, ["<|eom_id|>"]),
        (.fimPrefix, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]),
        (.fimSuffix, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]),
        (.fimMiddle, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]),
        (.fimPadding, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
        (.fimRepository, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        (.fimSeparator, ["<|file_sep|>"]),
    ]

    /// Token texts that end generation wherever they appear (llama.cpp's special_eog_ids scan).
    static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
}

enum VocabularyKind: Sendable {
    case bytePairs(PreTokenizer, merges: [(String, String)])
    case sentencePiece
    case unigram(UnigramSpec)
}

/// What a Unigram vocabulary needs beyond its tokens (Tokenizer+Unigram.swift reads it).
struct UnigramSpec: Sendable {
    var normalizer: UnigramNormalizer
    /// Piece scores at the precision the file keeps (tokenizer.json: f64, spiece.model: f32).
    var scores: [Double]
    var usable: [Bool]
    var byteFallback: Bool
    var fuseUnknown: Bool
}

struct Vocabulary: Sendable {
    var kind: VocabularyKind
    var tokens: [String]
    var scores: [Float]
    var attributes: [TokenAttributes]
    var roles: [SpecialRole: Int] = [:]
    var addBOS = false
    var addEOS = false
    var addSpacePrefix = false
    /// `general.name`, which llama.cpp consults for a few per-model token attributes.
    var modelName = ""

    /// Applies llama.cpp's name-based rules, in its order, and returns the end-of-generation set.
    mutating func applyLoadRules(index: TokenIndex) -> Set<Int> {
        func id(_ text: String) -> Int? { index[text].map(Int.init) }

        // llama.cpp takes the first candidate its hash map yields; the lowest id stands in for that here.
        for (role, names) in SpecialRole.namedCandidates where roles[role] == nil {
            if let found = names.compactMap(id).min() {
                roles[role] = found
                attributes[found].insert(.control)
            }
        }

        var endOfGeneration = Set([SpecialRole.fimPadding, .fimRepository, .fimSeparator].compactMap { roles[$0] })
        for name in SpecialRole.endOfGenerationNames {
            if let found = id(name) {
                endOfGeneration.insert(found)
                attributes[found].insert(.control)
            }
        }
        // gpt-oss's channel markers are always rendered.
        for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let found = id(name) { attributes[found] = .userDefined }
        }
        for role in [SpecialRole.eos, .endOfTurn, .endOfMessage] {
            if let found = roles[role] { endOfGeneration.insert(found) }
        }
        let names = Set(endOfGeneration.map { tokens[$0] })
        let hasCall = names.contains("<|call|>") || names.contains("<|calls|>")
        // o200k_harmony and solar-open end turns with <|return|>/<|call|> or <|calls|>/<|flush|>, not <|end|>.
        if let end = id("<|end|>"), names.contains("<|end|>"),
           (names.contains("<|return|>") && hasCall) || (hasCall && names.contains("<|flush|>")) {
            endOfGeneration.remove(end)
            attributes[end] = .userDefined
        }
        // gemma4 and plamo have an ordinary </s>.
        if let s = id("</s>"), names.contains("</s>"), names.contains("<|tool_response>") || names.contains("<|plamo:eos|>") {
            endOfGeneration.remove(s)
            attributes[s] = .normal
        }

        let model = modelName.lowercased()
        if model.contains("phi-3") || model.contains("phi3") {
            for i in attributes.indices where !attributes[i].isDisjoint(with: .special) { attributes[i].insert(.rightStrip) }
            if let s = id("</s>") { attributes[s].insert(.rightStrip) }
            for name in ["<unk>", "<s>", "<|endoftext|>"] {
                if let found = id(name) { attributes[found].remove(.rightStrip) }
            }
        }
        return endOfGeneration
    }
}

/// Token ids by their exact UTF-8 bytes. Not keyed by String on purpose: Swift compares strings by canonical
/// equivalence ("e\u{301}" == "é"), while vocabularies hold both spellings as different tokens (LLaMA has two "ά").
struct TokenIndex: Sendable {
    private var ids: [[UInt8]: Int32] = [:]

    init(_ tokens: [String]) {
        ids.reserveCapacity(tokens.count)
        // A repeated text keeps its last id, as llama.cpp's token_to_id map does.
        for (i, text) in tokens.enumerated() { ids[Array(text.utf8)] = Int32(i) }
    }

    subscript(_ text: String) -> Int32? { ids[Array(text.utf8)] }

    subscript<Bytes: Collection<UInt8>>(bytes bytes: Bytes) -> Int32? { ids[Array(bytes)] }
}
