// A Hugging Face tokenizer (tokenizer.json, and tokenizer_config.json with the chat template) written from a GGUF
// byte-level BPE vocabulary, so a model exported from a GGUF base loads in transformers' AutoTokenizer. The inverse
// of Tokenizer+HuggingFace.swift (every llama.cpp split list Tailor has becomes Split/Digits steps it reads back);
// SentencePiece vocabularies are not written.
import Foundation

public enum TokenizerJSONWriter {
    /// The files, by name, for the tokenizer and chat template of `gguf`; `contextLength` becomes model_max_length.
    public static func files(gguf: GGUFFile, contextLength: Int) throws -> [String: Data] {
        let v = try Vocabulary(gguf: gguf)
        guard case let .bytePairs(pre, merges) = v.kind else {
            throw TokenizerError.cannotWrite(source: gguf.path, detail: "its vocabulary is SentencePiece, and Tailor writes tokenizer.json only for byte-level BPE vocabularies; load the tokenizer with transformers' gguf_file= or from the base model's own Hugging Face files")
        }
        var pretokenizers: [[String: Any]] = []
        for step in pre.steps {
            switch step {
            case .eachNumber: pretokenizers.append(["type": "Digits", "individual_digits": true])
            case .numberRuns: pretokenizers.append(["type": "Digits", "individual_digits": false])
            case .gpt2: pretokenizers.append(split(gpt2))
            case .llama3: pretokenizers.append(split(llama3))
            case .qwen2: pretokenizers.append(split(qwen2))
            case .qwen35: pretokenizers.append(split(qwen35))
            case .punctuationRuns(let backtick): pretokenizers.append(split(backtick ? #"[\p{P}\$\+<=>\^~\|`]+"# : #"[\p{P}\$\+<=>\^~\|]+"#))
            case .asciiDigitTriples: pretokenizers.append(split("[0-9][0-9][0-9]"))
            }
        }
        // Byte-level mapping last, without its own regex: the splits above are the whole of the word splitting.
        pretokenizers.append(["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false])

        var vocab: [String: Int] = [:]
        for (id, text) in v.tokens.enumerated() { vocab[text] = id }
        var added: [[String: Any]] = []
        for (id, a) in v.attributes.enumerated() where !a.isDisjoint(with: TokenAttributes.special) {
            let special = !a.isDisjoint(with: [.control, .unknown])
            added.append(["id": id, "content": v.tokens[id], "single_word": false, "lstrip": a.contains(.leftStrip),
                          "rstrip": a.contains(.rightStrip), "normalized": !special, "special": special])
        }
        let bos = v.roles[.bos].map { v.tokens[$0] }
        var post: Any = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true]
        if v.addBOS, let id = v.roles[.bos], let bos {
            post = ["type": "TemplateProcessing",
                    "single": [["SpecialToken": ["id": bos, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                    "pair": [["SpecialToken": ["id": bos, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                             ["SpecialToken": ["id": bos, "type_id": 1]], ["Sequence": ["id": "B", "type_id": 1]]],
                    "special_tokens": [bos: ["id": bos, "ids": [id], "tokens": [bos]]]]
        }
        let tokenizer: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": pretokenizers],
            "post_processor": post,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": pre.ignoreMerges, "vocab": vocab, "merges": merges.map { "\($0.0) \($0.1)" }],
        ]
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": contextLength,
            "clean_up_tokenization_spaces": false, "add_bos_token": v.addBOS, "add_eos_token": v.addEOS,
        ]
        for (key, role) in [("bos_token", SpecialRole.bos), ("eos_token", .eos), ("unk_token", .unknown), ("pad_token", .padding)] {
            if let id = v.roles[role] { config[key] = v.tokens[id] }
        }
        if let template = gguf.chatTemplate { config["chat_template"] = template }
        return [
            "tokenizer.json": try JSONSerialization.data(withJSONObject: tokenizer, options: [.sortedKeys]),
            "tokenizer_config.json": try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
        ]
    }

    private static func split(_ regex: String) -> [String: Any] {
        ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
    }

    // The split patterns as tokenizer.json files spell them (PreTokenizer reads each of these back).
    private static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    private static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
}
