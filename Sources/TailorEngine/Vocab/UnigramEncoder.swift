// Unigram segmentation (Kudo 2018) as SentencePiece's EncodeOptimized and Hugging Face's Unigram model do it: the
// Viterbi path of highest total piece score over a normalised word; a character no piece starts with becomes the
// unknown token (score: the lowest piece score − 10), runs of unknowns are fused, and with byte fallback an unknown
// stretch is spelled as <0xXX> byte tokens. Normalisation is UnigramNormalizer's job.

struct UnigramEncoder: Sendable {
    let index: TokenIndex
    let scores: [Double]
    /// Pieces the lattice may use (SentencePiece leaves control, unknown, byte and unused pieces out).
    let usable: [Bool]
    let unknown: Int32
    let unknownScore: Double
    let maxPieceBytes: Int
    /// `<0xXX>` for each byte, when the model falls back to bytes.
    let byteTokens: [Int32]?
    let fuseUnknown: Bool

    init(index: TokenIndex, tokens: [String], scores: [Double], usable: [Bool], unknown: Int, byteFallback: Bool,
         fuseUnknown: Bool) {
        self.index = index
        self.scores = scores
        self.usable = usable
        self.unknown = Int32(unknown)
        self.fuseUnknown = fuseUnknown
        let minimum = zip(scores, usable).filter(\.1).map(\.0).min() ?? 0
        unknownScore = minimum - 10
        maxPieceBytes = zip(tokens, usable).filter(\.1).map(\.0.utf8.count).max() ?? 1
        if byteFallback {
            let ids = (0..<256).map { byte in
                let hex = String(byte, radix: 16, uppercase: true)
                return index["<0x" + (hex.count == 1 ? "0" : "") + hex + ">"]
            }
            byteTokens = ids.contains(nil) ? nil : ids.map { $0! }
        } else {
            byteTokens = nil
        }
    }

    func encode(_ word: [UInt8], into output: inout [Int32]) {
        let n = word.count
        guard n > 0 else { return }
        // best[e]: the best path over word[0..<e], ending with piece `id` that starts at `start`.
        var bestScore = [Double](repeating: 0, count: n + 1)
        var bestStart = [Int](repeating: 0, count: n + 1)
        var bestID = [Int32](repeating: -1, count: n + 1)
        var pos = 0
        while pos < n {
            let charEnd = min(n, pos + utf8Length(word[pos]))
            let base = bestScore[pos]
            var hasSingle = false
            var end = pos
            while end < n {
                end = min(n, end + utf8Length(word[end]))
                if end - pos > maxPieceBytes { break }
                guard let id = index[bytes: word[pos..<end]], usable[Int(id)] else { continue }
                let candidate = base + scores[Int(id)]
                if bestID[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate; bestStart[end] = pos; bestID[end] = id
                }
                if end == charEnd { hasSingle = true }
            }
            if !hasSingle {
                let candidate = base + unknownScore
                if bestID[charEnd] == -1 || candidate > bestScore[charEnd] {
                    bestScore[charEnd] = candidate; bestStart[charEnd] = pos; bestID[charEnd] = unknown
                }
            }
            pos = charEnd
        }

        var path: [(range: Range<Int>, id: Int32)] = []
        var end = n
        while end > 0 {
            let start = bestStart[end], id = bestID[end]
            if fuseUnknown, id == unknown, let last = path.last, last.id == unknown {
                path[path.count - 1].range = start..<last.range.upperBound
            } else {
                path.append((start..<end, id))
            }
            end = start
        }
        for (range, id) in path.reversed() {
            if id == unknown, let byteTokens {
                for byte in word[range] { output.append(byteTokens[Int(byte)]) }
            } else {
                output.append(id)
            }
        }
    }
}
