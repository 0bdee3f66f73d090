// SentencePiece-style tokenization of one text fragment, as llama.cpp's llm_tokenizer_spm_session does it: start
// from UTF-8 characters, repeatedly join the adjacent pair that forms the token with the highest score, and spell
// what is left over as <0xXX> byte tokens. The caller escapes spaces to ▁ and adds the space prefix.

struct SentencePieceEncoder: Sendable {
    let index: TokenIndex
    let scores: [Float]
    /// The token for each byte: `<0xXX>`, or else the one-character token, as llama.cpp's byte_to_token looks it up.
    let tokenForByte: [Int32?]
    let unknown: Int32?

    init(index: TokenIndex, scores: [Float], unknown: Int?) {
        self.index = index
        self.scores = scores
        self.unknown = unknown.map(Int32.init)
        tokenForByte = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            let spelled = "<0x" + (hex.count == 1 ? "0" : "") + hex + ">"
            return index[spelled] ?? (byte < 0x80 ? index[bytes: [UInt8(byte)]] : nil)
        }
    }

    private struct Symbol { var start: Int; var count: Int; var previous: Int; var next: Int }

    private struct Bigram: Prioritized {
        let score: Float
        let left: Int, right: Int
        let size: Int
        /// llama.cpp's llm_bigram_spm order: highest score first, then leftmost.
        func before(_ other: Bigram) -> Bool { score > other.score || (score == other.score && left < other.left) }
    }

    func encode(_ text: [UInt8], into output: inout [Int32]) {
        var symbols: [Symbol] = []
        var offset = 0
        while offset < text.count {
            let lead = text[offset] >> 4
            let length = min(lead == 0xF ? 4 : lead == 0xE ? 3 : lead >= 0xC ? 2 : 1, text.count - offset)
            symbols.append(Symbol(start: offset, count: length, previous: symbols.count - 1,
                                  next: offset + length == text.count ? -1 : symbols.count + 1))
            offset += length
        }
        guard !symbols.isEmpty else { return }

        var queue = PriorityQueue<Bigram>()
        func token(_ start: Int, _ count: Int) -> Int32? {
            index[bytes: text[start..<(start + count)]]
        }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = symbols[left].count + symbols[right].count
            if let id = token(symbols[left].start, size) {
                queue.push(Bigram(score: scores[Int(id)], left: left, right: right, size: size))
            }
        }
        for i in 1..<symbols.count { consider(i - 1, i) }
        while let bigram = queue.pop() {
            let left = bigram.left, right = bigram.right
            guard symbols[left].count > 0, symbols[right].count > 0,
                  symbols[left].count + symbols[right].count == bigram.size else { continue }
            symbols[left].count += symbols[right].count
            symbols[right].count = 0
            symbols[left].next = symbols[right].next
            if symbols[right].next >= 0 { symbols[symbols[right].next].previous = left }
            consider(symbols[left].previous, left)
            consider(left, symbols[left].next)
        }

        var i = 0
        while i >= 0 {
            let symbol = symbols[i]
            if let id = token(symbol.start, symbol.count) {
                output.append(id)
            } else {
                // llama.cpp throws when a byte has no token; the unknown token keeps the text's place instead.
                for byte in text[symbol.start..<(symbol.start + symbol.count)] {
                    if let id = tokenForByte[Int(byte)] ?? unknown { output.append(id) }
                }
            }
            i = symbol.next
        }
    }

    /// A piece's text with ▁ back to spaces.
    static func unescape(_ text: String, into bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if i + 2 < utf8.count && utf8[i] == 0xE2 && utf8[i + 1] == 0x96 && utf8[i + 2] == 0x81 {
                bytes.append(0x20)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
    }
}
