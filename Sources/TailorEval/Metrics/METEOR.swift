// METEOR as nltk's `meteor_score([reference.split()], hypothesis.split())` computes it (alpha 0.9, beta 3,
// gamma 0.5; lowercased; exact, then Porter-stem alignment stages). Not METEOR 1.5 with paraphrase tables.
//
// WordNet: nltk's third stage also pairs WordNet synonyms. nltk downloads WordNet's data from GitHub (no PyPI
// package carries it in nltk's form, and this workplace reaches only PyPI), and at about 30 MB unpacked it is too big
// to ship in the repository, so this METEOR has no synonym stage. Where nltk with WordNet would pair a word with a
// synonym ("help"/"assist") this scores lower (one match fewer, maybe one chunk more); it never scores higher, and on
// text without such pairs it is the same. The fixture is made with a WordNet that knows no synonyms, so they agree.

import Foundation

public enum METEOR {
    static let alpha = 0.9, beta = 3.0, gamma = 0.5

    public static func sentence(hypothesis: String, reference: String) -> Double {
        let hyp = PythonText.split(hypothesis.unicodeScalars).map(PythonText.lower)
        let ref = PythonText.split(reference.unicodeScalars).map(PythonText.lower)
        var h = Array(hyp.enumerated().map { ($0.offset, $0.element) })
        var r = Array(ref.enumerated().map { ($0.offset, $0.element) })
        var matches = match(&h, &r)
        let stemmer = PorterStemmer()
        var hStems = h.map { ($0.0, stemmer.stem($0.1)) }
        var rStems = r.map { ($0.0, stemmer.stem($0.1)) }
        matches += match(&hStems, &rStems)
        guard !matches.isEmpty, !hyp.isEmpty, !ref.isEmpty else { return 0 }
        matches.sort { $0.0 < $1.0 }

        let m = Double(matches.count)
        let precision = m / Double(hyp.count)
        let recall = m / Double(ref.count)
        let fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
        var chunks = 1
        for k in matches.indices.dropLast() where !(matches[k + 1].0 == matches[k].0 + 1 && matches[k + 1].1 == matches[k].1 + 1) {
            chunks += 1
        }
        let penalty = gamma * pow(Double(chunks) / m, beta)
        return (1 - penalty) * fmean
    }

    /// nltk's `_match_enums`: from the last hypothesis word backwards, pair it with the last still-unpaired
    /// reference word of the same form; returns (hypothesis index, reference index) pairs and removes them from both.
    private static func match(_ hyp: inout [(Int, CodePoints)], _ ref: inout [(Int, CodePoints)]) -> [(Int, Int)] {
        var positions: [CodePoints: [Int]] = [:]
        for (j, pair) in ref.enumerated() { positions[pair.1, default: []].append(j) }
        var pairs: [(Int, Int)] = []
        var usedHyp = Set<Int>(), usedRef = Set<Int>()
        for i in hyp.indices.reversed() {
            guard let j = positions[hyp[i].1]?.popLast() else { continue }
            usedHyp.insert(i)
            usedRef.insert(j)
            pairs.append((hyp[i].0, ref[j].0))
        }
        hyp = hyp.enumerated().filter { !usedHyp.contains($0.offset) }.map(\.element)
        ref = ref.enumerated().filter { !usedRef.contains($0.offset) }.map(\.element)
        return pairs
    }
}
