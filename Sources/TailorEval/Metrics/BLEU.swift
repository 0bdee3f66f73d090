// Sentence BLEU as `sacrebleu.sentence_bleu(hypothesis, [reference])` computes it with its defaults: the 13a
// tokenizer, case kept, exponential ("exp", NIST) smoothing and effective order. Not corpus BLEU, not other tokenizers.

import Foundation

public enum BLEU {
    static let maxOrder = 4

    /// In [0, 1]: sacrebleu's 0–100 score divided by 100, which is the scale every Evals grader reports.
    public static func sentence(hypothesis: String, reference: String) -> Double {
        var interner = TokenInterner()
        let hyp = interner.ids(tokenize13a(PythonText.rstrip(hypothesis.codePoints)))
        let ref = interner.ids(tokenize13a(PythonText.rstrip(reference.codePoints)))
        let refCounts = ngramCounts(ref, orders: 1...maxOrder)
        var correct = [Int](repeating: 0, count: maxOrder)
        var total = [Int](repeating: 0, count: maxOrder)
        for (ngram, count) in ngramCounts(hyp, orders: 1...maxOrder) {
            total[ngram.count - 1] += count
            correct[ngram.count - 1] += min(count, refCounts[ngram] ?? 0)
        }
        return score(correct: correct, total: total, hypothesisLength: hyp.count, referenceLength: ref.count) / 100
    }

    /// sacrebleu's `BLEU.compute_bleu` for smooth_method "exp" with effective order, on the 0–100 scale.
    static func score(correct: [Int], total: [Int], hypothesisLength sys: Int, referenceLength ref: Int) -> Double {
        var bp = 1.0
        if sys < ref { bp = sys > 0 ? exp(1 - Double(ref) / Double(sys)) : 0 }
        // No unigram matched anything: sacrebleu stops here with 0 rather than smoothing every order.
        guard correct.contains(where: { $0 != 0 }) else { return 0 }
        var precisions = [Double](repeating: 0, count: maxOrder)
        var smooth = 1.0
        var order = maxOrder
        for n in 1...maxOrder {
            if total[n - 1] == 0 { break }
            order = n
            if correct[n - 1] == 0 {
                smooth *= 2
                precisions[n - 1] = 100 / (smooth * Double(total[n - 1]))
            } else {
                precisions[n - 1] = 100 * Double(correct[n - 1]) / Double(total[n - 1])
            }
        }
        // sacrebleu floors log(0) at -9999999999; under "exp" smoothing no precision within the effective order is 0.
        var logSum = 0.0
        for p in precisions[..<order] { logSum += log(p) }
        return bp * exp(logSum / Double(order))
    }

    /// The mteval-v13a tokenization sacrebleu uses by default (`Tokenizer13a`, then `TokenizerRegexp`), applied to
    /// code points exactly as its Python regular expressions are, including `re.sub`'s left-to-right,
    /// non-overlapping scan.
    static func tokenize13a(_ text: CodePoints) -> [CodePoints] {
        var line = text.replacing("<skipped>".codePoints, with: [])
            .replacing("-\n".codePoints, with: [])
            .replacing("\n".codePoints, with: [" "])
        if line.contains("&") {
            line = line.replacing("&quot;".codePoints, with: ["\""])
                .replacing("&amp;".codePoints, with: ["&"])
                .replacing("&lt;".codePoints, with: ["<"])
                .replacing("&gt;".codePoints, with: [">"])
        }
        line = [" "] + line + [" "]
        // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 ": ASCII punctuation except ' , - . (and the space itself).
        var spaced = CodePoints()
        spaced.reserveCapacity(line.count * 2)
        for c in line {
            switch c.value {
            case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F:
                spaced.append(" "); spaced.append(c); spaced.append(" ")
            default:
                spaced.append(c)
            }
        }
        let isPeriodOrComma: (Unicode.Scalar) -> Bool = { $0 == "." || $0 == "," }
        let notDigit: (Unicode.Scalar) -> Bool = { !PythonText.isASCIIDigit($0) }
        // ([^0-9])([\.,]) -> "\1 \2 "   period and comma unless preceded by a digit
        line = substitutePairs(spaced, notDigit, isPeriodOrComma) { [$0, " ", $1, " "] }
        // ([\.,])([^0-9]) -> " \1 \2"   period and comma unless followed by a digit
        line = substitutePairs(line, isPeriodOrComma, notDigit) { [" ", $0, " ", $1] }
        // ([0-9])(-) -> "\1 \2 "        dash when preceded by a digit
        line = substitutePairs(line, PythonText.isASCIIDigit, { $0 == "-" }) { [$0, " ", $1, " "] }
        return PythonText.split(line)
    }

    /// `re.sub` for a pattern of two one-character classes: scan left to right; where both match, emit the
    /// replacement and continue after the pair, so a character consumed by one match cannot start the next.
    private static func substitutePairs(_ s: CodePoints, _ first: (Unicode.Scalar) -> Bool,
                                        _ second: (Unicode.Scalar) -> Bool,
                                        _ replacement: (Unicode.Scalar, Unicode.Scalar) -> CodePoints) -> CodePoints {
        var out = CodePoints()
        out.reserveCapacity(s.count + s.count / 2)
        var i = 0
        while i < s.count {
            if i + 1 < s.count && first(s[i]) && second(s[i + 1]) {
                out.append(contentsOf: replacement(s[i], s[i + 1]))
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
