// Every text metric against what the real Python packages computed on the same pairs
// (Fixtures/metrics_reference.json, written by Tests/reference/eval_metrics.py). Needs no Python at test time.
import Foundation
import Testing
@testable import TailorEval

/// Each fixture key with the Swift function that must reproduce it.
enum ReferenceMetric: String, CaseIterable, CustomStringConvertible {
    case fuzzWRatio = "fuzz_wratio", fuzzRatio = "fuzz_ratio", fuzzPartialRatio = "fuzz_partial_ratio"
    case bleu, gleu, meteor
    case rouge1, rouge2, rouge3, rouge4, rouge5, rougeL
    case rouge1NoStem = "rouge1_nostem", rouge2NoStem = "rouge2_nostem", rouge3NoStem = "rouge3_nostem"
    case rouge4NoStem = "rouge4_nostem", rouge5NoStem = "rouge5_nostem", rougeLNoStem = "rougeL_nostem"
    case eq, ne, like, ilike

    var description: String { rawValue }

    func compute(input: String, reference: String) -> Double {
        switch self {
        case .fuzzWRatio: FuzzyMatch.wRatio(input, reference)
        case .fuzzRatio: FuzzyMatch.ratio(input, reference)
        case .fuzzPartialRatio: FuzzyMatch.partialRatio(input, reference)
        case .bleu: BLEU.sentence(hypothesis: input, reference: reference)
        case .gleu: GLEU.sentence(hypothesis: input, reference: reference)
        case .meteor: METEOR.sentence(hypothesis: input, reference: reference)
        case .rouge1, .rouge2, .rouge3, .rouge4, .rouge5, .rougeL,
             .rouge1NoStem, .rouge2NoStem, .rouge3NoStem, .rouge4NoStem, .rouge5NoStem, .rougeLNoStem:
            rouge(input: input, reference: reference)
        case .eq: StringCheck.Operation.eq.score(input: input, reference: reference)
        case .ne: StringCheck.Operation.ne.score(input: input, reference: reference)
        case .like: StringCheck.Operation.like.score(input: input, reference: reference)
        case .ilike: StringCheck.Operation.ilike.score(input: input, reference: reference)
        }
    }

    private func rouge(input: String, reference: String) -> Double {
        let name = rawValue.replacingOccurrences(of: "_nostem", with: "")
        let kind: ROUGE.Kind = name == "rougeL" ? .longestCommonSubsequence : .n(Int(name.dropFirst(5))!)
        return ROUGE.fMeasure(kind, hypothesis: input, reference: reference, useStemmer: !rawValue.hasSuffix("_nostem"))
    }
}

@Suite struct MetricsReferenceTests {
    @Test func fixtureCoversTheCorpus() {
        let cases = ReferenceFixture.shared.cases
        #expect(cases.count >= 300, "the fixture should hold the whole corpus; regenerate it with eval_metrics.py")
        for metric in ReferenceMetric.allCases {
            #expect(cases.allSatisfy { $0[metric.rawValue]?.number != nil }, "every case carries \(metric)")
        }
        // A comparison over values that are all 0 or all 1 would prove little: most scores must be strictly between.
        for metric in [ReferenceMetric.fuzzWRatio, .bleu, .gleu, .meteor, .rouge1, .rougeL] {
            let partial = cases.filter { ($0[metric.rawValue]?.number).map { $0 > 0 && $0 < 1 } ?? false }
            #expect(partial.count > cases.count / 2, "\(metric): only \(partial.count) scores strictly inside (0, 1)")
        }
    }

    @Test(arguments: ReferenceMetric.allCases)
    func agreesWithReference(_ metric: ReferenceMetric) {
        var compared = 0, maxError = 0.0
        var failures: [String] = []
        for c in ReferenceFixture.shared.cases {
            guard let input = c["input"]?.text, let reference = c["reference"]?.text,
                  let expected = c[metric.rawValue]?.number else {
                Issue.record("case without input, reference or \(metric)")
                continue
            }
            let actual = metric.compute(input: input, reference: reference)
            let error = abs(actual - expected)
            maxError = max(maxError, error)
            compared += 1
            if !(error <= 1e-6) && failures.count < 5 {
                failures.append("\(metric) \(actual) vs \(expected) for input \(input.debugDescription.prefix(120)) "
                                + "reference \(reference.debugDescription.prefix(120))")
            }
        }
        print("TailorEval \(metric): \(compared) cases, max |error| \(maxError)")
        #expect(compared == ReferenceFixture.shared.cases.count)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
