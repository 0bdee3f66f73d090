// Turns generated tokens into text as it becomes final: bytes are held back while they end in an incomplete UTF-8
// sequence, and text is held back while it could be the start of a stop sequence, so a streamed delta never has
// to be taken back. The returned text never contains a stop sequence (OpenAI's rule).

public struct TextStream {
    public let stops: [String]
    private var pendingBytes: [UInt8] = []
    private var held = ""            // decoded text not yet released: might begin a stop sequence
    public private(set) var text = ""   // everything released so far
    public private(set) var stopped = false

    public init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds a token's bytes; returns the newly final text (possibly empty). After a stop sequence appears, `stopped`
    /// is true and the text up to it has been released.
    public mutating func append(_ bytes: [UInt8]) -> String {
        guard !stopped else { return "" }
        pendingBytes += bytes
        let complete = completeUTF8Prefix(pendingBytes)
        guard complete > 0 else { return "" }
        held += String(decoding: pendingBytes[..<complete], as: UTF8.self)
        pendingBytes.removeFirst(complete)
        return release()
    }

    /// Releases whatever is held (at the end of generation).
    public mutating func finish() -> String {
        guard !stopped else { return "" }
        if !pendingBytes.isEmpty {
            held += String(decoding: pendingBytes, as: UTF8.self)   // invalid tail becomes U+FFFD, as decoders do
            pendingBytes = []
        }
        let out = held
        held = ""
        text += out
        return out
    }

    private mutating func release() -> String {
        if let cut = firstStop(in: held) {
            let out = String(held[..<cut])
            held = ""
            text += out
            stopped = true
            return out
        }
        // Keep the longest suffix that is a proper prefix of some stop sequence.
        var keep = 0
        for stop in stops {
            var n = min(stop.count - 1, held.count)
            while n > keep {
                if held.hasSuffix(stop.prefix(n)) { keep = n; break }
                n -= 1
            }
        }
        let split = held.index(held.endIndex, offsetBy: -keep)
        let out = String(held[..<split])
        held = String(held[split...])
        text += out
        return out
    }

    private func firstStop(in s: String) -> String.Index? {
        var best: String.Index? = nil
        for stop in stops {
            if let r = s.range(of: stop), best == nil || r.lowerBound < best! { best = r.lowerBound }
        }
        return best
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence.
func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
    var i = bytes.count
    // Look back at most 3 bytes for the lead byte of a sequence that is still incomplete.
    var back = 0
    while i > 0 && back < 4 {
        let b = bytes[i - 1]
        if b & 0xC0 != 0x80 {       // a lead byte (or ASCII)
            let need = b < 0x80 ? 1 : b >> 5 == 0x6 ? 2 : b >> 4 == 0xE ? 3 : b >> 3 == 0x1E ? 4 : 1
            return back + 1 >= need ? bytes.count : i - 1
        }
        i -= 1; back += 1
    }
    return bytes.count
}
