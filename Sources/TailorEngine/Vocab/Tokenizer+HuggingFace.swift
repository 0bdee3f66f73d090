// Reads a byte-level BPE tokenizer from a Hugging Face directory (tokenizer.json, tokenizer_config.json) into the
// same form llama.cpp's converter would write to GGUF, so both paths tokenize alike. Unigram models (T5) are read
// by Tokenizer+Unigram.swift; SentencePiece BPE tokenizer.json files (Metaspace, byte fallback) are refused: convert
// such models to GGUF.
import Foundation

extension Tokenizer {
    public convenience init(huggingFaceDirectory directory: String) throws {
        let (vocabulary, nfc) = try Vocabulary.huggingFace(directory: directory)
        self.init(vocabulary: vocabulary, normalizesNFC: nfc)
    }
}

extension Vocabulary {
    static func huggingFace(directory: String) throws -> (Vocabulary, normalizesNFC: Bool) {
        let source = (directory as NSString).appendingPathComponent("tokenizer.json")
        let json = try readJSON(source, required: true)
        let config = try readJSON((directory as NSString).appendingPathComponent("tokenizer_config.json"), required: false)

        guard let model = json["model"] as? [String: Any] else { throw TokenizerError.missing(source: source, what: "model") }
        if model["type"] as? String == "Unigram" {
            var vocabulary = try unigram(json: json, model: model, source: source)
            let index = TokenIndex(vocabulary.tokens)
            assignRoles(&vocabulary, json: json, config: config) { index[$0].map(Int.init) }
            return (vocabulary, false)
        }
        guard model["type"] as? String == "BPE" else {
            throw TokenizerError.unsupportedModel(source: source, model: model["type"] as? String ?? "unnamed")
        }
        let pre = try PreTokenizer.huggingFace(json["pre_tokenizer"], source: source)
        let normalizesNFC = try normalizer(json["normalizer"], source: source)
        guard let vocab = model["vocab"] as? [String: Any] else { throw TokenizerError.missing(source: source, what: "model.vocab") }
        let added = json["added_tokens"] as? [[String: Any]] ?? []

        // Foundation hands the vocabulary over as a String-keyed dictionary, which merges canonically equivalent
        // keys; GPT-2's byte alphabet has no combining marks, so no two byte-level tokens are equivalent.
        var textById: [Int: String] = [:]
        for (text, id) in vocab { if let id = integer(id) { textById[id] = text } }
        for token in added { if let id = integer(token["id"]), let text = token["content"] as? String { textById[id] = text } }
        let count = (textById.keys.max() ?? -1) + 1
        // Gaps become unused placeholders, as convert_hf_to_gguf.py fills them.
        var tokens = (0..<count).map { "[PAD\($0)]" }
        var attributes = [TokenAttributes](repeating: .unused, count: count)
        for (id, text) in textById where id >= 0 {
            tokens[id] = text
            attributes[id] = .normal
        }
        for token in added {
            guard let id = integer(token["id"]), id >= 0, id < count, let text = token["content"] as? String else { continue }
            var attr: TokenAttributes = token["special"] as? Bool == true || looksSpecial(text) ? .control : .userDefined
            if token["lstrip"] as? Bool == true { attr.insert(.leftStrip) }
            if token["rstrip"] as? Bool == true { attr.insert(.rightStrip) }
            attributes[id] = attr
        }

        var merges: [(String, String)] = []
        for merge in model["merges"] as? [Any] ?? [] {
            if let text = merge as? String, let pair = splitMerge(text) {
                merges.append(pair)
            } else if let pair = merge as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            }
        }
        var preTokenizer = pre
        preTokenizer.ignoreMerges = model["ignore_merges"] as? Bool ?? false

        var vocabulary = Vocabulary(kind: .bytePairs(preTokenizer, merges: merges), tokens: tokens,
                                    scores: [Float](repeating: 0, count: count), attributes: attributes)
        assignRoles(&vocabulary, json: json, config: config) { integer(vocab[$0]) }
        return (vocabulary, normalizesNFC)
    }

    /// As gguf-py's SpecialVocab: ids of the config's tokens, and its add_*_token flags, else what a
    /// TemplateProcessing wraps a single sequence in. `vocabID` looks a text up in the model's own vocabulary.
    static func assignRoles(_ vocabulary: inout Vocabulary, json: [String: Any], config: [String: Any],
                            vocabID: (String) -> Int?) {
        let added = json["added_tokens"] as? [[String: Any]] ?? []
        func id(_ text: String?) -> Int? {
            guard let text else { return nil }
            let entry = added.first { ($0["content"] as? String)?.utf8.elementsEqual(text.utf8) == true }
            return integer(entry?["id"]) ?? vocabID(text)
        }
        let template = templateEnds(json["post_processor"])
        let bosText = contentOf(config["bos_token"]) ?? (config.isEmpty ? template.first : nil)
        let eosText = contentOf(config["eos_token"]) ?? (config.isEmpty ? template.last : nil)
        vocabulary.roles[.bos] = id(bosText)
        vocabulary.roles[.eos] = id(eosText)
        vocabulary.roles[.unknown] = id(contentOf(config["unk_token"]))
        vocabulary.roles[.padding] = id(contentOf(config["pad_token"]))
        vocabulary.addBOS = config["add_bos_token"] as? Bool ?? (template.first != nil && template.first == bosText)
        vocabulary.addEOS = config["add_eos_token"] as? Bool ?? (template.last != nil && template.last == eosText)
    }

    static func readJSON(_ path: String, required: Bool) throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw TokenizerError.missing(source: path, what: "file (expected a Hugging Face tokenizer here)") }
            return [:]
        }
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] else {
                throw TokenizerError.badFormat(source: path, detail: "the top level is not a JSON object")
            }
            return object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.badFormat(source: path, detail: "invalid JSON (\(error.localizedDescription))")
        }
    }

    /// Whether text must be NFC-normalised first; other normalizers would change tokens llama.cpp does not.
    private static func normalizer(_ node: Any?, source: String) throws -> Bool {
        guard let node = node as? [String: Any] else { return false }
        switch node["type"] as? String {
        case "NFC": return true
        case "Sequence":
            let parts = node["normalizers"] as? [Any] ?? []
            return try parts.reduce(false) { try $0 || normalizer($1, source: source) }
        default:
            throw TokenizerError.badFormat(source: source, detail: "normalizer \(node["type"] ?? "?") is not supported (none or NFC are)")
        }
    }

    /// The special tokens a TemplateProcessing puts before and after a single sequence.
    private static func templateEnds(_ node: Any?) -> (first: String?, last: String?) {
        guard let node = node as? [String: Any] else { return (nil, nil) }
        if node["type"] as? String == "Sequence" {
            for part in node["processors"] as? [Any] ?? [] {
                let ends = templateEnds(part)
                if ends.first != nil || ends.last != nil { return ends }
            }
            return (nil, nil)
        }
        guard node["type"] as? String == "TemplateProcessing", let single = node["single"] as? [[String: Any]], single.count > 1 else {
            return (nil, nil)
        }
        func special(_ item: [String: Any]?) -> String? { (item?["SpecialToken"] as? [String: Any])?["id"] as? String }
        return (special(single.first), special(single.last))
    }

    /// A token as tokenizer_config.json names it: a string, or an object with its "content".
    private static func contentOf(_ entry: Any?) -> String? {
        entry as? String ?? (entry as? [String: Any])?["content"] as? String
    }

    static func integer(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue ?? value as? Int }

    /// convert_hf_to_gguf.py's does_token_look_special: added tokens it makes control tokens though not "special".
    static func looksSpecial(_ text: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(text)
            || (text.hasPrefix("<|") && text.hasSuffix("|>"))
            || (text.hasPrefix("<｜") && text.hasSuffix("｜>"))
            || (text.hasPrefix("<unused") && text.hasSuffix(">"))
    }
}
