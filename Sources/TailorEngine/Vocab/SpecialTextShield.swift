// Keeps text from end users (chat messages) from being read as special tokens once a chat template has placed it
// among the template's own special tokens. Before rendering, special-token text inside a message is swapped for a
// private-use stand-in character; once the rendered prompt is split at the template's special tokens, the
// stand-ins turn back into their text, which is then tokenized as text. It does not decide what a template may do.

public struct SpecialTextShield: Sendable {
    /// Stand-ins are taken from the Supplementary Private Use Area-A, which no tokenizer or template uses.
    static let firstStandIn: UInt32 = 0xF0000
    static let lastStandIn: UInt32 = 0xFFFFD

    /// Special-token texts, longest first, so "<|im_start|>" wins over a shorter token that prefixes it.
    private let specialTexts: [[UInt8]]
    private let firstBytes: Set<UInt8>
    /// originals[i] is what stand-in `firstStandIn + i` replaced.
    private(set) var originals: [[UInt8]] = []
    private var standInFor: [[UInt8]: UInt32] = [:]

    public init(specialTexts: [[UInt8]]) {
        self.specialTexts = specialTexts.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        firstBytes = Set(self.specialTexts.map { $0[0] })
    }

    /// `text` with every special-token text (and every character that looks like a stand-in) replaced by a stand-in.
    public mutating func protect(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if firstBytes.contains(bytes[i]), let match = specialTexts.first(where: { starts(bytes, at: i, with: $0) }) {
                appendStandIn(for: match, to: &out)
                i += match.count
            } else if bytes[i] == 0xF3, let scalar = decodeFourByte(bytes, at: i), Self.isStandInRange(scalar) {
                // A user's own private-use character must not be mistaken for a stand-in: it gets one of its own.
                appendStandIn(for: Array(bytes[i..<(i + 4)]), to: &out)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text fragments of `utf8` with their stand-ins turned back into the text they replaced, in a new buffer
    /// (restoring changes lengths); special-token fragments stay as they are.
    func restore(_ fragments: [Fragment], in utf8: [UInt8]) -> ([Fragment], [UInt8]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        let restored = utf8.withUnsafeBufferPointer { whole in
            fragments.map { fragment -> Fragment in
                guard case .text(let range) = fragment else { return fragment }
                let start = bytes.count
                restore(UnsafeBufferPointer(rebasing: whole[range]), into: &bytes)
                return .text(start..<bytes.count)
            }
        }
        return (restored, bytes)
    }

    /// `bytes` with every stand-in turned back into the text it replaced, appended to `out`.
    private func restore(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0xF3, let scalar = decodeFourByte(bytes, at: i), scalar >= Self.firstStandIn,
               Int(scalar - Self.firstStandIn) < originals.count {
                out.append(contentsOf: originals[Int(scalar - Self.firstStandIn)])
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
    }

    var isEmpty: Bool { originals.isEmpty }

    private mutating func appendStandIn(for original: [UInt8], to out: inout [UInt8]) {
        let scalar: UInt32
        if let known = standInFor[original] {
            scalar = known
        } else {
            // Past the area's 65,534 stand-ins the text is kept as it is rather than mis-mapped; no prompt fits that many.
            guard Self.firstStandIn + UInt32(originals.count) <= Self.lastStandIn else {
                out.append(contentsOf: original)
                return
            }
            scalar = Self.firstStandIn + UInt32(originals.count)
            originals.append(original)
            standInFor[original] = scalar
        }
        out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
    }

    private static func isStandInRange(_ scalar: UInt32) -> Bool { (firstStandIn...lastStandIn).contains(scalar) }
}

private func starts<C: RandomAccessCollection>(_ bytes: C, at i: Int, with prefix: [UInt8]) -> Bool
where C.Element == UInt8, C.Index == Int {
    guard i + prefix.count <= bytes.endIndex else { return false }
    for k in 0..<prefix.count where bytes[i + k] != prefix[k] { return false }
    return true
}

/// The scalar of a well-formed four-byte UTF-8 sequence at `i`, or nil.
private func decodeFourByte<C: RandomAccessCollection>(_ bytes: C, at i: Int) -> UInt32?
where C.Element == UInt8, C.Index == Int {
    guard i + 4 <= bytes.endIndex, bytes[i] & 0xF8 == 0xF0 else { return nil }
    for k in 1...3 where bytes[i + k] & 0xC0 != 0x80 { return nil }
    return (UInt32(bytes[i] & 0x07) << 18) | (UInt32(bytes[i + 1] & 0x3F) << 12) | (UInt32(bytes[i + 2] & 0x3F) << 6)
        | UInt32(bytes[i + 3] & 0x3F)
}
