// Reads Unigram (T5-style SentencePiece) vocabularies: a `spiece.model` with SentencePiece's own normaliser, or a
// tokenizer.json whose model is "Unigram" with the normalizer and pre-tokenizer it names (transformers' fast
// tokenizers). The segmentation is UnigramEncoder's; roles from tokenizer.json go through assignRoles.
import Foundation

extension Tokenizer {
    /// A SentencePiece Unigram model file. `extraIDs` sentinel tokens (`<extra_id_N>`, T5's span markers) follow
    /// the pieces, highest N first, as transformers' T5Tokenizer adds them; `addEOS` ends each encoded text with
    /// the model's EOS when `encode(addSpecial: true)` is asked, as T5Tokenizer does.
    public convenience init(sentencePieceModel path: String, extraIDs: Int = 0, addEOS: Bool = true) throws {
        // Mapped rather than read through FileManager, whose reader leaks a buffer on empty files (LeakSanitizer).
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw TokenizerError.missing(source: path, what: "readable SentencePiece model (\(error))")
        }
        let bytes = Array(UnsafeRawBufferPointer(start: file.base, count: file.count))
        let model = try SentencePieceModelFile(bytes: bytes, source: path)
        guard model.modelType == 1 else {
            throw TokenizerError.unsupportedModel(source: path, model: ["", "Unigram", "BPE", "word", "char"][min(max(model.modelType, 0), 4)])
        }
        var tokens = model.pieces.map(\.text)
        var attributes: [TokenAttributes] = model.pieces.map {
            switch $0.type {
            case .normal: .normal
            case .unknown: .unknown
            case .control: .control
            case .userDefined: .userDefined
            case .unused: .unused
            case .byte: .byte
            }
        }
        var scores = model.pieces.map { Double($0.score) }
        var usable = model.pieces.map { $0.type == .normal || $0.type == .userDefined }
        for n in stride(from: extraIDs - 1, through: 0, by: -1) {
            tokens.append("<extra_id_\(n)>")
            attributes.append(.control)
            scores.append(0)
            usable.append(false)
        }
        let spec = UnigramNormalizer.SentencePieceSpec(
            charsMap: model.charsMap.isEmpty ? nil : PrecompiledCharsMap(model.charsMap),
            addDummyPrefix: model.addDummyPrefix, removeExtraWhitespaces: model.removeExtraWhitespaces,
            escapeWhitespaces: model.escapeWhitespaces)
        var vocabulary = Vocabulary(
            kind: .unigram(UnigramSpec(normalizer: .sentencePiece(spec), scores: scores, usable: usable,
                                       byteFallback: model.byteFallback, fuseUnknown: true)),
            tokens: tokens, scores: scores.map(Float.init), attributes: attributes)
        func role(_ id: Int) -> Int? { tokens.indices.contains(id) ? id : nil }
        vocabulary.roles[.unknown] = role(model.unknownID)
        vocabulary.roles[.bos] = role(model.bosID)
        vocabulary.roles[.eos] = role(model.eosID)
        vocabulary.roles[.padding] = role(model.padID)
        vocabulary.addEOS = addEOS && vocabulary.roles[.eos] != nil
        vocabulary.addSpacePrefix = model.addDummyPrefix
        self.init(vocabulary: vocabulary)
    }
}

extension Vocabulary {
    /// The tokens, attributes and pipeline of a tokenizer.json Unigram model; the caller assigns roles.
    static func unigram(json: [String: Any], model: [String: Any], source: String) throws -> Vocabulary {
        guard let entries = model["vocab"] as? [[Any]] else { throw TokenizerError.missing(source: source, what: "model.vocab") }
        var tokens: [String] = [], scores: [Double] = []
        for entry in entries {
            guard entry.count == 2, let text = entry[0] as? String, let score = (entry[1] as? NSNumber)?.doubleValue else {
                throw TokenizerError.badFormat(source: source, detail: "a model.vocab entry is not [piece, score]")
            }
            tokens.append(text)
            scores.append(score)
        }
        let byteFallback = model["byte_fallback"] as? Bool ?? false
        let unknown = integer(model["unk_id"])
        var attributes = [TokenAttributes](repeating: .normal, count: tokens.count)
        if byteFallback {
            for (i, text) in tokens.enumerated() where text.utf8.count == 6 && text.hasPrefix("<0x") && text.hasSuffix(">") {
                attributes[i] = .byte
            }
        }
        if let unknown, attributes.indices.contains(unknown) { attributes[unknown] = .unknown }
        for token in json["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = integer(token["id"]), let text = token["content"] as? String else { continue }
            if id >= tokens.count {
                // Added tokens past the model's vocabulary (T5's sentinels in some files) extend it.
                tokens += (tokens.count...id).map { "[PAD\($0)]" }
                scores += [Double](repeating: 0, count: id + 1 - scores.count)
                attributes += [TokenAttributes](repeating: .unused, count: id + 1 - attributes.count)
                tokens[id] = text
            }
            guard id >= 0, attributes[id] != .unknown else { continue }
            var attr: TokenAttributes = token["special"] as? Bool == true || looksSpecial(text) ? .control : .userDefined
            if token["lstrip"] as? Bool == true { attr.insert(.leftStrip) }
            if token["rstrip"] as? Bool == true { attr.insert(.rightStrip) }
            attributes[id] = attr
        }
        let steps = try normalizerSteps(json["normalizer"], source: source)
        let splits = try preTokenizerSplits(json["pre_tokenizer"], source: source)
        // The `tokenizers` lattice holds every vocabulary entry; special ones are split out of the text before it.
        let spec = UnigramSpec(normalizer: .huggingFace(steps, splits), scores: scores,
                               usable: [Bool](repeating: true, count: tokens.count), byteFallback: byteFallback,
                               fuseUnknown: true)
        var vocabulary = Vocabulary(kind: .unigram(spec), tokens: tokens, scores: scores.map(Float.init), attributes: attributes)
        vocabulary.roles[.unknown] = unknown
        vocabulary.addSpacePrefix = true
        return vocabulary
    }

    private static func normalizerSteps(_ node: Any?, source: String) throws -> [UnigramNormalizer.Step] {
        guard let node = node as? [String: Any] else { return [] }
        let type = node["type"] as? String ?? "?"
        func unsupported(_ detail: String) -> TokenizerError {
            .badFormat(source: source, detail: "normalizer \(type) \(detail) is not supported")
        }
        switch type {
        case "Sequence":
            return try (node["normalizers"] as? [Any] ?? []).flatMap { try normalizerSteps($0, source: source) }
        case "Precompiled":
            guard let text = node["precompiled_charsmap"] as? String else { return [] }
            guard let data = Data(base64Encoded: text), let map = PrecompiledCharsMap(Array(data)) else {
                throw unsupported("(its precompiled_charsmap is not a SentencePiece rule set)")
            }
            return [.precompiled(map)]
        case "Strip":
            return [.strip(left: node["strip_left"] as? Bool ?? false, right: node["strip_right"] as? Bool ?? false)]
        case "Replace":
            let pattern = node["pattern"] as? [String: Any]
            let content = node["content"] as? String ?? ""
            do {
                if let literal = pattern?["String"] as? String {
                    return [.replace(try NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: literal)), with: content)]
                }
                if let regex = pattern?["Regex"] as? String { return [.replace(try NSRegularExpression(pattern: regex), with: content)] }
            } catch {
                throw unsupported("with pattern \(pattern ?? [:])")
            }
            throw unsupported("without a pattern")
        case "Prepend": return [.prepend(node["prepend"] as? String ?? "")]
        case "NFC": return [.nfc]
        case "NFD": return [.nfd]
        case "NFKC": return [.nfkc]
        case "NFKD": return [.nfkd]
        case "Lowercase": return [.lowercase]
        default: throw unsupported("")
        }
    }

    private static func preTokenizerSplits(_ node: Any?, source: String) throws -> [UnigramNormalizer.Split] {
        guard let node = node as? [String: Any] else { return [] }
        switch node["type"] as? String {
        case "Sequence":
            return try (node["pretokenizers"] as? [Any] ?? []).flatMap { try preTokenizerSplits($0, source: source) }
        case "Metaspace":
            // Older files say add_prefix_space instead of prepend_scheme.
            let prepend = node["prepend_scheme"] as? String ?? ((node["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
            return [.metaspace(replacement: node["replacement"] as? String ?? "▁", prepend: prepend,
                               split: node["split"] as? Bool ?? true)]
        case "WhitespaceSplit":
            return [.whitespace]
        case let other:
            throw TokenizerError.unsupportedPreTokenizer(source: source, name: other ?? "?")
        }
    }
}
