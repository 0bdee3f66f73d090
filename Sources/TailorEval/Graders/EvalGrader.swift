// A grader as the Evals and graders APIs send it (`{"type": "string_check", …}`), parsed into TailorEval's graders
// with errors that name the offending parameter, and graded against an item and a sample. Model graders ask the
// GradingModel the caller passes. Not python graders: they are refused by name, since Tailor has no sandbox.
import Foundation

public enum EvalGrader: Sendable {
    case stringCheck(StringCheck, templates: [TemplateString])
    case textSimilarity(TextSimilarity, templates: [TemplateString])
    case multi(MultiGrader, templates: [TemplateString])
    case model(ModelGrader, templates: [TemplateString])

    public static let supportedTypes = ["string_check", "text_similarity", "multi", "score_model", "label_model"]
    static let refusedTypes: [String: String] = [
        "python": "it needs a sandbox for the grading code, which Tailor does not have yet",
        "endpoint": "it calls an outside service, which Tailor does not do",
    ]

    public var name: String {
        switch self {
        case .stringCheck(let g, _): g.name
        case .textSimilarity(let g, _): g.name
        case .multi(let g, _): g.name
        case .model(let g, _): g.name
        }
    }

    public var type: String {
        switch self {
        case .stringCheck: "string_check"
        case .textSimilarity: "text_similarity"
        case .multi: "multi"
        case .model(let g, _): g.type
        }
    }

    /// Every template string the grader reads, for checking their references before any item is graded.
    public var templates: [TemplateString] {
        switch self {
        case .stringCheck(_, let t), .textSimilarity(_, let t), .multi(_, let t), .model(_, let t): t
        }
    }

    /// The grading model a model grader names (nil for the others), for checking it exists.
    public var gradingModel: String? {
        if case .model(let g, _) = self { g.model } else { nil }
    }

    /// What the grader gave one item: the score, whether it passed (nil where the grader sets no threshold), and
    /// a multi grader's sub-scores.
    public struct Result: Sendable {
        public var score: Double
        public var passed: Bool?
        public var subScores: [String: Double]
        /// A model grader's answer (its text and tokens), reported as the result's sample and in the model usage.
        public var answer: GradingAnswer?
    }

    /// Renders the grader's templates from `context`, then scores. A missing field or a bad formula result throws;
    /// a model grader asks `model` (without one it throws GraderError.noGradingModel), and its errors pass through.
    public func grade(_ context: TemplateContext, model: (any GradingModel)? = nil) throws -> Result {
        var cache: [String: String] = [:]
        let render: (String) throws -> String = { source in
            if let hit = cache[source] { return hit }
            let text = try TemplateString(source).render(context)
            cache[source] = text
            return text
        }
        switch self {
        case .stringCheck(let g, _):
            let grade = try g.grade(render: render)
            return Result(score: grade.score, passed: grade.passed, subScores: [:], answer: nil)
        case .textSimilarity(let g, _):
            let grade = try g.grade(render: render)
            return Result(score: grade.score, passed: grade.passed, subScores: [:], answer: nil)
        case .multi(let g, _):
            let (grade, scores) = try g.grade(render: render)
            return Result(score: grade.score, passed: grade.passed, subScores: scores, answer: nil)
        case .model(let g, _):
            guard let model else { throw GraderError.noGradingModel(g.type) }
            let answer = try model.answer(try g.request(context))
            let grade = try g.grade(answer: answer.text)
            return Result(score: grade.score, passed: grade.passed, subScores: [:], answer: answer)
        }
    }

    /// Parses one grader. `param` is where it sits in the request (`testing_criteria[0]`, `grader`), so errors can
    /// name the exact field; `requireThreshold` is true for testing criteria, whose pass/fail needs one.
    public static func parse(_ json: [String: Any], param: String, requireThreshold: Bool,
                             nested: Bool = false) throws -> EvalGrader {
        guard let type = json["type"] as? String else { throw EvalParameterError.missing(param + ".type") }
        let name = try string(json, "name", param)
        switch type {
        case "string_check":
            let input = try string(json, "input", param), reference = try string(json, "reference", param)
            let op = try string(json, "operation", param)
            guard let operation = StringCheck.Operation(rawValue: op) else {
                throw EvalParameterError.invalid(param + ".operation", "'\(op)' is not a string_check operation; use eq, ne, like or ilike")
            }
            return .stringCheck(StringCheck(name: name, input: input, reference: reference, operation: operation),
                                templates: try templates([input, reference], param, ["input", "reference"]))
        case "text_similarity":
            let input = try string(json, "input", param), reference = try string(json, "reference", param)
            let m = try string(json, "evaluation_metric", param)
            guard let metric = TextSimilarity.Metric(rawValue: m) else {
                let known = TextSimilarity.Metric.allCases.map(\.rawValue).joined(separator: ", ")
                throw EvalParameterError.invalid(param + ".evaluation_metric", "'\(m)' is not an evaluation_metric; use one of \(known)")
            }
            if metric == .cosine {
                throw EvalParameterError.invalid(param + ".evaluation_metric",
                    "evaluation_metric 'cosine' needs an embedding model, which Tailor's graders do not have yet; use fuzzy_match, bleu, gleu, meteor, rouge_1 … rouge_5 or rouge_l",
                    code: "unsupported_value")
            }
            let threshold = try passThreshold(json, param, required: requireThreshold)
            return .textSimilarity(TextSimilarity(name: name, input: input, reference: reference, metric: metric,
                                                  passThreshold: threshold),
                                   templates: try templates([input, reference], param, ["input", "reference"]))
        case "multi":
            guard !nested else { throw EvalParameterError.invalid(param + ".type", "a multi grader cannot contain another multi grader", code: "unsupported_value") }
            let subs = try subGraders(json["graders"], param + ".graders")
            guard let formula = json["calculate_output"] as? String else { throw EvalParameterError.missing(param + ".calculate_output") }
            let threshold = try passThreshold(json, param, required: requireThreshold)
            var graders: [String: MultiGrader.SubGrader] = [:]
            var all: [TemplateString] = []
            for (key, sub) in subs {
                all += sub.templates
                switch sub {
                case .stringCheck(let g, _): graders[key] = .stringCheck(g)
                case .textSimilarity(let g, _): graders[key] = .textSimilarity(g)
                case .multi, .model: break
                }
            }
            do {
                return .multi(try MultiGrader(name: name, graders: graders, calculateOutput: formula, passThreshold: threshold),
                              templates: all)
            } catch let e as GraderError {
                throw EvalParameterError.invalid(param + ".calculate_output", e.description)
            }
        case "score_model", "label_model":
            let g = try ModelGrader.parse(json, type: type, name: name, param: param, requireThreshold: requireThreshold)
            return .model(g, templates: g.input.map(\.content))
        default:
            if let why = refusedTypes[type] {
                throw EvalParameterError.invalid(param + ".type", "Tailor does not support '\(type)' graders yet: \(why). Supported grader types: \(supportedTypes.joined(separator: ", ")).", code: "unsupported_grader")
            }
            throw EvalParameterError.invalid(param + ".type", "'\(type)' is not a grader type; use one of \(supportedTypes.joined(separator: ", ")).")
        }
    }

    /// OpenAI's SDKs send `graders` as an object of named graders; a list (keyed by each grader's name) and a
    /// single grader (the published schema's shape, keyed by its name) are read too.
    private static func subGraders(_ raw: Any?, _ param: String) throws -> [(String, EvalGrader)] {
        func one(_ any: Any, _ p: String) throws -> EvalGrader {
            guard let d = any as? [String: Any] else { throw EvalParameterError.invalid(p, "'\(p)' must be a grader object") }
            let g = try parse(d, param: p, requireThreshold: false, nested: true)
            if case .model = g {
                throw EvalParameterError.invalid(p + ".type", "a multi grader combines string_check and text_similarity graders; use a \(g.type) grader as a testing criterion of its own", code: "unsupported_grader")
            }
            return g
        }
        switch raw {
        case let d as [String: Any] where d["type"] is String:
            let g = try one(d, param)
            return [(g.name, g)]
        case let d as [String: Any] where !d.isEmpty:
            return try d.keys.sorted().map { ($0, try one(d[$0]!, param + "." + $0)) }
        case let list as [Any] where !list.isEmpty:
            return try list.enumerated().map { i, g in let parsed = try one(g, "\(param)[\(i)]"); return (parsed.name, parsed) }
        case nil: throw EvalParameterError.missing(param)
        default: throw EvalParameterError.invalid(param, "'\(param)' must be a non-empty object of named graders")
        }
    }

    private static func string(_ json: [String: Any], _ key: String, _ param: String) throws -> String {
        guard let v = json[key] else { throw EvalParameterError.missing(param + "." + key) }
        guard let s = v as? String else { throw EvalParameterError.invalid(param + "." + key, "'\(param).\(key)' must be a string", code: "invalid_type") }
        return s
    }

    private static func passThreshold(_ json: [String: Any], _ param: String, required: Bool) throws -> Double? {
        guard let v = json["pass_threshold"], !(v is NSNull) else {
            if required { throw EvalParameterError.missing(param + ".pass_threshold") }
            return nil
        }
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
            throw EvalParameterError.invalid(param + ".pass_threshold", "'\(param).pass_threshold' must be a number", code: "invalid_type")
        }
        return n.doubleValue
    }

    private static func templates(_ sources: [String], _ param: String, _ keys: [String]) throws -> [TemplateString] {
        try zip(sources, keys).map { source, key in
            do { return try TemplateString(source) } catch let e as TemplateStringError {
                throw EvalParameterError.invalid(param + "." + key, e.description)
            }
        }
    }
}

/// A grader or run request that cannot be used, with the parameter to name in OpenAI's error body.
public struct EvalParameterError: Error, CustomStringConvertible {
    public let param: String
    public let message: String
    public let code: String

    public static func missing(_ param: String) -> EvalParameterError {
        EvalParameterError(param: param, message: "Missing required parameter: '\(param)'.", code: "missing_required_parameter")
    }

    public static func invalid(_ param: String, _ message: String, code: String = "invalid_value") -> EvalParameterError {
        EvalParameterError(param: param, message: message.hasSuffix(".") ? message : message + ".", code: code)
    }

    public var description: String { message }
}
