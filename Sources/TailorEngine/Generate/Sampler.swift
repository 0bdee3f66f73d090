// Token sampling as a chain of small steps behind one protocol (after llama.cpp's llama_sampler_chain):
// penalties → logit bias → temperature → top-k → top-p → a seeded draw. Temperature 0 is greedy.
// Log-probabilities are reported from the model's raw distribution, before any step changes it.
import CKernels
import Foundation

public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 1
    public var topP: Float = 1
    public var topK: Int = 0                 // 0: off
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    public var logitBias: [Int: Float] = [:]
    public var seed: UInt64 = 0
    public init(temperature: Float = 1, topP: Float = 1, topK: Int = 0, presencePenalty: Float = 0,
                frequencyPenalty: Float = 0, logitBias: [Int: Float] = [:], seed: UInt64 = 0) {
        self.temperature = temperature; self.topP = topP; self.topK = topK; self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty; self.logitBias = logitBias; self.seed = seed
    }
    public static let greedy = SamplingParameters(temperature: 0)
}

/// The candidates a step sees: token ids with their current logits, possibly already cut down.
public struct Candidates {
    public var ids: [Int]
    public var logits: [Float]
    /// Whether `ids` is sorted by descending logit.
    public var sorted = false

    mutating func sortDescending() {
        guard !sorted else { return }
        let order = ids.indices.sorted { logits[$0] > logits[$1] }
        ids = order.map { ids[$0] }
        logits = order.map { logits[$0] }
        sorted = true
    }
}

public protocol SamplingStep {
    mutating func apply(_ c: inout Candidates, history: TokenCounts)
}

/// How often each token was generated so far in this completion (OpenAI's penalties count generated tokens).
public struct TokenCounts: Sendable {
    public private(set) var counts: [Int: Int] = [:]
    public init() {}
    public mutating func add(_ token: Int) { counts[token, default: 0] += 1 }
}

/// A step that only moves logits by token id (penalties, biases). It runs first, on the whole vocabulary, so it acts
/// on a raw logits buffer whose indices are the token ids: the general chain passes its candidates' logits, the
/// whole-vocabulary draw its weights buffer.
protocol LogitAdjustment: SamplingStep {
    func adjust(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenCounts)
}

extension LogitAdjustment {
    func apply(_ c: inout Candidates, history: TokenCounts) {
        assert(!c.sorted && c.ids.count == c.logits.count && c.ids.last.map { $0 == c.ids.count - 1 } ?? true,
                     "logit adjustments run before any step cuts or reorders the candidates")
        c.logits.withUnsafeMutableBufferPointer { adjust($0, history: history) }
    }
}

struct PenaltyStep: LogitAdjustment {
    let presence: Float, frequency: Float
    func adjust(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenCounts) {
        guard presence != 0 || frequency != 0 else { return }
        for (token, n) in history.counts where token < logits.count { logits[token] -= Float(n) * frequency + presence }
    }
}

struct LogitBiasStep: LogitAdjustment {
    let bias: [Int: Float]
    func adjust(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenCounts) {
        for (token, b) in bias where token < logits.count { logits[token] += b }
    }
}

struct TemperatureStep: SamplingStep {
    let temperature: Float
    func apply(_ c: inout Candidates, history: TokenCounts) {
        let inv = 1 / temperature
        for i in c.logits.indices { c.logits[i] *= inv }
    }
}

struct TopKStep: SamplingStep {
    let k: Int
    func apply(_ c: inout Candidates, history: TokenCounts) {
        guard k > 0, k < c.ids.count else { return }
        // Partial selection: keep the k largest without sorting the whole vocabulary.
        let threshold = c.logits.sorted(by: >)[k - 1]
        var ids: [Int] = [], logits: [Float] = []
        for i in c.ids.indices where c.logits[i] >= threshold && ids.count < k { ids.append(c.ids[i]); logits.append(c.logits[i]) }
        c = Candidates(ids: ids, logits: logits)
    }
}

struct TopPStep: SamplingStep {
    let p: Float
    func apply(_ c: inout Candidates, history: TokenCounts) {
        guard p < 1 else { return }
        c.sortDescending()
        let probs = softmax(c.logits)
        var cumulative: Float = 0
        var keep = c.ids.count
        for (i, q) in probs.enumerated() {
            cumulative += q
            if cumulative >= p { keep = i + 1; break }
        }
        c.ids.removeLast(c.ids.count - keep)
        c.logits.removeLast(c.logits.count - keep)
    }
}

func softmax(_ logits: [Float]) -> [Float] {
    guard let m = logits.max() else { return [] }
    var e = logits.map { exp($0 - m) }
    let s = e.reduce(0, +)
    for i in e.indices { e[i] /= s }
    return e
}

/// One sequence's sampler: its chain and its random stream.
public struct Sampler {
    public let parameters: SamplingParameters
    /// Penalties and biases, applied first to the whole vocabulary.
    private var adjustments: [any LogitAdjustment] = []
    /// Temperature, top-k, top-p: the steps after them (none when greedy).
    private var steps: [any SamplingStep] = []
    private var rng: SeededRandom
    public private(set) var history = TokenCounts()
    /// Whether the chain keeps the whole vocabulary (no top-k or top-p): then a draw needs no candidate list.
    private let wholeVocabulary: Bool
    /// The draw's weights over the vocabulary, reused from call to call.
    private var weights: [Float] = []

    public init(_ p: SamplingParameters) {
        parameters = p
        rng = SeededRandom(seed: p.seed)
        if p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            adjustments.append(PenaltyStep(presence: p.presencePenalty, frequency: p.frequencyPenalty))
        }
        if !p.logitBias.isEmpty { adjustments.append(LogitBiasStep(bias: p.logitBias)) }
        if p.temperature > 0 {
            steps.append(TemperatureStep(temperature: p.temperature))
            if p.topK > 0 { steps.append(TopKStep(k: p.topK)) }
            if p.topP < 1 { steps.append(TopPStep(p: p.topP)) }
        }
        wholeVocabulary = p.temperature > 0 && p.topK <= 0 && p.topP >= 1
    }

    /// Picks the next token from one row of logits and records it for the penalties.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        let token: Int
        if parameters.temperature <= 0 && adjustments.isEmpty {
            token = argmax(logits)
        } else if wholeVocabulary {
            token = drawFromWholeVocabulary(logits)
        } else {
            var c = Candidates(ids: Array(0..<logits.count), logits: Array(logits))
            for a in adjustments { a.apply(&c, history: history) }
            for i in steps.indices { steps[i].apply(&c, history: history) }
            if parameters.temperature <= 0 {
                token = c.ids[c.logits.indices.max { c.logits[$0] < c.logits[$1] }!]
            } else {
                let probs = softmax(c.logits)
                let r = rng.nextUnitFloat()
                var cumulative: Float = 0
                var chosen = c.ids[c.ids.count - 1]
                for (i, q) in probs.enumerated() {
                    cumulative += q
                    if r < cumulative { chosen = c.ids[i]; break }
                }
                token = chosen
            }
        }
        history.add(token)
        return token
    }

    /// A draw from softmax(logits / T) after the penalties and biases, with no candidate list: the weights
    /// exp(l/T − max/T) in one vector pass (the sum in double), then the first token whose running sum passes
    /// r·Σ. The sampling of a 16-sequence decode step was ~8 % of it with the general chain's arrays and scalar exp.
    private mutating func drawFromWholeVocabulary(_ logits: UnsafeBufferPointer<Float>) -> Int {
        let n = logits.count
        if weights.count != n { weights = [Float](repeating: 0, count: n) }
        let r = rng.nextUnitFloat()
        let history = self.history, adjustments = self.adjustments
        return weights.withUnsafeMutableBufferPointer { w -> Int in
            let wp = w.baseAddress!
            wp.update(from: logits.baseAddress!, count: n)
            for a in adjustments { a.adjust(w, history: history) }
            var m = -Float.infinity
            for i in 0..<n where wp[i] > m { m = wp[i] }
            let inv = 1 / parameters.temperature
            let total = tk_exp_scaled_sum(wp, Int64(n), inv, m * inv)
            let target = Double(r) * total
            var cumulative = 0.0, last = 0
            for i in 0..<n where wp[i] > 0 {
                cumulative += Double(wp[i]); last = i
                if target < cumulative { return i }
            }
            return last
        }
    }

    func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<x.count where x[i] > bestValue { bestValue = x[i]; best = i }
        return best
    }
}

/// The log-probability of a token and of the most likely alternatives, from raw logits.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int
    public var logprob: Float
    public var top: [(token: Int, logprob: Float)]
    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token)
    }

    public init(logits: UnsafeBufferPointer<Float>, chosen: Int, topCount: Int) {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        var s: Double = 0
        for v in logits { s += Double(exp(v - m)) }
        let logZ = m + Float(log(s))
        token = chosen
        logprob = logits[chosen] - logZ
        var best: [(Int, Float)] = []
        if topCount > 0 {
            for i in 0..<logits.count {
                let v = logits[i]
                if best.count < topCount || v > best[best.count - 1].1 {
                    let at = best.firstIndex { v > $0.1 } ?? best.count
                    best.insert((i, v), at: at)
                    if best.count > topCount { best.removeLast() }
                }
            }
        }
        top = best.map { ($0.0, $0.1 - logZ) }
    }
}
