// Records of any shape as prompt/completion pairs: Hugging Face datasets name their fields as they like
// (`{"document": …, "summary": …}`), so a job may say which field is the input and which the target, and, as
// `tokenizer(text, max_length=…, truncation=True)` does, cut either to a number of tokens. Without truncation
// limits an over-long example is refused with its line number, as everywhere else.

public struct FieldMapping: Sendable, Codable, Equatable {
    /// The field holding the text the model reads (not trained on).
    public var input: String
    /// The field holding the text the model learns to write.
    public var target: String
    /// Keep at most this many tokens of the input (its first ones), the model's start token included.
    public var maxSourceTokens: Int?
    /// Keep at most this many tokens of the target (its first ones), the end-of-sequence token included, which
    /// always ends the target.
    public var maxTargetTokens: Int?

    public static let promptCompletion = FieldMapping(input: "prompt", target: "completion")

    /// The mapping a job or `tailor train` asked for, when it set any of the four: unnamed fields stay "prompt" and
    /// "completion". Nil when none is set (the format is then detected from the first line).
    public static func asked(input: String?, target: String?, maxSourceTokens: Int?, maxTargetTokens: Int?) -> FieldMapping? {
        guard input != nil || target != nil || maxSourceTokens != nil || maxTargetTokens != nil else { return nil }
        return FieldMapping(input: input ?? promptCompletion.input, target: target ?? promptCompletion.target,
                            maxSourceTokens: maxSourceTokens, maxTargetTokens: maxTargetTokens)
    }

    public init(input: String, target: String, maxSourceTokens: Int? = nil, maxTargetTokens: Int? = nil) {
        self.input = input; self.target = target; self.maxSourceTokens = maxSourceTokens; self.maxTargetTokens = maxTargetTokens
    }

    /// The fields `record` lacks or holds as something other than text, for a message naming them.
    public func problem(in record: [String: Any]) -> String? {
        for field in [input, target] {
            guard let value = record[field] else {
                return "the record has no \"\(field)\" field (its fields: \(record.keys.sorted().joined(separator: ", ")))"
            }
            guard value is String else { return "\"\(field)\" must be a string" }
        }
        return nil
    }

    /// Prompt tokens (truncated to maxSourceTokens) then target tokens and the end of sequence (truncated to
    /// maxTargetTokens with the end kept), the loss on the target only.
    func example(_ o: [String: Any], line: Int, model: LanguageModel, specials: [String]) throws -> TrainingExample {
        if let p = problem(in: o) { throw DatasetIssue(.badField, line: line, p) }
        let prompt = o[input] as! String, completion = o[target] as! String
        guard !completion.isEmpty else { throw DatasetIssue(.missingContent, line: line, "\"\(target)\" must be a non-empty string") }
        try Dataset.checkNoSpecialTokens(prompt, specials, line: line, message: nil)
        try Dataset.checkNoSpecialTokens(completion, specials, line: line, message: nil)
        var promptIDs = model.tokenize(plain: prompt)
        if let n = maxSourceTokens, promptIDs.count > n { promptIDs.removeLast(promptIDs.count - n) }
        var completionIDs = model.tokenizer.encode(completion, addSpecial: false, parseSpecial: false)
        let eos = model.tokenizer.eos
        if let n = maxTargetTokens {
            let room = n - (eos == nil ? 0 : 1)
            if completionIDs.count > room { completionIDs.removeLast(completionIDs.count - max(room, 0)) }
        }
        if let eos { completionIDs.append(eos) }
        return TrainingExample(line: line, tokens: promptIDs + completionIDs,
                               lossMask: Array(repeating: false, count: promptIDs.count) + Array(repeating: true, count: completionIDs.count))
    }
}
