// Training files in the formats OpenAI accepts, one type per shape: chat (`{"messages": [...]}`, with optional
// `"weight": 0|1` on assistant turns), prompt/completion (`{"prompt": ..., "completion": ...}`) and, for DPO,
// preference pairs (`{"input", "preferred_output", "non_preferred_output"}`). The first record's keys pick the
// format; every line is validated and tokenised with the model's own chat template and tokenizer.
import Foundation
import TailorTemplates

public enum DatasetFormat: String, Sendable, Codable {
    case chat, promptCompletion = "prompt_completion", preference
}

/// What a job learns from its file: examples to imitate, or pairs to rank (DPO).
public enum TrainingMethod: String, Sendable, Codable { case supervised, dpo }

public struct TrainingExample: Sendable, Equatable, Codable {
    public var line: Int
    public var tokens: [Int]
    /// True where the token is predicted with loss (assistant content and its end-of-turn token; the completion).
    public var lossMask: [Bool]
    public var lossTokens: Int { lossMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
    public init(line: Int, tokens: [Int], lossMask: [Bool]) {
        precondition(tokens.count == lossMask.count)
        self.line = line; self.tokens = tokens; self.lossMask = lossMask
    }
}

public struct PreparedDataset: Sendable {
    public var format: DatasetFormat?
    /// Preference files: (chosen, rejected) in turn, two per line.
    public var examples: [TrainingExample]
    public var issues: [DatasetIssue]
    public var totalTokens: Int { examples.reduce(0) { $0 + $1.tokens.count } }
    public var lossTokens: Int { examples.reduce(0) { $0 + $1.lossTokens } }
    public var isValid: Bool { issues.isEmpty }
}

public enum Dataset {
    /// OpenAI's minimum (fine-tuning guide); fewer examples cannot say much about a behaviour.
    public static let minimumExamples = 10

    /// Parses, validates and tokenises a JSONL training file. `maxTokens` bounds one example (the model's context,
    /// or the trainer's sequence budget). With `stopAfter` issues the scan ends early (bad files can be huge).
    /// `mapping` reads every line as a prompt/completion pair from the fields it names (see FieldMapping), whatever
    /// else the record holds; nil detects the format from the first line.
    public static func prepare(_ data: Data, model: LanguageModel, maxTokens: Int, minimumExamples: Int = minimumExamples,
                               method: TrainingMethod = .supervised, mapping: FieldMapping? = nil, stopAfter: Int = 100) -> PreparedDataset {
        var result = PreparedDataset(format: nil, examples: [], issues: [])
        guard let text = String(data: data, encoding: .utf8) else {
            result.issues.append(DatasetIssue(.encoding, line: 0, "the file is not valid UTF-8 text"))
            return result
        }
        let specials = specialTexts(model.tokenizer)
        var lineNumber = 0
        // In Swift "\r\n" is one Character, so files saved on Windows are split on it too, not only on "\n".
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard result.issues.count < stopAfter else { break }
            do {
                guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) else {
                    throw DatasetIssue(.notJSON, line: lineNumber, "the line is not valid JSON")
                }
                guard let object = json as? [String: Any] else {
                    throw DatasetIssue(.notAnObject, line: lineNumber, "each line must be a JSON object")
                }
                let format = mapping == nil ? try detectFormat(object, line: lineNumber) : .promptCompletion
                if let known = result.format, known != format {
                    throw DatasetIssue(.mixedFormats, line: lineNumber,
                                       "this line is in \(format.rawValue) format but earlier lines are in \(known.rawValue) format; use one format per file")
                }
                result.format = format
                if (format == .preference) != (method == .dpo) {
                    throw DatasetIssue(.wrongMethod, line: lineNumber, method == .dpo
                        ? "a dpo job needs preference pairs ({\"input\": {\"messages\": [...]}, \"preferred_output\": [...], \"non_preferred_output\": [...]}), but this line is in \(format.rawValue) format"
                        : "this line is a preference pair, which only a job with method \"dpo\" learns from; use method {\"type\": \"dpo\"} or chat examples")
                }
                let examples: [TrainingExample]
                switch format {
                case .chat:
                    let tools = try ChatExampleFormatter.tools(object["tools"] == nil ? nil : String(line), at: ["tools"], line: lineNumber)
                    examples = [try ChatExampleFormatter.format(object, tools: tools, line: lineNumber, model: model, specials: specials)]
                case .promptCompletion:
                    examples = [try (mapping ?? .promptCompletion).example(object, line: lineNumber, model: model, specials: specials)]
                case .preference:
                    let hasTools = (object["input"] as? [String: Any])?["tools"] != nil
                    let tools = try ChatExampleFormatter.tools(hasTools ? String(line) : nil, at: ["input", "tools"], line: lineNumber)
                    let (chosen, rejected) = try PreferenceExampleFormatter.format(object, tools: tools, line: lineNumber, model: model, specials: specials)
                    examples = [chosen, rejected]
                }
                for example in examples {
                    guard example.tokens.count <= maxTokens else {
                        throw DatasetIssue(.tooLong, line: lineNumber,
                                           "the example has \(example.tokens.count) tokens, more than the limit of \(maxTokens); shorten or split it")
                    }
                    guard example.lossTokens > 0 else {
                        throw DatasetIssue(.noTrainableTokens, line: lineNumber,
                                           "no token would be trained on (every assistant message has weight 0)")
                    }
                }
                result.examples += examples
            } catch let issue as DatasetIssue {
                result.issues.append(issue)
            } catch {
                result.issues.append(DatasetIssue(.badField, line: lineNumber, "\(error)"))
            }
        }
        let count = result.examples.count / (result.format == .preference ? 2 : 1)
        if result.issues.isEmpty && count < minimumExamples {
            result.issues.append(DatasetIssue(.tooFewExamples, line: 0,
                "Training file has \(count) example(s), but must have at least \(minimumExamples) examples"))
        }
        return result
    }

    static func detectFormat(_ object: [String: Any], line: Int) throws -> DatasetFormat {
        if object["messages"] != nil { return .chat }
        if object["input"] != nil || object["preferred_output"] != nil || object["non_preferred_output"] != nil { return .preference }
        if object["prompt"] != nil || object["completion"] != nil { return .promptCompletion }
        throw DatasetIssue(.unknownFormat, line: line,
            "unexpected keys \(object.keys.sorted()); expected chat examples ({\"messages\": [...]}), prompt/completion pairs ({\"prompt\": ..., \"completion\": ...}) or preference pairs ({\"input\": ..., \"preferred_output\": ..., \"non_preferred_output\": ...})")
    }

    /// The text of every control and user-defined token, which training data may not contain (OpenAI rejects them).
    static func specialTexts(_ t: Tokenizer) -> [String] {
        (0..<t.vocabularySize).filter { t.isSpecial($0) }.map(t.tokenText).filter { $0.count > 1 }
    }

    static func checkNoSpecialTokens(_ text: String, _ specials: [String], line: Int, message: Int?) throws {
        guard text.contains("<") || text.contains("[") else { return }   // every special token here starts so
        for s in specials where text.contains(s) {
            throw DatasetIssue(.invalidToken, line: line, message: message, "contains an invalid token: \(s)")
        }
    }

}
