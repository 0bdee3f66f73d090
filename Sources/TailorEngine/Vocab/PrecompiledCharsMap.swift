// SentencePiece's precompiled normalisation rules (nmt_nfkc and friends): a Darts double-array trie over UTF-8
// keys whose values point into a blob of NUL-terminated replacement strings. Read-only lookups; the two ways of
// applying the rules (SentencePiece's longest match, Hugging Face's per-grapheme one) are in UnigramNormalizer.swift.

struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let normalized: [UInt8]

    /// `blob` is `<trie size: u32 LE><trie units><normalized strings>`, as normalizer_spec.precompiled_charsmap holds it.
    init?(_ blob: [UInt8]) {
        guard blob.count >= 4 else { return nil }
        let size = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard size % 4 == 0, size >= 4, 4 + size <= blob.count else { return nil }
        units = stride(from: 4, to: 4 + size, by: 4).map {
            UInt32(blob[$0]) | UInt32(blob[$0 + 1]) << 8 | UInt32(blob[$0 + 2]) << 16 | UInt32(blob[$0 + 3]) << 24
        }
        normalized = Array(blob[(4 + size)...])
    }

    /// Darts-clone's commonPrefixSearch: (replacement offset, key length) for every rule that is a prefix of `key`,
    /// shortest first. Stops at a NUL byte, as both SentencePiece's C strings and Hugging Face's port do.
    func prefixMatches<Key: Collection<UInt8>>(_ key: Key) -> [(value: Int, length: Int)] {
        var results: [(Int, Int)] = []
        var pos = 0
        guard !units.isEmpty else { return results }
        pos ^= Self.offset(units[0])
        var length = 0
        for byte in key {
            if byte == 0 { break }
            pos ^= Int(byte)
            guard pos < units.count else { break }
            let unit = units[pos]
            guard unit & ((1 << 31) | 0xFF) == UInt32(byte) else { break }
            pos ^= Self.offset(unit)
            length += 1
            guard pos < units.count else { break }
            if (unit >> 8) & 1 == 1 { results.append((Int(units[pos] & ((1 << 31) - 1)), length)) }
        }
        return results
    }

    /// The NUL-terminated replacement at `offset`.
    func replacement(at offset: Int) -> ArraySlice<UInt8> {
        guard offset < normalized.count else { return [] }
        let end = normalized[offset...].firstIndex(of: 0) ?? normalized.count
        return normalized[offset..<end]
    }

    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
}
