// Cuts text into the words BPE merges run within, by hand-written matchers for the regex lists llama.cpp keeps per
// pre-tokenizer (llama-vocab.cpp, llm_tokenizer_bpe; unicode.cpp). Not a regex engine: each pattern it accepts
// is spelled out below, transcribed from llama.cpp's own hand-written matchers so that edge cases agree.

/// One regex of a pre-tokenizer list. Each step splits every piece the previous steps left, and never joins them.
enum SplitStep: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// As `llama3` but one digit at a time: `\p{N}` for `\p{N}{1,3}`.
    case qwen2
    /// As `qwen2` but words absorb combining marks: `[\p{L}\p{M}]+`, and `[^\s\p{L}\p{M}\p{N}]+`.
    case qwen35
    /// `\p{N}`: every number character alone.
    case eachNumber
    /// `\p{N}+`
    case numberRuns
    /// `[\p{P}\$\+<=>\^~\|]+`, with the backtick too where Falcon adds it.
    case punctuationRuns(backtick: Bool)
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriples
}

/// The code points of one text fragment with their flags and their UTF-8 positions, so words come back as byte ranges.
struct ScalarText {
    let scalars: [UInt32]
    let flags: [CodepointFlags]
    /// `byteOffsets[i]` is where scalar i starts; one extra entry holds the end.
    let byteOffsets: [Int]

    init(_ utf8: UnsafeBufferPointer<UInt8>) {
        var scalars: [UInt32] = [], offsets: [Int] = []
        scalars.reserveCapacity(utf8.count)
        offsets.reserveCapacity(utf8.count + 1)
        var i = 0
        while i < utf8.count {
            offsets.append(i)
            let lead = utf8[i]
            // Swift strings are valid UTF-8, so the length follows from the lead byte alone.
            let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            var value = length == 1 ? UInt32(lead) : UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<length { value = value << 6 | UInt32(utf8[i + k] & 0x3F) }
            scalars.append(value)
            i += length
        }
        offsets.append(i)
        self.scalars = scalars
        self.byteOffsets = offsets
        self.flags = scalars.map(CodepointFlags.init)
    }

    func split(_ steps: [SplitStep]) -> [Range<Int>] {
        var pieces = scalars.isEmpty ? [] : [0..<scalars.count]
        for step in steps {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                var words = Words(piece: piece, text: self)
                words.run(step)
                next.append(contentsOf: words.found)
            }
            pieces = next
        }
        return pieces
    }
}

/// One piece being cut. Reads past either end give no code point and no flags, as llama.cpp's `_get_cpt` and
/// `_get_flags` do: the matchers depend on that to stop.
private struct Words {
    let start: Int, end: Int
    let text: ScalarText
    var found: [Range<Int>] = []
    private var previousEnd: Int

    static let outside: UInt32 = 0xFFFF_FFFF
    static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20, cr: UInt32 = 0x0D, lf: UInt32 = 0x0A

    init(piece: Range<Int>, text: ScalarText) {
        start = piece.lowerBound
        end = piece.upperBound
        self.text = text
        previousEnd = start
    }

    func cpt(_ pos: Int) -> UInt32 { pos >= start && pos < end ? text.scalars[pos] : Words.outside }
    func flags(_ pos: Int) -> CodepointFlags { pos >= start && pos < end ? text.flags[pos] : [] }

    /// Ends the current word at `pos`; returns its length (empty words are dropped).
    @discardableResult
    mutating func add(_ pos: Int) -> Int {
        let length = pos - previousEnd
        if length > 0 { found.append(previousEnd..<pos) }
        previousEnd = pos
        return length
    }

    mutating func run(_ step: SplitStep) {
        switch step {
        case .gpt2: gpt2()
        case .llama3: llama3Family(digitsPerWord: 3, marksInWords: false)
        case .qwen2: llama3Family(digitsPerWord: 1, marksInWords: false)
        case .qwen35: llama3Family(digitsPerWord: 1, marksInWords: true)
        case .eachNumber: isolate { words, pos in words.flags(pos).contains(.number) ? pos + 1 : nil }
        case .numberRuns: isolate { words, pos in words.run(from: pos) { f, _ in f.contains(.number) } }
        case .punctuationRuns(let backtick):
            isolate { words, pos in words.run(from: pos) { Words.isPunctuation($0, $1, backtick: backtick) } }
        case .asciiDigitTriples:
            isolate { words, pos in
                (0..<3).allSatisfy { (0x30...0x39).contains(words.cpt(pos + $0)) } ? pos + 3 : nil
            }
        }
    }

    /// A contraction at `pos` ('s 't 'm 'd 're 've 'll), case-insensitively where `foldCase`; returns its end.
    func contraction(at pos: Int, foldCase: Bool) -> Int? {
        guard cpt(pos) == Words.apostrophe, pos + 1 < end else { return nil }
        // Only ASCII letters lower-case to these (U+0130 and U+212A lower-case to i and k), so ASCII folding is exact.
        func letter(_ p: Int) -> UInt32 {
            let c = cpt(p)
            return foldCase && (0x41...0x5A).contains(c) ? c + 0x20 : c
        }
        let next = letter(pos + 1)
        if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 { return pos + 2 } // s t m d
        guard pos + 2 < end else { return nil }
        let after = letter(pos + 2)
        if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) || (next == 0x6C && after == 0x6C) {
            return pos + 3 // re ve ll
        }
        return nil
    }

    /// llama.cpp's unicode_regex_split_custom_gpt2.
    mutating func gpt2() {
        let wordBreak: CodepointFlags = [.whitespace, .letter, .number]
        var pos = start
        while pos < end {
            let c = cpt(pos)
            if let stop = contraction(at: pos, foldCase: false) { pos += add(stop); continue }
            let skipSpace = c == Words.space ? 1 : 0
            var f = flags(pos + skipSpace)
            // ' ?\p{L}+' and ' ?\p{N}+'
            if let kind: CodepointFlags = f.contains(.letter) ? .letter : f.contains(.number) ? .number : nil {
                pos += skipSpace
                while f.contains(kind) { pos += 1; f = flags(pos) }
                add(pos)
                continue
            }
            // ' ?[^\s\p{L}\p{N}]+'
            if f.isDisjoint(with: wordBreak) && f.rawValue != 0 {
                pos += skipSpace
                while f.isDisjoint(with: wordBreak) && f.rawValue != 0 { pos += 1; f = flags(pos) }
                add(pos)
                continue
            }
            if whitespaceRun(at: &pos, splitLineBreaks: false) { continue }
            pos += 1
            add(pos)
        }
    }

    /// llama.cpp's unicode_regex_split_custom_llama3, _qwen2 and _qwen35, which differ only in the two parameters.
    mutating func llama3Family(digitsPerWord: Int, marksInWords: Bool) {
        let wordish: CodepointFlags = marksInWords ? [.letter, .mark] : [.letter]
        let wordBreak: CodepointFlags = marksInWords ? [.whitespace, .letter, .mark, .number] : [.whitespace, .letter, .number]
        var pos = start
        while pos < end {
            let c = cpt(pos)
            let f = flags(pos)
            if let stop = contraction(at: pos, foldCase: true) { pos += add(stop); continue }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == Words.cr || c == Words.lf || f.contains(.number)),
               !f.isDisjoint(with: wordish) || !flags(pos + 1).isDisjoint(with: wordish) {
                pos += 1
                while !flags(pos).isDisjoint(with: wordish) { pos += 1 }
                add(pos)
                continue
            }
            // \p{N}{1,3} or \p{N}
            if f.contains(.number) {
                var first = pos
                while flags(pos).contains(.number) {
                    pos += 1
                    if pos - first >= digitsPerWord { add(pos); first = pos }
                }
                add(pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*   (llama.cpp tests the flags of c itself, not of the next, for "any")
            var f2 = c == Words.space ? flags(pos + 1) : f
            if f2.isDisjoint(with: wordBreak) && f.rawValue != 0 {
                if c == Words.space { pos += 1 }
                while f2.isDisjoint(with: wordBreak) && f2.rawValue != 0 { pos += 1; f2 = flags(pos) }
                while cpt(pos) == Words.cr || cpt(pos) == Words.lf { pos += 1 }
                add(pos)
                continue
            }
            if whitespaceRun(at: &pos, splitLineBreaks: true) { continue }
            pos += 1
            add(pos)
        }
    }

    /// `\s*[\r\n]+` (where `splitLineBreaks`), then `\s+(?!\S)` and `\s+`. Returns false if no whitespace is at `pos`.
    mutating func whitespaceRun(at pos: inout Int, splitLineBreaks: Bool) -> Bool {
        var count = 0
        var afterLastLineBreak = 0
        while flags(pos + count).contains(.whitespace) {
            let c = cpt(pos + count)
            if c == Words.cr || c == Words.lf { afterLastLineBreak = pos + count + 1 }
            count += 1
        }
        if splitLineBreaks && afterLastLineBreak > 0 {
            pos = afterLastLineBreak
        } else if count > 1 && cpt(pos + count) != Words.outside {
            pos += count - 1 // leave the last space to lead the next word
        } else if count > 0 {
            pos += count
        } else {
            return false
        }
        add(pos)
        return true
    }

    /// The end of the run of code points satisfying `test` that starts at `pos`, or nil if none does.
    func run(from pos: Int, _ test: (CodepointFlags, UInt32) -> Bool) -> Int? {
        var stop = pos
        while stop < end && test(flags(stop), cpt(stop)) { stop += 1 }
        return stop > pos ? stop : nil
    }

    /// llama.cpp runs these through std::regex over a "collapsed" text: ASCII stays itself, other code points
    /// become one byte per category (whitespace first). So ASCII matches by the listed characters, the rest by
    /// category; `$+<=>^~|` are symbols, listed by hand in the regex.
    static func isPunctuation(_ f: CodepointFlags, _ c: UInt32, backtick: Bool) -> Bool {
        if c < 0x80 {
            return f.contains(.punctuation) || asciiSymbols.contains(c) || (backtick && c == 0x60)
        }
        return !f.contains(.whitespace) && f.category == .punctuation
    }

    static let asciiSymbols: Set<UInt32> = [0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C] // $ + < = > ^ ~ |

    /// Emulates std::regex_iterator: every leftmost match becomes a word, and so does each stretch between matches.
    mutating func isolate(_ match: (Words, Int) -> Int?) {
        var pos = start
        while pos < end {
            if let stop = match(self, pos) {
                add(pos)
                add(stop)
                pos = stop
            } else {
                pos += 1
            }
        }
        add(end)
    }
}
