// The Evals API's `score_model` and `label_model` graders: messages rendered from the item and sample, answered by a
// grading model under a JSON schema (a number in `range`, or one of `labels`), and the answer read back into a score.
// Not the model itself: the caller passes a GradingModel (TailorJobs runs it on the generation thread).
import Foundation

/// What a model grader asks of its model: rendered messages, and the JSON schema the answer must match.
public struct GradingRequest: Sendable {
    public var model: String
    public var messages: [EvalMessage]
    /// JSON Schema text; the answer is constrained to it token by token (structured outputs), so even a small model
    /// answers in a form that can be read.
    public var schema: String
    public var temperature: Double
    public var topP: Double
    public var seed: Int
    public var maxTokens: Int
}

public struct GradingAnswer: Sendable {
    public var text: String
    public var promptTokens: Int
    public var completionTokens: Int
    /// Of the prompt's tokens, those the model's server had cached.
    public var cachedTokens: Int

    public init(text: String, promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0) {
        self.text = text
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
    }
}

/// Generates a grading model's answer. Errors it throws pass through the grader unchanged, so the caller can tell
/// its own conditions (interrupted, model gone) from a grader's.
public protocol GradingModel {
    func answer(_ request: GradingRequest) throws -> GradingAnswer
}

/// One message of an eval template: a role and a content template. `developer` is read as `system`, the part it
/// plays in the chat templates of Tailor's models.
public struct EvalMessage: Sendable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static let roles = ["system", "developer", "user", "assistant"]

    /// A message object of an `input` or `input_messages.template` list: role, and content as a string, an
    /// `input_text`/`output_text` part, or an array of them (joined). The content is returned unrendered.
    public static func parse(_ raw: Any, param: String) throws -> EvalMessage {
        guard let m = raw as? [String: Any] else { throw EvalParameterError.invalid(param, "'\(param)' must be a message object") }
        guard let role = m["role"] as? String else { throw EvalParameterError.missing(param + ".role") }
        guard roles.contains(role) else {
            throw EvalParameterError.invalid(param + ".role", "'\(role)' is not one of \(roles.joined(separator: ", "))")
        }
        return EvalMessage(role: role == "developer" ? "system" : role, content: try content(m["content"], param + ".content"))
    }

    static func content(_ raw: Any?, _ param: String) throws -> String {
        switch raw {
        case let s as String: return s
        case let part as [String: Any]:
            guard let type = part["type"] as? String, ["input_text", "output_text"].contains(type), let text = part["text"] as? String else {
                throw EvalParameterError.invalid(param, "Tailor's models read text only: content must be a string or input_text parts", code: "unsupported_content")
            }
            return text
        case let parts as [Any]:
            return try parts.enumerated().map { try content($1, "\(param)[\($0)]") }.joined()
        case nil: throw EvalParameterError.missing(param)
        default: throw EvalParameterError.invalid(param, "'\(param)' must be a string or an array of input_text parts", code: "invalid_type")
        }
    }
}

public struct ModelGrader: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A number within `range` (OpenAI's default [0, 1]), passing at or above `passThreshold`.
        case score(range: ClosedRange<Double>, passThreshold: Double?)
        /// One of `labels`; passing when it is one of `passing`. The score is 1 for a passing label, else 0.
        case label(labels: [String], passing: [String])
    }

    public var name: String
    public var model: String
    public var kind: Kind
    public var input: [(role: String, content: TemplateString)]
    /// Grading should not depend on luck: temperature 0 (greedy) unless the grader sets one.
    public var temperature = 0.0
    public var topP = 1.0
    public var seed = 42
    /// Enough for `{"score": 0.75}` or the longest label; the schema ends the answer as soon as it is complete.
    public var maxTokens = 64

    public var type: String {
        if case .score = kind { "score_model" } else { "label_model" }
    }

    /// The schema the grading model answers under: `{"score": number}` within the range (bounds are enforced by
    /// the grammar where they are integers, and checked after parsing in any case), or `{"label": one of labels}`.
    public var schema: String {
        let property: [String: Any]
        switch kind {
        case .score(let range, _):
            var number: [String: Any] = ["type": "number"]
            if range.lowerBound == range.lowerBound.rounded() && range.upperBound == range.upperBound.rounded()
                && abs(range.lowerBound) < 1e15 && abs(range.upperBound) < 1e15 {
                number["minimum"] = Int(range.lowerBound)
                number["maximum"] = Int(range.upperBound)
            }
            property = ["score": number]
        case .label(let labels, _):
            property = ["label": ["type": "string", "enum": labels]]
        }
        let schema: [String: Any] = ["type": "object", "properties": property, "required": Array(property.keys),
                                     "additionalProperties": false]
        let data = try! JSONSerialization.data(withJSONObject: schema, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The request for one item: every message rendered (a missing field throws TemplateStringError).
    public func request(_ context: TemplateContext) throws -> GradingRequest {
        GradingRequest(model: model,
                       messages: try input.map { EvalMessage(role: $0.role, content: try $0.content.render(context)) },
                       schema: schema, temperature: temperature, topP: topP, seed: seed, maxTokens: maxTokens)
    }

    /// Reads the model's answer. An answer that is not the schema's object (cut off by maxTokens), or a score
    /// outside the range, is a GraderError: the item errors rather than being scored on a guess.
    public func grade(answer text: String) throws -> Grade {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw GraderError.modelOutput("the grading model's answer \(Self.quote(text)) is not a complete JSON object; raise sampling_params.max_completions_tokens")
        }
        switch kind {
        case .score(let range, let threshold):
            guard let n = object["score"] as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
                throw GraderError.modelOutput("the grading model's answer \(Self.quote(text)) has no numeric score")
            }
            let score = n.doubleValue
            guard range.contains(score) else {
                throw GraderError.modelOutput("the grading model's score \(score) is outside the range [\(range.lowerBound), \(range.upperBound)]")
            }
            return Grade(score: score, passed: threshold.map { Grade.passes(score, threshold: $0) })
        case .label(let labels, let passing):
            guard let label = object["label"] as? String, labels.contains(label) else {
                throw GraderError.modelOutput("the grading model's answer \(Self.quote(text)) is not one of the labels \(labels)")
            }
            let passed = passing.contains(label)
            return Grade(score: passed ? 1 : 0, passed: passed)
        }
    }

    static func quote(_ text: String) -> String { "'\(text.count > 200 ? text.prefix(200) + "…" : text)'" }

    /// Parses a `score_model` or `label_model` grader; errors name the parameter under `param`.
    static func parse(_ json: [String: Any], type: String, name: String, param: String, requireThreshold: Bool) throws -> ModelGrader {
        guard let model = json["model"] as? String, !model.isEmpty else {
            if json["model"] == nil { throw EvalParameterError.missing(param + ".model") }
            throw EvalParameterError.invalid(param + ".model", "'\(param).model' must be a model name: a base model, an ft: model or a checkpoint", code: "invalid_type")
        }
        guard let list = json["input"] as? [Any], !list.isEmpty else {
            if json["input"] == nil { throw EvalParameterError.missing(param + ".input") }
            throw EvalParameterError.invalid(param + ".input", "'\(param).input' must be a non-empty array of messages", code: "invalid_type")
        }
        var input: [(role: String, content: TemplateString)] = []
        for (i, raw) in list.enumerated() {
            let mp = "\(param).input[\(i)]"
            let m = try EvalMessage.parse(raw, param: mp)
            do { input.append((m.role, try TemplateString(m.content))) } catch let e as TemplateStringError {
                throw EvalParameterError.invalid(mp + ".content", e.description)
            }
        }
        let kind: Kind
        if type == "score_model" {
            var range = 0.0...1.0
            if let r = json["range"], !(r is NSNull) {
                guard let pair = r as? [Any], pair.count == 2, let lo = number(pair[0]), let hi = number(pair[1]), lo < hi else {
                    throw EvalParameterError.invalid(param + ".range", "'\(param).range' must be two numbers [min, max] with min < max")
                }
                range = lo...hi
            }
            var threshold: Double?
            if let t = json["pass_threshold"], !(t is NSNull) {
                guard let x = number(t) else {
                    throw EvalParameterError.invalid(param + ".pass_threshold", "'\(param).pass_threshold' must be a number", code: "invalid_type")
                }
                threshold = x
            } else if requireThreshold {
                throw EvalParameterError.missing(param + ".pass_threshold")
            }
            kind = .score(range: range, passThreshold: threshold)
        } else {
            let labels = try strings(json, "labels", param)
            let passing = try strings(json, "passing_labels", param)
            guard Set(labels).count == labels.count else {
                throw EvalParameterError.invalid(param + ".labels", "'\(param).labels' names a label twice")
            }
            if let stray = passing.first(where: { !labels.contains($0) }) {
                throw EvalParameterError.invalid(param + ".passing_labels", "passing label '\(stray)' is not one of the labels \(labels); passing_labels must be a subset of labels")
            }
            kind = .label(labels: labels, passing: passing)
        }
        var grader = ModelGrader(name: name, model: model, kind: kind, input: input)
        if let s = json["sampling_params"], !(s is NSNull) {
            guard let s = s as? [String: Any] else {
                throw EvalParameterError.invalid(param + ".sampling_params", "'\(param).sampling_params' must be an object", code: "invalid_type")
            }
            let sp = param + ".sampling_params."
            func value(_ key: String, _ range: ClosedRange<Double>, integer: Bool = false) throws -> Double? {
                guard let v = s[key], !(v is NSNull) else { return nil }
                guard let x = number(v), !integer || x == x.rounded() else {
                    throw EvalParameterError.invalid(sp + key, "'\(sp + key)' must be \(integer ? "an integer" : "a number")", code: "invalid_type")
                }
                guard range.contains(x) else {
                    throw EvalParameterError.invalid(sp + key, "'\(sp + key)' must be between \(range.lowerBound) and \(range.upperBound); got \(x)")
                }
                return x
            }
            if let t = try value("temperature", 0...2) { grader.temperature = t }
            if let t = try value("top_p", 0...1) { grader.topP = t }
            if let t = try value("seed", -9e15...9e15, integer: true) { grader.seed = Int(t) }
            // OpenAI spells it max_completions_tokens here (and max_completion_tokens elsewhere); both are read.
            for key in ["max_completions_tokens", "max_completion_tokens"] {
                if let t = try value(key, 1...4096, integer: true) { grader.maxTokens = Int(t) }
            }
        }
        return grader
    }

    private static func number(_ v: Any) -> Double? {
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else { return nil }
        return n.doubleValue
    }

    private static func strings(_ json: [String: Any], _ key: String, _ param: String) throws -> [String] {
        guard let v = json[key] else { throw EvalParameterError.missing(param + "." + key) }
        guard let list = v as? [Any], !list.isEmpty, let strings = list as? [String], strings.allSatisfy({ !$0.isEmpty }) else {
            throw EvalParameterError.invalid(param + "." + key, "'\(param).\(key)' must be a non-empty array of non-empty strings", code: "invalid_type")
        }
        return strings
    }
}
