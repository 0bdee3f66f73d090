// Sentence GLEU (Google BLEU, Wu et al. 2016) as nltk's `sentence_gleu([reference], hypothesis)` computes it with
// n-grams of order 1 to 4, on `str.split()` tokens. Not the GLEU of grammatical error correction (Napoles et al.).

public enum GLEU {
    /// min(precision, recall) over all 1- to 4-grams: matched n-grams / max(hypothesis n-grams, reference n-grams),
    /// 0 when both texts have no tokens.
    public static func sentence(hypothesis: String, reference: String) -> Double {
        var interner = TokenInterner()
        let hyp = ngramCounts(interner.ids(PythonText.split(hypothesis.unicodeScalars)), orders: 1...4)
        let ref = ngramCounts(interner.ids(PythonText.split(reference.unicodeScalars)), orders: 1...4)
        let hypTotal = hyp.values.reduce(0, +)
        let refTotal = ref.values.reduce(0, +)
        var matched = 0
        for (ngram, count) in hyp { matched += min(count, ref[ngram] ?? 0) }
        let all = max(hypTotal, refTotal)
        return all > 0 ? Double(matched) / Double(all) : 0
    }
}
