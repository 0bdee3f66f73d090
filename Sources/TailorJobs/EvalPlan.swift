// What an eval run needs to execute, read from the JSON the API accepted and stored: the completions data source's
// prompt template and sampling parameters, and the eval's testing criteria. The API parses with these same functions
// when a run is created, so a request that passed there cannot fail here for a new reason.
import Foundation
import TailorEval

/// The `completions` data source: a model, the `input_messages` template and `sampling_params`.
public struct EvalCompletionsPlan: Sendable {
    public struct Message: Sendable {
        public var role: String
        public var content: TemplateString
    }

    public var model: String
    public var messages: [Message]
    /// OpenAI's documented defaults: temperature 1, top_p 1, seed 42; no max_completion_tokens means the model's
    /// context decides (capped by `defaultMaxTokens`).
    public var temperature = 1.0
    public var topP = 1.0
    public var seed = 42
    public var maxCompletionTokens: Int?

    /// A run that names no max_completion_tokens stops here: an eval of many items should not wander to the end of
    /// the context on each.
    public static let defaultMaxTokens = 2048
    static let roles = ["system", "developer", "user", "assistant"]

    /// Parses `data_source` (type `completions`); every error names its parameter under `data_source.`.
    public static func parse(_ source: [String: Any]) throws -> EvalCompletionsPlan {
        let p = "data_source."
        guard let model = source["model"] as? String, !model.isEmpty else { throw EvalParameterError.missing(p + "model") }
        guard let input = source["input_messages"] as? [String: Any] else { throw EvalParameterError.missing(p + "input_messages") }
        let type = input["type"] as? String
        guard type == "template" else {
            throw EvalParameterError.invalid(p + "input_messages.type", "Tailor supports input_messages of type 'template'; '\(type ?? "none")' is not supported yet", code: "unsupported_value")
        }
        guard let template = input["template"] as? [Any], !template.isEmpty else {
            throw EvalParameterError.invalid(p + "input_messages.template", "'\(p)input_messages.template' must be a non-empty array of messages")
        }
        var messages: [Message] = []
        for (i, raw) in template.enumerated() {
            let mp = "\(p)input_messages.template[\(i)]"
            guard let m = raw as? [String: Any] else { throw EvalParameterError.invalid(mp, "'\(mp)' must be a message object") }
            guard let role = m["role"] as? String else { throw EvalParameterError.missing(mp + ".role") }
            guard roles.contains(role) else {
                throw EvalParameterError.invalid(mp + ".role", "'\(role)' is not one of \(roles.joined(separator: ", "))")
            }
            let text = try content(m["content"], mp + ".content")
            do {
                // Templates reading the sample make no sense before there is one: only `item` is available here.
                let t = try TemplateString(text)
                if let r = t.references.first(where: { $0.namespace != "item" }) {
                    throw EvalParameterError.invalid(mp + ".content", "{{\(r.text)}} is not available in input_messages: the sample does not exist until the model has answered; use {{item.<field>}}")
                }
                // OpenAI's newer "developer" role plays the system part in the chat templates Tailor's models ship.
                messages.append(Message(role: role == "developer" ? "system" : role, content: t))
            } catch let e as TemplateStringError {
                throw EvalParameterError.invalid(mp + ".content", e.description)
            }
        }
        var plan = EvalCompletionsPlan(model: model, messages: messages)
        if let s = source["sampling_params"] {
            guard let s = s as? [String: Any] else { throw EvalParameterError.invalid(p + "sampling_params", "'\(p)sampling_params' must be an object") }
            let sp = p + "sampling_params."
            if let t = try number(s, "temperature", sp, 0...2) { plan.temperature = t }
            if let t = try number(s, "top_p", sp, 0...1) { plan.topP = t }
            if let seed = try number(s, "seed", sp, -9e15...9e15, integer: true) { plan.seed = Int(seed) }
            if let m = try number(s, "max_completion_tokens", sp, 1...1_000_000, integer: true) { plan.maxCompletionTokens = Int(m) }
            for unsupported in ["tools", "response_format", "reasoning_effort"] where s[unsupported] != nil && !(s[unsupported] is NSNull) {
                throw EvalParameterError.invalid(sp + unsupported, "Tailor does not support sampling_params.\(unsupported) in eval runs yet; leave it out", code: "unsupported_parameter")
            }
        }
        return plan
    }

    /// A message's content: a string, an `input_text`/`output_text` part, or an array of them (joined).
    private static func content(_ raw: Any?, _ param: String) throws -> String {
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

    private static func number(_ d: [String: Any], _ key: String, _ prefix: String, _ range: ClosedRange<Double>,
                               integer: Bool = false) throws -> Double? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else {
            throw EvalParameterError.invalid(prefix + key, "'\(prefix + key)' must be a number", code: "invalid_type")
        }
        let x = n.doubleValue
        if integer && x != x.rounded() { throw EvalParameterError.invalid(prefix + key, "'\(prefix + key)' must be an integer", code: "invalid_type") }
        guard range.contains(x) else {
            throw EvalParameterError.invalid(prefix + key, "'\(prefix + key)' must be between \(range.lowerBound) and \(range.upperBound); got \(x)")
        }
        return x
    }
}

/// One testing criterion of an eval: its id (`name-uuid`, as OpenAI reports it) and grader.
public struct EvalCriterion: Sendable {
    public var id: String
    public var grader: EvalGrader

    /// The eval's stored `testing_criteria` JSON, parsed as the API accepted it.
    public static func parseAll(_ json: String) throws -> [EvalCriterion] {
        guard let list = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return [] }
        return try list.enumerated().map { i, c in
            EvalCriterion(id: c["id"] as? String ?? "criterion-\(i)",
                          grader: try EvalGrader.parse(c, param: "testing_criteria[\(i)]", requireThreshold: true))
        }
    }
}
