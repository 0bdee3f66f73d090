// The Evals API's `multi` grader: named string_check and text_similarity graders, combined by a calculate_output
// formula over their scores. Not model or python sub-graders: a model grader is a testing criterion of its own, and
// python graders are refused.

public struct MultiGrader: Sendable, Hashable {
    public enum SubGrader: Sendable, Hashable {
        case stringCheck(StringCheck)
        case textSimilarity(TextSimilarity)

        func grade(render: (String) throws -> String) throws -> Grade {
            switch self {
            case .stringCheck(let g): try g.grade(render: render)
            case .textSimilarity(let g): try g.grade(render: render)
            }
        }
    }

    public var name: String
    /// Keyed by the names `calculate_output` uses, as in OpenAI's `graders: {name: grader}`.
    public var graders: [String: SubGrader]
    public var calculateOutput: Formula
    public var passThreshold: Double?

    /// Fails at once when the formula does not parse or names a grader that is not in `graders`.
    public init(name: String, graders: [String: SubGrader], calculateOutput: String, passThreshold: Double? = nil) throws {
        self.name = name
        self.graders = graders
        self.calculateOutput = try Formula(calculateOutput, variables: Set(graders.keys))
        self.passThreshold = passThreshold
    }

    /// Every sub-grader's score, then the formula over them. The sub-graders' own pass results do not enter.
    public func grade(render: (String) throws -> String) throws -> (grade: Grade, subScores: [String: Double]) {
        var scores: [String: Double] = [:]
        for (key, grader) in graders { scores[key] = try grader.grade(render: render).score }
        let score = try calculateOutput.evaluate(scores)
        return (Grade(score: score, passed: passThreshold.map { Grade.passes(score, threshold: $0) }), scores)
    }
}
