// Reads the fields Tailor needs from a SentencePiece `spiece.model` (a ModelProto protobuf): the pieces with their
// scores and types, the trainer's model type, byte fallback and special ids, and the normaliser spec. A hand-read
// subset of sentencepiece_model.proto; every other field is skipped by its wire type. Writes the same fields back
// (`serialized()`): a GGUF SentencePiece vocabulary exported as the `tokenizer.model` transformers loads.

struct SentencePieceModelFile {
    enum PieceType: Int { case normal = 1, unknown, control, userDefined, unused, byte }
    struct Piece { var text = ""; var score: Float = 0; var type = PieceType.normal }

    var pieces: [Piece] = []
    /// TrainerSpec.model_type: 1 Unigram, 2 BPE, 3 word, 4 char.
    var modelType = 1
    var byteFallback = false
    var unknownID = 0, bosID = 1, eosID = 2, padID = -1
    var normalizerName = ""
    var charsMap: [UInt8] = []
    var addDummyPrefix = true
    var removeExtraWhitespaces = true
    var escapeWhitespaces = true
    var treatWhitespaceAsSuffix = false

    init(bytes: [UInt8], source: String) throws {
        var reader = ProtoReader(bytes: bytes[...], source: source)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let message)):
                var piece = Piece(), r = ProtoReader(bytes: message, source: source)
                while let (f, v) = try r.next() {
                    switch (f, v) {
                    case (1, .bytes(let text)): piece.text = String(decoding: text, as: UTF8.self)
                    case (2, .fixed32(let bits)): piece.score = Float(bitPattern: bits)
                    case (3, .varint(let type)): piece.type = PieceType(rawValue: Int(type)) ?? .normal
                    default: break
                    }
                }
                pieces.append(piece)
            case (2, .bytes(let message)):
                var r = ProtoReader(bytes: message, source: source)
                while let (f, v) = try r.next() {
                    guard case .varint(let n) = v else { continue }
                    let signed = Int(Int32(truncatingIfNeeded: n))
                    switch f {
                    case 3: modelType = signed
                    case 24: treatWhitespaceAsSuffix = n != 0
                    case 35: byteFallback = n != 0
                    case 40: unknownID = signed
                    case 41: bosID = signed
                    case 42: eosID = signed
                    case 43: padID = signed
                    default: break
                    }
                }
            case (3, .bytes(let message)):
                var r = ProtoReader(bytes: message, source: source)
                while let (f, v) = try r.next() {
                    switch (f, v) {
                    case (1, .bytes(let name)): normalizerName = String(decoding: name, as: UTF8.self)
                    case (2, .bytes(let map)): charsMap = Array(map)
                    case (3, .varint(let n)): addDummyPrefix = n != 0
                    case (4, .varint(let n)): removeExtraWhitespaces = n != 0
                    case (5, .varint(let n)): escapeWhitespaces = n != 0
                    default: break
                    }
                }
            default: break
            }
        }
        guard !pieces.isEmpty else { throw TokenizerError.missing(source: source, what: "pieces (is this a SentencePiece model?)") }
    }

    /// A GGUF SentencePiece ("llama") vocabulary as a BPE model: its pieces, scores and token types, byte fallback
    /// where it has byte pieces, its special ids (-1 for a role it lacks), and llama.cpp's normalisation — spaces
    /// escaped as ▁, none collapsed, the space prefix as the file says.
    init(vocabulary v: Vocabulary) {
        pieces = v.tokens.indices.map { i in
            Piece(text: v.tokens[i], score: v.scores[i], type: PieceType(rawValue: v.attributes[i].tokenType) ?? .normal)
        }
        modelType = 2
        byteFallback = v.attributes.contains { $0.contains(.byte) }
        unknownID = v.roles[.unknown] ?? -1
        bosID = v.roles[.bos] ?? -1
        eosID = v.roles[.eos] ?? -1
        padID = v.roles[.padding] ?? -1
        normalizerName = "identity"
        addDummyPrefix = v.addSpacePrefix
        removeExtraWhitespaces = false
    }

    /// The ModelProto bytes of these fields (the inverse of init(bytes:source:)).
    func serialized() -> [UInt8] {
        var out = ProtoWriter()
        for p in pieces {
            var m = ProtoWriter()
            m.bytes(1, Array(p.text.utf8)); m.fixed32(2, p.score.bitPattern); m.varint(3, p.type.rawValue)
            out.bytes(1, m.data)
        }
        var trainer = ProtoWriter()
        trainer.varint(3, modelType)
        if treatWhitespaceAsSuffix { trainer.varint(24, 1) }
        // Whitespace runs stay one piece where the vocabulary has them (llama.cpp merges across the whole text).
        trainer.varint(26, 1)
        trainer.varint(35, byteFallback ? 1 : 0)
        for (field, id) in [(40, unknownID), (41, bosID), (42, eosID), (43, padID)] { trainer.varint(field, id) }
        // sentencepiece finds the special pieces by their texts (its defaults are <unk>, <s>, </s>, <pad>).
        for (field, id) in [(45, unknownID), (46, bosID), (47, eosID), (48, padID)] where pieces.indices.contains(id) {
            trainer.bytes(field, Array(pieces[id].text.utf8))
        }
        out.bytes(2, trainer.data)
        var normalizer = ProtoWriter()
        normalizer.bytes(1, Array(normalizerName.utf8))
        if !charsMap.isEmpty { normalizer.bytes(2, charsMap) }
        normalizer.varint(3, addDummyPrefix ? 1 : 0)
        normalizer.varint(4, removeExtraWhitespaces ? 1 : 0)
        normalizer.varint(5, escapeWhitespaces ? 1 : 0)
        out.bytes(3, normalizer.data)
        return out.data
    }
}

/// Protobuf wire format, the writing half: varints (an int32 below zero as its 64-bit two's complement, as
/// protobuf does), fixed32 and length-delimited fields.
private struct ProtoWriter {
    var data: [UInt8] = []

    mutating func varint(_ field: Int, _ value: Int) { key(field, 0); raw(UInt64(bitPattern: Int64(value))) }
    mutating func fixed32(_ field: Int, _ bits: UInt32) {
        key(field, 5)
        for i in 0..<4 { data.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(i)))) }
    }
    mutating func bytes(_ field: Int, _ bytes: [UInt8]) { key(field, 2); raw(UInt64(bytes.count)); data += bytes }

    private mutating func key(_ field: Int, _ wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }
    private mutating func raw(_ value: UInt64) {
        var v = value
        while v >= 0x80 { data.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        data.append(UInt8(v))
    }
}

/// Protobuf wire format, just enough to walk messages.
private struct ProtoReader {
    enum Value { case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32) }
    var bytes: ArraySlice<UInt8>
    let source: String

    mutating func next() throws -> (Int, Value)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        let field = Int(key >> 3)
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(try fixed(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count) else { throw truncated() }
            let start = bytes.startIndex
            defer { bytes = bytes[(start + Int(length))...] }
            return (field, .bytes(bytes[start..<(start + Int(length))]))
        case 5: return (field, .fixed32(UInt32(try fixed(4))))
        default:
            throw TokenizerError.badFormat(source: source, detail: "protobuf wire type \(key & 7) (not a SentencePiece model)")
        }
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { break }
        }
        throw truncated()
    }

    private mutating func fixed(_ count: Int) throws -> UInt64 {
        guard bytes.count >= count else { throw truncated() }
        var value: UInt64 = 0
        for (i, byte) in bytes.prefix(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        bytes = bytes.dropFirst(count)
        return value
    }

    private func truncated() -> TokenizerError { .badFormat(source: source, detail: "the protobuf data ends inside a field") }
}
