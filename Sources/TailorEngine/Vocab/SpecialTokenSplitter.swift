// Finds special tokens written inside text ("<|im_start|>") and cuts the text around them, as llama.cpp's
// tokenizer_st_partition does: token by token, longest text first, each one splitting every text piece left so far.
// It does not tokenize the text between them.

enum Fragment: Equatable {
    /// Byte offsets into the UTF-8 of the input.
    case text(Range<Int>)
    case token(Int32)
}

struct SpecialToken: Sendable {
    let id: Int32
    let utf8: [UInt8]
    let attributes: TokenAttributes
}

enum SpecialTokenSplitter {
    /// `specials` must be sorted longest first (ties by id). With `parseSpecial` false, control and unknown tokens
    /// stay plain text, but user-defined ones are still cut out, as in llama.cpp and Hugging Face.
    static func split(_ text: UnsafeBufferPointer<UInt8>, specials: [SpecialToken], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = text.isEmpty ? [] : [.text(0..<text.count)]
        for special in specials {
            if !parseSpecial && !special.attributes.isDisjoint(with: [.control, .unknown]) { continue }
            guard fragments.contains(where: { if case .text = $0 { true } else { false } }) else { break }
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count + 2)
            for fragment in fragments {
                guard case .text(var rest) = fragment else { next.append(fragment); continue }
                while let match = find(special.utf8, in: text, within: rest) {
                    var left = rest.lowerBound..<match
                    if special.attributes.contains(.leftStrip) {
                        while !left.isEmpty && isSpace(text[left.upperBound - 1]) { left = left.lowerBound..<(left.upperBound - 1) }
                    }
                    if !left.isEmpty { next.append(.text(left)) }
                    next.append(.token(special.id))
                    var right = (match + special.utf8.count)..<rest.upperBound
                    if special.attributes.contains(.rightStrip) {
                        while !right.isEmpty && isSpace(text[right.lowerBound]) { right = (right.lowerBound + 1)..<right.upperBound }
                    }
                    rest = right
                }
                if !rest.isEmpty { next.append(.text(rest)) }
            }
            fragments = next
        }
        return fragments
    }

    /// C's isspace in the "C" locale, which llama.cpp uses for the strip flags.
    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    /// The first occurrence of `needle` inside `range` of `text`.
    private static func find(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, within range: Range<Int>) -> Int? {
        guard let first = needle.first, needle.count <= range.count else { return nil }
        var i = range.lowerBound
        let last = range.upperBound - needle.count
        while i <= last {
            if text[i] == first {
                var k = 1
                while k < needle.count && text[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
