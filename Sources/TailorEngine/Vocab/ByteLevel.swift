// GPT-2's byte-to-unicode table: byte-level vocabularies spell every byte as one printable character, so that
// tokens are valid text ("Ġ" is the space byte). Only the table and its inverse; merging lives in BytePairEncoder.

enum ByteLevel {
    /// The character that stands for each byte: printable Latin-1 bytes stand for themselves, the other 68 are
    /// shifted to U+0100 and up in byte order (GPT-2's bytes_to_unicode, llama.cpp's unicode_byte_to_utf8_map).
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each table character stands for, indexed by scalar value (all are below U+0144).
    static let byteForScalar: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { inverse[Int(scalar.value)] = Int16(byte) }
        return inverse
    }()

    /// The vocabulary spelling of raw bytes.
    static func encode<C: Collection<UInt8>>(_ bytes: C) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalarForByte[Int(byte)]) }
        return String(text)
    }

    /// The raw bytes a vocabulary string spells. A character outside the table (only in malformed vocabularies)
    /// is kept as its own UTF-8, where llama.cpp would print a "[UNK_BYTE_…]" marker.
    static func decode(_ text: String, into bytes: inout [UInt8]) {
        for scalar in text.unicodeScalars {
            let value = Int(scalar.value)
            if value < byteForScalar.count, byteForScalar[value] >= 0 {
                bytes.append(UInt8(byteForScalar[value]))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}
