// Text to token ids and back, exact to llama.cpp (llama_tokenize / llama_token_to_piece) for byte-level BPE and
// SentencePiece vocabularies, and to transformers for Unigram ones (T5). Immutable after init and safe to share
// between threads. Loading is in Tokenizer+GGUF.swift, Tokenizer+HuggingFace.swift and Tokenizer+Unigram.swift;
// the algorithms are in the files they name.
import Foundation

public final class Tokenizer: Sendable {
    private enum Encoder: Sendable {
        case bytePairs(steps: [SplitStep], BytePairEncoder)
        case sentencePiece(SentencePieceEncoder)
        case unigram(UnigramNormalizer, UnigramEncoder)
    }

    private let tokens: [String]
    private let attributes: [TokenAttributes]
    private let index: TokenIndex
    private let encoder: Encoder
    /// Tokens recognised inside text, longest first.
    private let specials: [SpecialToken]
    let addSpacePrefix: Bool
    /// Hugging Face tokenizers with an NFC normalizer (Qwen2); GGUF files carry no normalizer.
    private let normalizesNFC: Bool

    public let bos: Int?
    public let eos: Int?
    public let unknown: Int?
    public let padding: Int?
    /// llama.cpp's end-of-generation set: EOS, EOT, EOM, FIM padding/repository/separator and tokens named like
    /// <|im_end|>, <|eot_id|>, <end_of_turn>, <|endoftext|>.
    public let endOfTurnTokens: Set<Int>
    public let addBOS: Bool
    public let addEOS: Bool

    public var vocabularySize: Int { tokens.count }

    /// A shield for this vocabulary's special-token texts, to protect untrusted text before a template renders it.
    public func makeShield() -> SpecialTextShield { SpecialTextShield(specialTexts: specials.map(\.utf8)) }

    init(vocabulary: Vocabulary, normalizesNFC: Bool = false) {
        var vocabulary = vocabulary
        for i in vocabulary.tokens.indices where vocabulary.tokens[i].isEmpty {
            vocabulary.tokens[i] = "[EMPTY_\(i)]" // as llama.cpp names them, so every id keeps a distinct text
        }
        let index = TokenIndex(vocabulary.tokens)
        endOfTurnTokens = vocabulary.applyLoadRules(index: index)

        tokens = vocabulary.tokens
        attributes = vocabulary.attributes
        self.index = index
        self.normalizesNFC = normalizesNFC
        addSpacePrefix = vocabulary.addSpacePrefix
        bos = vocabulary.roles[.bos]
        eos = vocabulary.roles[.eos]
        unknown = vocabulary.roles[.unknown]
        padding = vocabulary.roles[.padding]
        addBOS = vocabulary.addBOS
        addEOS = vocabulary.addEOS
        specials = vocabulary.attributes.indices
            .filter { !vocabulary.attributes[$0].isDisjoint(with: .special) }
            .map { SpecialToken(id: Int32($0), utf8: Array(vocabulary.tokens[$0].utf8), attributes: vocabulary.attributes[$0]) }
            .sorted { $0.utf8.count > $1.utf8.count || ($0.utf8.count == $1.utf8.count && $0.id < $1.id) }
        switch vocabulary.kind {
        case let .bytePairs(pre, merges):
            encoder = .bytePairs(steps: pre.steps, BytePairEncoder(index: index, tokenCount: tokens.count,
                                                                   merges: merges, ignoreMerges: pre.ignoreMerges))
        case .sentencePiece:
            encoder = .sentencePiece(SentencePieceEncoder(index: index, scores: vocabulary.scores, unknown: unknown))
        case .unigram(let spec):
            encoder = .unigram(spec.normalizer, UnigramEncoder(
                index: index, tokens: tokens, scores: spec.scores, usable: spec.usable, unknown: unknown ?? 0,
                byteFallback: spec.byteFallback, fuseUnknown: spec.fuseUnknown))
        }
    }

    /// Token ids for `text`. `addSpecial` adds BOS (and EOS) where the model asks for them; `parseSpecial` reads
    /// special tokens written in the text ("<|im_start|>") as single ids, as llama_tokenize(parse_special: true).
    /// With a `shield`, its stand-ins in the text between special tokens are turned back into the text they replaced
    /// and tokenized as text (see SpecialTextShield).
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true,
                       shield: SpecialTextShield? = nil) -> [Int] {
        var output: [Int32] = []
        if addSpecial && addBOS, let bos { output.append(Int32(bos)) }
        let utf8 = Array(text.utf8)
        var fragments = utf8.withUnsafeBufferPointer { SpecialTokenSplitter.split($0, specials: specials, parseSpecial: parseSpecial) }
        var bytes = utf8
        if let shield, !shield.isEmpty { (fragments, bytes) = shield.restore(fragments, in: utf8) }
        bytes.withUnsafeBufferPointer { encodeFragments(fragments, in: $0, into: &output) }
        if addSpecial && addEOS, let eos { output.append(Int32(eos)) }
        return output.map(Int.init)
    }

    /// Special tokens as they are, the text between them through the vocabulary's encoder.
    private func encodeFragments(_ fragments: [Fragment], in buffer: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        switch encoder {
        case let .bytePairs(steps, merges):
            var scratch = BytePairEncoder.Scratch()
            for fragment in fragments {
                switch fragment {
                case .token(let id): output.append(id)
                case .text(let range):
                    if normalizesNFC {
                        let normalized = Array(String(decoding: buffer[range], as: UTF8.self).precomposedStringWithCanonicalMapping.utf8)
                        normalized.withUnsafeBufferPointer { encodeWords($0, steps, merges, &scratch, &output) }
                    } else {
                        encodeWords(UnsafeBufferPointer(rebasing: buffer[range]), steps, merges, &scratch, &output)
                    }
                }
            }
        case let .sentencePiece(pieces):
            // llama.cpp puts the space prefix before every text that follows a special token, not only the first.
            var afterSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    afterSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = addSpacePrefix && afterSpecial ? [0xE2, 0x96, 0x81] : []
                    for byte in buffer[range] {
                        if byte == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(byte) }
                    }
                    pieces.encode(escaped, into: &output)
                    afterSpecial = false
                }
            }
        case let .unigram(normalizer, pieces):
            for fragment in fragments {
                switch fragment {
                case .token(let id): output.append(id)
                case .text(let range):
                    for word in normalizer.words(Array(buffer[range])[...], atStart: range.lowerBound == 0) {
                        pieces.encode(word, into: &output)
                    }
                }
            }
        }
    }

    private func encodeWords(_ text: UnsafeBufferPointer<UInt8>, _ steps: [SplitStep], _ merges: BytePairEncoder,
                             _ scratch: inout BytePairEncoder.Scratch, _ output: inout [Int32]) {
        let scalars = ScalarText(text)
        for word in scalars.split(steps) {
            let bytes = scalars.byteOffsets[word.lowerBound]..<scalars.byteOffsets[word.upperBound]
            merges.encode(UnsafeBufferPointer(rebasing: text[bytes]), into: &output, scratch: &scratch)
        }
    }

    /// The text of `ids`, as llama_detokenize without its space clean-up, so decode(encode(s)) == s. With
    /// `skipSpecial`, control tokens render as nothing and a leading BOS (trailing EOS) the model adds is dropped.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var ids = ids[...]
        // SentencePiece's space prefix comes off the first token, unless BOS was dropped (llama.cpp's rule).
        var stripSpace = addSpacePrefix
        if skipSpecial && addBOS, let bos, ids.first == bos {
            stripSpace = false
            ids = ids.dropFirst()
        }
        if skipSpecial && addEOS, let eos, ids.last == eos { ids = ids.dropLast() }
        var bytes: [UInt8] = []
        for id in ids {
            // transformers drops skipped tokens before its decoder strips the first token's space.
            if case .unigram = encoder, skipSpecial && isControl(id) { continue }
            let start = bytes.count
            appendPiece(id, special: !skipSpecial, to: &bytes)
            if stripSpace && bytes.count > start && bytes[start] == 0x20 { bytes.remove(at: start) }
            stripSpace = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What `decode(_:skipSpecial: true)` gives for `id` within a generated text, or nil for a token it skips:
    /// `first` is true until a token has given its piece, so the pieces of a stream join to the decoded text.
    public func generatedPiece(_ id: Int, first: Bool) -> [UInt8]? {
        if case .unigram = encoder, isControl(id) { return nil }
        var bytes: [UInt8] = []
        appendPiece(id, special: false, to: &bytes)
        if first && addSpacePrefix && bytes.first == 0x20 { bytes.removeFirst() }
        return bytes
    }

    /// The bytes one token stands for; a multi-byte character may be split across tokens, so stream these and
    /// decode UTF-8 only once a character is complete. Empty for ids outside the vocabulary.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        appendPiece(id, special: true, to: &bytes)
        return bytes
    }

    /// llama_token_to_piece.
    private func appendPiece(_ id: Int, special: Bool, to bytes: inout [UInt8]) {
        guard tokens.indices.contains(id) else { return }
        let attr = attributes[id], text = tokens[id]
        if !attr.isDisjoint(with: [.unknown, .control]) {
            if special { bytes.append(contentsOf: text.utf8) }
        } else if attr.contains(.userDefined) {
            bytes.append(contentsOf: text.utf8)
        } else if attr.contains(.normal) {
            switch encoder {
            case .bytePairs: ByteLevel.decode(text, into: &bytes)
            case .sentencePiece, .unigram: SentencePieceEncoder.unescape(text, into: &bytes)
            }
        } else if attr.contains(.byte) {
            // "<0xXX>"
            let hex = text.utf8.dropFirst(3).prefix(2)
            if let byte = UInt8(String(decoding: hex, as: UTF8.self), radix: 16) { bytes.append(byte) }
        }
    }

    /// The token's text as the vocabulary stores it ("Ġhello", "▁hello", "<|im_end|>").
    public func tokenText(_ id: Int) -> String { tokens.indices.contains(id) ? tokens[id] : "" }

    public func id(of token: String) -> Int? { index[token].map(Int.init) }

    /// Control, user-defined and unknown tokens: the ones recognised when written inside text.
    public func isSpecial(_ id: Int) -> Bool {
        attributes.indices.contains(id) && !attributes[id].isDisjoint(with: .special)
    }

    /// A control (or unknown) token: it stands for no text. User-defined tokens such as Qwen's "<tool_call>" are
    /// special (recognised inside text) but do stand for their text.
    public func isControl(_ id: Int) -> Bool {
        attributes.indices.contains(id) && !attributes[id].isDisjoint(with: [.control, .unknown])
    }
}
