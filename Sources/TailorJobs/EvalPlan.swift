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
    /// The `template` messages, rendered per item; empty when the messages come from the item.
    public var messages: [Message]
    /// `item_reference` input: the path of the item field holding the input (`["item", "messages"]`). A list of
    /// messages is sent through the chat template; a string is a plain prompt, continued as /v1/completions does
    /// (how prompt/completion training data is trained).
    public var itemReference: [String]?
    /// OpenAI's documented defaults: temperature 1, top_p 1, seed 42; no max_completion_tokens means the model's
    /// context decides (capped by `defaultMaxTokens`).
    public var temperature = 1.0
    public var topP = 1.0
    public var seed = 42
    public var maxCompletionTokens: Int?

    /// A run that names no max_completion_tokens stops here: an eval of many items should not wander to the end of
    /// the context on each.
    public static let defaultMaxTokens = 2048

    /// Parses `data_source` (type `completions`); every error names its parameter under `data_source.`.
    public static func parse(_ source: [String: Any]) throws -> EvalCompletionsPlan {
        let p = "data_source."
        guard let model = source["model"] as? String, !model.isEmpty else { throw EvalParameterError.missing(p + "model") }
        guard let input = source["input_messages"] as? [String: Any] else { throw EvalParameterError.missing(p + "input_messages") }
        let type = input["type"] as? String
        if type == "item_reference" {
            // OpenAI's shape for messages that differ per item: `"item_reference": "item.messages"`.
            guard let ref = input["item_reference"] as? String else { throw EvalParameterError.missing(p + "input_messages.item_reference") }
            let path = ref.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard path.count >= 2, path[0] == "item", !path.contains(where: \.isEmpty) else {
                throw EvalParameterError.invalid(p + "input_messages.item_reference", "'\(ref)' is not an item reference; name a field of the item, e.g. 'item.messages'")
            }
            var plan = EvalCompletionsPlan(model: model, messages: [])
            plan.itemReference = path
            try plan.readSamplingParams(source)
            return plan
        }
        guard type == "template" else {
            throw EvalParameterError.invalid(p + "input_messages.type", "Tailor supports input_messages of type 'template' and 'item_reference'; '\(type ?? "none")' is not supported", code: "unsupported_value")
        }
        guard let template = input["template"] as? [Any], !template.isEmpty else {
            throw EvalParameterError.invalid(p + "input_messages.template", "'\(p)input_messages.template' must be a non-empty array of messages")
        }
        var messages: [Message] = []
        for (i, raw) in template.enumerated() {
            let mp = "\(p)input_messages.template[\(i)]"
            let m = try EvalMessage.parse(raw, param: mp)
            do {
                // Templates reading the sample make no sense before there is one: only `item` is available here.
                let t = try TemplateString(m.content)
                if let r = t.references.first(where: { $0.namespace != "item" }) {
                    throw EvalParameterError.invalid(mp + ".content", "{{\(r.text)}} is not available in input_messages: the sample does not exist until the model has answered; use {{item.<field>}}")
                }
                messages.append(Message(role: m.role, content: t))
            } catch let e as TemplateStringError {
                throw EvalParameterError.invalid(mp + ".content", e.description)
            }
        }
        var plan = EvalCompletionsPlan(model: model, messages: messages)
        try plan.readSamplingParams(source)
        return plan
    }

    private mutating func readSamplingParams(_ source: [String: Any]) throws {
        let p = "data_source."
        if let s = source["sampling_params"] {
            guard let s = s as? [String: Any] else { throw EvalParameterError.invalid(p + "sampling_params", "'\(p)sampling_params' must be an object") }
            let sp = p + "sampling_params."
            if let t = try Self.number(s, "temperature", sp, 0...2) { temperature = t }
            if let t = try Self.number(s, "top_p", sp, 0...1) { topP = t }
            if let seed = try Self.number(s, "seed", sp, -9e15...9e15, integer: true) { self.seed = Int(seed) }
            if let m = try Self.number(s, "max_completion_tokens", sp, 1...1_000_000, integer: true) { maxCompletionTokens = Int(m) }
            for unsupported in ["tools", "response_format", "reasoning_effort"] where s[unsupported] != nil && !(s[unsupported] is NSNull) {
                throw EvalParameterError.invalid(sp + unsupported, "Tailor does not support sampling_params.\(unsupported) in eval runs yet; leave it out", code: "unsupported_parameter")
            }
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
