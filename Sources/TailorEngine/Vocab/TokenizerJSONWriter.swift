// A Hugging Face tokenizer written from a GGUF vocabulary, so a model exported from a GGUF base loads in
// transformers' AutoTokenizer: for byte-level BPE, tokenizer.json (the inverse of Tokenizer+HuggingFace.swift: every
// llama.cpp split list Tailor has becomes Split/Digits steps it reads back); for SentencePiece (Gemma, LLaMA 2),
// the tokenizer.model those models ship (SentencePieceModelFile); tokenizer_config.json with the chat template.
import Foundation

public enum TokenizerJSONWriter {
    /// The files, by name, for the tokenizer and chat template of `gguf`; `contextLength` becomes model_max_length.
    public static func files(gguf: GGUFFile, contextLength: Int) throws -> [String: Data] {
        let v = try Vocabulary(gguf: gguf)
        guard case let .bytePairs(pre, merges) = v.kind else {
            guard case .sentencePiece = v.kind else {
                throw TokenizerError.cannotWrite(source: gguf.path, detail: "its vocabulary is neither byte-level BPE nor SentencePiece; load the tokenizer from the base model's own Hugging Face files")
            }
            return try sentencePieceFiles(v, gguf: gguf, contextLength: contextLength)
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

    /// tokenizer.model and a tokenizer_config.json naming the slow tokenizer class that reads it (Gemma's, or
    /// LLaMA's without its legacy handling of the text after special tokens); the control and user-defined pieces
    /// are declared as added tokens, so text that spells them becomes them, as in llama.cpp.
    private static func sentencePieceFiles(_ v: Vocabulary, gguf: GGUFFile, contextLength: Int) throws -> [String: Data] {
        let gemma = gguf.architecture.hasPrefix("gemma")
        var config: [String: Any] = [
            "tokenizer_class": gemma ? "GemmaTokenizer" : "LlamaTokenizer", "model_max_length": contextLength,
            "clean_up_tokenization_spaces": false, "add_bos_token": v.addBOS, "add_eos_token": v.addEOS,
            "sp_model_kwargs": [String: Any](), "spaces_between_special_tokens": false,
        ]
        if !gemma { config["legacy"] = false; config["add_prefix_space"] = v.addSpacePrefix }
        for (key, role) in [("bos_token", SpecialRole.bos), ("eos_token", .eos), ("unk_token", .unknown), ("pad_token", .padding)] {
            if let id = v.roles[role] { config[key] = v.tokens[id] }
        }
        var added: [String: Any] = [:]
        for (id, a) in v.attributes.enumerated() where a.contains(.control) || a.contains(.userDefined) || a.contains(.unknown) {
            added[String(id)] = ["content": v.tokens[id], "lstrip": a.contains(.leftStrip), "rstrip": a.contains(.rightStrip),
                                 "normalized": false, "single_word": false, "special": !a.contains(.userDefined)]
        }
        config["added_tokens_decoder"] = added
        if let template = gguf.chatTemplate { config["chat_template"] = template }
        return [
            "tokenizer.model": Data(SentencePieceModelFile(vocabulary: v).serialized()),
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
