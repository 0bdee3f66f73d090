// The sampling chain and the text stream: seeds, each step's effect, log-probabilities, stop sequences, UTF-8.
import Foundation
import Testing
import TailorEngine

@Suite struct SamplerTests {
    static let logits: [Float] = [2.0, 1.0, 0.5, 3.0, -1.0, 0.0, 2.5, 1.5]

    func draws(_ p: SamplingParameters, _ n: Int = 400, logits: [Float] = logits) -> [Int] {
        var s = Sampler(p)
        return (0..<n).map { _ in logits.withUnsafeBufferPointer { s.sample($0) } }
    }

    @Test func greedyPicksTheLargest() {
        #expect(Set(draws(.greedy, 10)) == [3])
    }

    @Test func theSameSeedGivesTheSameDraws() {
        let p = SamplingParameters(temperature: 1, seed: 42)
        #expect(draws(p) == draws(p))
        var q = p; q.seed = 43
        #expect(draws(p) != draws(q))
    }

    @Test func temperatureFollowsTheSoftmax() {
        let n = 20_000
        let counts = draws(SamplingParameters(temperature: 1, seed: 1), n).reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        let m = Self.logits.max()!
        let z = Self.logits.reduce(0) { $0 + exp(Double($1 - m)) }
        for (i, l) in Self.logits.enumerated() {
            let expected = exp(Double(l - m)) / z
            #expect(abs(Double(counts[i] ?? 0) / Double(n) - expected) < 0.015, "token \(i)")
        }
    }

    @Test func topKAndTopPCutTheTail() {
        #expect(Set(draws(SamplingParameters(temperature: 1, topK: 2, seed: 3))) == [3, 6])
        // softmax of the three best (3.0, 2.5, 2.0) holds ~62 %; top_p 0.5 keeps 3.0 and 2.5 only.
        #expect(Set(draws(SamplingParameters(temperature: 1, topP: 0.5, seed: 4))) == [3, 6])
        #expect(Set(draws(SamplingParameters(temperature: 2, topK: 1, seed: 5))) == [3])
    }

    @Test func penaltiesAndBiasMoveTheChoice() {
        let flat: [Float] = [1, 1, 1, 1]
        var s = Sampler(SamplingParameters(temperature: 0, presencePenalty: 2, logitBias: [2: 0.5]))
        let picks = (0..<4).map { _ in flat.withUnsafeBufferPointer { s.sample($0) } }
        #expect(picks[0] == 2)                    // the bias
        #expect(Set(picks).count == 4)            // presence penalty: each token once before any repeats
        var f = Sampler(SamplingParameters(temperature: 0, frequencyPenalty: 0.3))
        let seq = (0..<6).map { _ in [Float](arrayLiteral: 2, 1.5, 0).withUnsafeBufferPointer { f.sample($0) } }
        #expect(seq == [0, 0, 1, 0, 1, 0])
    }

    /// Over a vocabulary-sized row (the vector path), at two temperatures, the draws follow softmax(logits / T): the
    /// most likely tokens' frequencies, and the mass beyond the top 50.
    @Test(arguments: [Float(1), 0.7]) func wholeVocabularyDrawsFollowTheSoftmax(temperature: Float) {
        var rng = SeededRandom(seed: 13)
        let logits = (0..<49_152).map { _ in rng.nextGaussian() * 2.5 }
        let n = 20_000
        let picks = draws(SamplingParameters(temperature: temperature, seed: 17), n, logits: logits)
        let scaled = logits.map { Double($0 / temperature) }, m = scaled.max()!
        let z = scaled.reduce(0) { $0 + exp($1 - m) }
        let p = scaled.map { exp($0 - m) / z }
        let order = p.indices.sorted { p[$0] > p[$1] }
        let counts = picks.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        for t in order.prefix(5) {
            let f = Double(counts[t] ?? 0) / Double(n), sd = (p[t] * (1 - p[t]) / Double(n)).squareRoot()
            #expect(abs(f - p[t]) <= 5 * sd + 1e-4, "token \(t): \(f) vs \(p[t])")
        }
        let top = Set(order.prefix(50)), tail = order.dropFirst(50).reduce(0.0) { $0 + p[$1] }
        let seenTail = Double(picks.filter { !top.contains($0) }.count) / Double(n)
        #expect(abs(seenTail - tail) <= 5 * (tail * (1 - tail) / Double(n)).squareRoot() + 1e-4, "tail \(seenTail) vs \(tail)")
    }

    /// The whole-vocabulary draw (no top-k or top-p): a token at −∞ (a grammar's mask) or pushed there by a bias is
    /// never drawn, over a vocabulary long enough for the vector path; penalties and biases apply before the draw.
    @Test func maskedTokensAreNeverDrawnAndPenaltiesApply() {
        var logits = (0..<1000).map { Float($0 % 7) * 0.1 }
        for i in stride(from: 0, to: 1000, by: 3) { logits[i] = -.infinity }
        let picks = draws(SamplingParameters(temperature: 1, logitBias: [1: -1000], seed: 11), 3000, logits: logits)
        #expect(!picks.contains { $0 % 3 == 0 || $0 == 1 })
        #expect(Set(picks).count > 300, "draws spread over the allowed tokens")
        // A near-greedy temperature with a presence penalty walks the best tokens in order, as greedy does.
        let best: [Float] = [0, 5, 4, 3] + [Float](repeating: -5, count: 60)
        var s = Sampler(SamplingParameters(temperature: 0.01, presencePenalty: 10, logitBias: [3: 1.5], seed: 12))
        let walk = (0..<3).map { _ in best.withUnsafeBufferPointer { s.sample($0) } }
        #expect(walk == [1, 3, 2])
    }

    @Test func logprobsComeFromTheRawDistribution() {
        let lp = Self.logits.withUnsafeBufferPointer { TokenLogprob(logits: $0, chosen: 6, topCount: 3) }
        let m = Self.logits.max()!
        let logZ = Double(m) + log(Self.logits.reduce(0) { $0 + exp(Double($1 - m)) })
        #expect(abs(Double(lp.logprob) - (2.5 - logZ)) < 1e-5)
        #expect(lp.top.map(\.token) == [3, 6, 0])
    }

    @Test func stopSequencesAreCutAndHeldBack() {
        var s = TextStream(stops: ["END", "\n\n"])
        var out = ""
        for piece in ["Hello", " E", "N", "D more"] { out += s.append(Array(piece.utf8)) }
        #expect(s.stopped && out == "Hello " && s.text == "Hello ")
        var t = TextStream(stops: ["END"])
        var streamed = ""
        for piece in ["ab", "E", "N", "x"] { streamed += t.append(Array(piece.utf8)) }
        streamed += t.finish()
        #expect(!t.stopped && streamed == "abENx")
    }

    @Test func incompleteUTF8IsHeldBack() {
        var s = TextStream(stops: [])
        let bytes = Array("é🙂".utf8)
        #expect(s.append([bytes[0]]) == "")
        #expect(s.append([bytes[1], bytes[2]]) == "é")
        #expect(s.append(Array(bytes[3...4])) == "")
        #expect(s.append(Array(bytes[5...])) == "🙂")
        #expect(s.text == "é🙂")
    }
}
