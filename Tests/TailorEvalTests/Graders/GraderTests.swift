// The graders around the metrics: rendering through the caller's function, pass_threshold, cosine refused,
// and a multi grader shaped like OpenAI's documented example.
import Foundation
import Testing
@testable import TailorEval

@Suite struct GraderTests {
    /// Stands in for the jobs layer's template rendering: {{sample.output_text}} and {{item.label}} only.
    private func render(output: String, label: String) -> (String) throws -> String {
        { template in
            template.replacingOccurrences(of: "{{sample.output_text}}", with: output)
                .replacingOccurrences(of: "{{item.label}}", with: label)
        }
    }

    @Test func stringCheckOperations() throws {
        func grade(_ op: StringCheck.Operation, _ output: String, _ label: String) throws -> Grade {
            try StringCheck(name: "c", input: "{{sample.output_text}}", reference: "{{item.label}}", operation: op)
                .grade(render: render(output: output, label: label))
        }
        #expect(try grade(.eq, "Paris", "Paris") == Grade(score: 1, passed: true))
        #expect(try grade(.eq, "Paris", "paris") == Grade(score: 0, passed: false))
        #expect(try grade(.ne, "Paris", "paris") == Grade(score: 1, passed: true))
        #expect(try grade(.like, "It is Paris.", "Paris").score == 1)
        #expect(try grade(.like, "It is PARIS.", "Paris").score == 0)
        #expect(try grade(.ilike, "It is PARIS.", "Paris").score == 1)
        #expect(try grade(.ilike, "ΟΔΟΣ", "οδος").score == 1, "Python's lower() gives a final sigma")
        #expect(try grade(.eq, "Caf\u{E9}", "Cafe\u{301}").score == 0, "code points, not canonical equivalence")
        #expect(try grade(.like, "anything", "").score == 1, "\"\" in s is True")
    }

    @Test func textSimilarityPassesAtTheThreshold() throws {
        let grader = TextSimilarity(name: "t", input: "{{sample.output_text}}", reference: "{{item.label}}",
                                    metric: .fuzzyMatch, passThreshold: 0.8)
        let exact = try grader.grade(render: render(output: "same text", label: "same text"))
        #expect(exact == Grade(score: 1, passed: true))
        let half = try grader.grade(render: render(output: "abcd", label: "abef"))
        #expect(half.score == 0.5 && half.passed == false)
        var atThreshold = grader
        atThreshold.passThreshold = 0.5
        #expect(try atThreshold.grade(render: render(output: "abcd", label: "abef")).passed == true,
                "a score equal to pass_threshold passes")
        var unthresholded = grader
        unthresholded.passThreshold = nil
        #expect(try unthresholded.grade(render: render(output: "abcd", label: "abef")).passed == nil)
    }

    @Test func everyMetricButCosineScores() throws {
        let reference = "The battery on my tracker drains quickly after the update."
        for metric in TextSimilarity.Metric.allCases where metric != .cosine {
            let score = try metric.score(input: "The battery on my tracker drains fast after the update.",
                                         reference: reference)
            #expect(score > 0 && score < 1, "\(metric.rawValue) gave \(score)")
            let same = try metric.score(input: reference, reference: reference)
            // METEOR's fragmentation penalty never reaches 0, even for one chunk covering everything.
            #expect(metric == .meteor ? same > 0.99 && same < 1 : same == 1, "\(metric.rawValue) gave \(same)")
        }
        #expect(throws: GraderError.self) { try TextSimilarity.Metric.cosine.score(input: "a", reference: "a") }
        #expect(TextSimilarity.Metric(rawValue: "rouge_l") == .rougeL)
        #expect(TextSimilarity.Metric(rawValue: "fuzzy_match") == .fuzzyMatch)
    }

    @Test func rougeStemmingIsAChoice() throws {
        let stemmed = try TextSimilarity.Metric.rouge1.score(input: "charging", reference: "charges")
        let plain = try TextSimilarity.Metric.rouge1.score(input: "charging", reference: "charges", rougeStemming: false)
        #expect(stemmed == 1 && plain == 0)
    }

    @Test func multiGraderAsInOpenAIsExample() throws {
        let grader = try MultiGrader(
            name: "sample_multi_grader",
            graders: [
                "ext_text_similarity": .textSimilarity(TextSimilarity(
                    name: "ext_text_similarity", input: "{{sample.output_text}}", reference: "{{item.label}}",
                    metric: .fuzzyMatch)),
                "clause_string_check": .stringCheck(StringCheck(
                    name: "clause_string_check", input: "{{sample.output_text}}", reference: "{{item.label}}",
                    operation: .eq)),
            ],
            calculateOutput: "0.5 * ext_text_similarity + 0.5 * clause_string_check", passThreshold: 0.6)
        let (close, closeScores) = try grader.grade(render: render(output: "abcd", label: "abef"))
        #expect(closeScores == ["ext_text_similarity": 0.5, "clause_string_check": 0])
        #expect(close == Grade(score: 0.25, passed: false))
        let (same, _) = try grader.grade(render: render(output: "abcd", label: "abcd"))
        #expect(same == Grade(score: 1, passed: true))
        #expect(throws: GraderError.self) {
            try MultiGrader(name: "m", graders: [:], calculateOutput: "0.5 * missing")
        }
    }
}
