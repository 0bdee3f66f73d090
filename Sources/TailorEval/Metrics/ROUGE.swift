// ROUGE-N (N = 1…5) and ROUGE-L F-measures as Google's rouge-score package computes them
// (`RougeScorer([...], use_stemmer:).score(reference, input)`), with its tokenizer. Not ROUGE-Lsum, not the Perl ROUGE.

public enum ROUGE {
    public enum Kind: Sendable, Hashable {
        case n(Int)        // rouge1 … rouge5
        case longestCommonSubsequence   // rougeL
    }

    /// The F-measure (what the Evals grader reports): 2PR/(P+R), 0 when nothing matches.
    public static func fMeasure(_ kind: Kind, hypothesis: String, reference: String, useStemmer: Bool) -> Double {
        var interner = TokenInterner()
        let target = interner.ids(tokenize(reference, useStemmer: useStemmer))
        let prediction = interner.ids(tokenize(hypothesis, useStemmer: useStemmer))
        switch kind {
        case .n(let n):
            let t = ngramCounts(target, orders: n...n)
            let p = ngramCounts(prediction, orders: n...n)
            var overlap = 0
            for (ngram, count) in t { overlap += min(count, p[ngram] ?? 0) }
            let precision = Double(overlap) / Double(max(p.values.reduce(0, +), 1))
            let recall = Double(overlap) / Double(max(t.values.reduce(0, +), 1))
            return f(precision, recall)
        case .longestCommonSubsequence:
            guard !target.isEmpty && !prediction.isEmpty else { return 0 }
            let lcs = Double(lcsLength(target, prediction))
            return f(lcs / Double(prediction.count), lcs / Double(target.count))
        }
    }

    private static func f(_ precision: Double, _ recall: Double) -> Double {
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    /// rouge-score's tokenizer: Python-lowercase, every run of characters outside [a-z0-9] is a separator (so
    /// accented and non-Latin letters vanish), and with the stemmer, tokens longer than 3 characters are stemmed.
    static func tokenize(_ text: String, useStemmer: Bool) -> [CodePoints] {
        var tokens: [CodePoints] = []
        var current = CodePoints()
        for c in PythonText.lower(text.codePoints) {
            if (c.value >= 0x61 && c.value <= 0x7A) || PythonText.isASCIIDigit(c) {
                current.append(c)
            } else if !current.isEmpty {
                tokens.append(current)
                current = []
            }
        }
        if !current.isEmpty { tokens.append(current) }
        guard useStemmer else { return tokens }
        let stemmer = PorterStemmer()
        return tokens.map { $0.count > 3 ? stemmer.stem($0) : $0 }.filter { !$0.isEmpty }
    }

    /// Length of the longest common subsequence, one row at a time.
    static func lcsLength(_ a: [Int], _ b: [Int]) -> Int {
        guard !a.isEmpty && !b.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: b.count + 1)
        var current = previous
        for x in a {
            for j in 1...b.count {
                current[j] = x == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
