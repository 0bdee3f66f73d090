// Text to the ▁-escaped words a Unigram model segments, two ways: SentencePiece's own normaliser (spiece.model:
// precompiled rules by longest match, leading/trailing whitespace dropped, runs collapsed, a dummy ▁ prefix), and
// the normalizer/pre-tokenizer pipeline a tokenizer.json spells out (what transformers' fast tokenizers run).
// Each fragment between special tokens goes through on its own, as in both references.
import Foundation

enum UnigramNormalizer: Sendable {
    struct SentencePieceSpec: Sendable {
        var charsMap: PrecompiledCharsMap?
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    enum Step: Sendable {
        case precompiled(PrecompiledCharsMap)
        case strip(left: Bool, right: Bool)
        case replace(NSRegularExpression, with: String)
        case nfc, nfd, nfkc, nfkd, lowercase
        case prepend(String)
    }

    enum Split: Sendable {
        /// Metaspace: spaces become `replacement`, which is prepended per `prepend` ("always", "first", "never").
        case metaspace(replacement: String, prepend: String, split: Bool)
        case whitespace
    }

    case sentencePiece(SentencePieceSpec)
    case huggingFace([Step], [Split])

    static let space: [UInt8] = [0xE2, 0x96, 0x81] // ▁

    /// The words of one text fragment; `atStart` says whether the fragment begins the text.
    func words(_ text: ArraySlice<UInt8>, atStart: Bool) -> [[UInt8]] {
        switch self {
        case .sentencePiece(let spec):
            let normalized = Self.sentencePieceNormalize(text, spec)
            return normalized.isEmpty ? [] : [normalized]
        case let .huggingFace(steps, splits):
            var string = String(decoding: text, as: UTF8.self)
            for step in steps { string = Self.apply(step, to: string) }
            guard !string.isEmpty else { return [] }
            var words = [string]
            for split in splits { words = words.enumerated().flatMap { Self.apply(split, to: $1, first: atStart && $0 == 0) } }
            return words.filter { !$0.isEmpty }.map { Array($0.utf8) }
        }
    }

    // MARK: SentencePiece (normalizer.cc, Normalizer::Normalize)

    private static func sentencePieceNormalize(_ input: ArraySlice<UInt8>, _ spec: SentencePieceSpec) -> [UInt8] {
        var rest = input
        func prefix() -> (ArraySlice<UInt8>, Int) {
            if let map = spec.charsMap, let longest = map.prefixMatches(rest).max(by: { $0.length < $1.length }) {
                return (map.replacement(at: longest.value), longest.length)
            }
            let n = min(utf8Length(rest[rest.startIndex]), rest.count)
            return (rest.prefix(n), n)
        }
        if spec.removeExtraWhitespaces {
            while !rest.isEmpty {
                let (piece, consumed) = prefix()
                guard piece.elementsEqual([0x20]) else { break }
                rest = rest.dropFirst(consumed)
            }
        }
        guard !rest.isEmpty else { return [] }
        var out: [UInt8] = []
        if spec.addDummyPrefix { out += spec.escapeWhitespaces ? space : [0x20] }
        var previousSpace = spec.removeExtraWhitespaces
        while !rest.isEmpty {
            var (piece, consumed) = prefix()
            if previousSpace { while piece.first == 0x20 { piece = piece.dropFirst() } }
            if !piece.isEmpty {
                for byte in piece {
                    if spec.escapeWhitespaces && byte == 0x20 { out += space } else { out.append(byte) }
                }
                previousSpace = piece.last == 0x20
            }
            rest = rest.dropFirst(consumed)
        }
        if spec.removeExtraWhitespaces {
            let tail = spec.escapeWhitespaces ? space : [0x20]
            while out.count >= tail.count && Array(out.suffix(tail.count)) == tail { out.removeLast(tail.count) }
        }
        return out
    }

    // MARK: tokenizer.json (the `tokenizers` crate)

    private static func apply(_ step: Step, to s: String) -> String {
        switch step {
        case .precompiled(let map):
            // spm_precompiled: a grapheme shorter than 6 bytes is replaced whole by its first (shortest) rule;
            // otherwise, or without a rule, character by character.
            var out = ""
            for grapheme in s {
                let bytes = Array(String(grapheme).utf8)
                if bytes.count < 6, let rule = map.prefixMatches(bytes).first {
                    out += String(decoding: map.replacement(at: rule.value), as: UTF8.self)
                    continue
                }
                for scalar in String(grapheme).unicodeScalars {
                    let utf8 = Array(String(scalar).utf8)
                    if let rule = map.prefixMatches(utf8).first {
                        out += String(decoding: map.replacement(at: rule.value), as: UTF8.self)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out
        case let .strip(left, right):
            var scalars = Substring(s).unicodeScalars[...]
            if left { while let c = scalars.first, c.properties.isWhitespace { scalars = scalars.dropFirst() } }
            if right { while let c = scalars.last, c.properties.isWhitespace { scalars = scalars.dropLast() } }
            return String(String.UnicodeScalarView(scalars))
        case let .replace(regex, content):
            let range = NSRange(s.startIndex..., in: s)
            return regex.stringByReplacingMatches(in: s, range: range, withTemplate: NSRegularExpression.escapedTemplate(for: content))
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        case .lowercase: return s.lowercased()
        case .prepend(let prefix): return s.isEmpty ? s : prefix + s
        }
    }

    private static func apply(_ split: Split, to word: String, first: Bool) -> [String] {
        switch split {
        case .whitespace:
            return word.unicodeScalars.split { $0.properties.isWhitespace }.map { String(String.UnicodeScalarView($0)) }
        case let .metaspace(replacement, prepend, split):
            // By scalars: a space or ▁ followed by a combining mark is one Character, which String comparisons would miss.
            let mark = Array(replacement.unicodeScalars)
            var scalars = word.unicodeScalars.flatMap { $0 == " " ? mark : [$0] }
            if scalars.first != mark.first && (prepend == "always" || (prepend == "first" && first)) { scalars = mark + scalars }
            let s = String(String.UnicodeScalarView(scalars))
            guard split else { return [s] }
            // MergedWithNext: each replacement character starts a new word.
            var words: [String] = [], current = ""
            for c in s.unicodeScalars {
                if c == mark.first && !current.isEmpty { words.append(current); current = "" }
                current.unicodeScalars.append(c)
            }
            if !current.isEmpty { words.append(current) }
            return words
        }
    }
}

/// Bytes in the UTF-8 sequence a lead byte starts (1 for stray continuation bytes).
@inline(__always)
func utf8Length(_ lead: UInt8) -> Int {
    lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
}
