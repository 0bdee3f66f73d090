// Which word splitting a byte-level vocabulary uses: llama.cpp's `tokenizer.ggml.pre` names and Hugging Face
// `pre_tokenizer` configurations, both mapped onto SplitStep lists. The splitting itself is in WordSplitter.swift.

struct PreTokenizer: Sendable, Equatable {
    let name: String
    let steps: [SplitStep]
    /// A word that is itself a token is taken whole instead of being merged from its bytes (Llama 3's ignore_merges).
    var ignoreMerges = false
    /// llama.cpp adds BOS for these unless the file says otherwise.
    var addsBOSByDefault = false

    /// llama.cpp's list when `tokenizer.ggml.pre` is missing or "default".
    static let llamaCppDefault: [SplitStep] = [.punctuationRuns(backtick: false), .gpt2, .numberRuns, .asciiDigitTriples]

    /// llama.cpp's pre-tokenizer names (llama-vocab.cpp, `tokenizer_pre == ...`), for those whose regex lists
    /// Tailor implements. Names that share a list are grouped.
    private static let byName: [String: PreTokenizer] = {
        var table: [String: PreTokenizer] = [:]
        func add(_ names: [String], _ steps: [SplitStep], ignoreMerges: Bool = false, addsBOS: Bool = false) {
            for name in names {
                table[name] = PreTokenizer(name: name, steps: steps, ignoreMerges: ignoreMerges, addsBOSByDefault: addsBOS)
            }
        }
        add(["default"], llamaCppDefault)
        add(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
            [.llama3], ignoreMerges: true, addsBOS: true)
        add(["dbrx", "smaug-bpe"], [.llama3])
        add(["falcon"], [.punctuationRuns(backtick: true), .gpt2, .asciiDigitTriples])
        add(["gpt-2", "phi-2", "gigachat", "a.x-4.0", "mellum", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4"],
            [.gpt2])
        add(["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"], [.eachNumber, .gpt2])
        add(["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"], [.qwen2])
        add(["qwen35"], [.qwen35])
        return table
    }()

    static var supportedNames: [String] { byName.keys.sorted() }

    /// The `tokenizer.ggml.pre` name that makes llama.cpp split words as this does (the name its converter writes
    /// for the common models first), or nil when no name has these steps.
    var llamaCppName: String? {
        let preferred = ["qwen2", "llama-bpe", "smaug-bpe", "smollm", "gpt-2", "qwen35", "falcon", "default"]
        return (preferred + Self.supportedNames).first { name in
            Self.byName[name].map { $0.steps == steps && $0.ignoreMerges == ignoreMerges } ?? false
        }
    }

    /// The pre-tokenizer llama.cpp picks for `tokenizer.ggml.pre` (nil when the key is absent), or nil if Tailor lacks it.
    static func llamaCpp(_ name: String?) -> PreTokenizer? {
        guard let name, !name.isEmpty else { return byName["default"] }
        return byName[name]
    }

    /// Split patterns as tokenizer.json files spell them, with the llama.cpp spellings of the same patterns.
    private static let splitPatterns: [String: SplitStep] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen35,
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#: .gpt2,
        // llama.cpp's default and Falcon lists, as TokenizerJSONWriter spells them.
        #"[\p{P}\$\+<=>\^~\|]+"#: .punctuationRuns(backtick: false),
        #"[\p{P}\$\+<=>\^~\|`]+"#: .punctuationRuns(backtick: true),
        #"\p{N}+"#: .numberRuns,
        #"[0-9][0-9][0-9]"#: .asciiDigitTriples,
    ]

    /// The steps for a tokenizer.json `pre_tokenizer` (Sequence of Split / Digits / ByteLevel). Anything else, or
    /// a configuration without the byte-level mapping, is refused with a description of what was found.
    static func huggingFace(_ config: Any?, source: String) throws -> PreTokenizer {
        var sawByteLevel = false
        func steps(_ node: Any?) throws -> [SplitStep] {
            guard let node = node as? [String: Any], let type = node["type"] as? String else {
                throw TokenizerError.unsupportedPreTokenizer(source: source, name: "none (no byte-level pre-tokenizer)")
            }
            switch type {
            case "Sequence":
                return try (node["pretokenizers"] as? [Any] ?? []).flatMap(steps)
            case "ByteLevel":
                sawByteLevel = true
                guard node["add_prefix_space"] as? Bool != true else {
                    throw TokenizerError.unsupportedPreTokenizer(source: source, name: "ByteLevel with add_prefix_space")
                }
                return node["use_regex"] as? Bool ?? true ? [.gpt2] : []
            case "Digits":
                return [node["individual_digits"] as? Bool ?? false ? .eachNumber : .numberRuns]
            case "Split":
                let pattern = node["pattern"] as? [String: Any]
                let regex = pattern?["Regex"] as? String ?? pattern?["String"] as? String ?? ""
                guard node["behavior"] as? String == "Isolated", node["invert"] as? Bool != true,
                      let step = splitPatterns[regex] else {
                    throw TokenizerError.unsupportedPreTokenizer(source: source, name: "Split \"\(regex)\"")
                }
                return [step]
            default:
                throw TokenizerError.unsupportedPreTokenizer(source: source, name: type)
            }
        }
        let found = try steps(config)
        guard sawByteLevel else {
            throw TokenizerError.unsupportedPreTokenizer(source: source, name: "a pre-tokenizer without ByteLevel")
        }
        return PreTokenizer(name: "tokenizer.json", steps: found)
    }
}
