// The Evals API's `text_similarity` grader: one metric between the rendered input and reference, passing at or
// above pass_threshold. Not `cosine`, which needs an embedding model and is refused with an error here.

public struct TextSimilarity: Sendable, Hashable {
    public enum Metric: String, Sendable, Hashable, CaseIterable {
        case cosine, fuzzyMatch = "fuzzy_match", bleu, gleu, meteor
        case rouge1 = "rouge_1", rouge2 = "rouge_2", rouge3 = "rouge_3", rouge4 = "rouge_4", rouge5 = "rouge_5"
        case rougeL = "rouge_l"

        /// The score in [0, 1]. `fuzzy_match` is rapidfuzz's WRatio: OpenAI documents "fuzzy string match, using
        /// rapidfuzz" without naming the scorer, and WRatio is rapidfuzz's general-purpose one (the default of its
        /// `process` functions). ROUGE uses the Porter stemmer unless `rougeStemming` is false (see `init`).
        /// Clamped to at most 1: sacrebleu's exp(log(100)) makes identical texts score 1.0000000000000004.
        public func score(input: String, reference: String, rougeStemming: Bool = true) throws -> Double {
            min(1, try unclamped(input: input, reference: reference, rougeStemming: rougeStemming))
        }

        private func unclamped(input: String, reference: String, rougeStemming: Bool) throws -> Double {
            switch self {
            case .cosine:
                throw GraderError.unsupportedMetric(
                    "evaluation_metric 'cosine' needs an embedding model, which Tailor's graders do not have yet; "
                    + "use fuzzy_match, bleu, gleu, meteor, rouge_1 … rouge_5 or rouge_l")
            case .fuzzyMatch: return FuzzyMatch.wRatio(input, reference)
            case .bleu: return BLEU.sentence(hypothesis: input, reference: reference)
            case .gleu: return GLEU.sentence(hypothesis: input, reference: reference)
            case .meteor: return METEOR.sentence(hypothesis: input, reference: reference)
            case .rouge1, .rouge2, .rouge3, .rouge4, .rouge5:
                let n = Int(rawValue.dropFirst("rouge_".count))!
                return ROUGE.fMeasure(.n(n), hypothesis: input, reference: reference, useStemmer: rougeStemming)
            case .rougeL:
                return ROUGE.fMeasure(.longestCommonSubsequence, hypothesis: input, reference: reference,
                                      useStemmer: rougeStemming)
            }
        }
    }

    public var name: String
    public var input: String
    public var reference: String
    public var metric: Metric
    /// Required by the Evals API's testing criteria; absent where graders only score (fine-tuning, multi).
    public var passThreshold: Double?
    /// rouge-score's `use_stemmer`. OpenAI does not say which it uses; true follows rouge-score's own documented
    /// usage (`RougeScorer([...], use_stemmer=True)`), which most callers copy. The package default is false.
    public var rougeStemming: Bool

    public init(name: String, input: String, reference: String, metric: Metric, passThreshold: Double? = nil,
                rougeStemming: Bool = true) {
        self.name = name
        self.input = input
        self.reference = reference
        self.metric = metric
        self.passThreshold = passThreshold
        self.rougeStemming = rougeStemming
    }

    public func grade(render: (String) throws -> String) throws -> Grade {
        let score = try metric.score(input: try render(input), reference: try render(reference),
                                     rougeStemming: rougeStemming)
        return Grade(score: score, passed: passThreshold.map { Grade.passes(score, threshold: $0) })
    }
}

public enum GraderError: Error, Equatable, CustomStringConvertible {
    case unsupportedMetric(String)
    case formula(String)
    /// A grading model's answer that cannot be read as the grader's result.
    case modelOutput(String)
    /// A model grader was asked to grade without a model to ask.
    case noGradingModel(String)

    public var description: String {
        switch self {
        case .unsupportedMetric(let message), .formula(let message), .modelOutput(let message): message
        case .noGradingModel(let type): "a \(type) grader needs a grading model, and none was given"
        }
    }
}
