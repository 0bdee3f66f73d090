// A JSONL file as (source, target) pairs for a T5 run: every record is read through a FieldMapping (prompt and
// completion unless the run names other fields, such as document and summary), each text tokenised as T5's tokenizer
// does it (EOS appended) and cut to maxSourceTokens / maxTargetTokens when asked, EOS kept last, as transformers'
// `tokenizer(text, max_length=…, truncation=True)` does. Chat records are not read here: a T5 model has no chat
// template, so it learns from text pairs only.
import Foundation

public enum T5Dataset {
    public static func prepare(_ data: Data, tokenizer: Tokenizer, mapping: FieldMapping = .promptCompletion,
                               minimumExamples: Int = Dataset.minimumExamples, stopAfter: Int = 100)
        -> (examples: [T5TrainingExample], issues: [DatasetIssue]) {
        var examples: [T5TrainingExample] = [], issues: [DatasetIssue] = []
        guard let text = String(data: data, encoding: .utf8) else {
            return ([], [DatasetIssue(.encoding, line: 0, "the file is not valid UTF-8 text")])
        }
        let eos = tokenizer.eos
        func cut(_ ids: [Int], _ limit: Int?) -> [Int] {
            guard let limit, ids.count > limit else { return ids }
            return Array(ids.prefix(max(limit - 1, 0))) + (eos.map { [$0] } ?? [])
        }
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            guard !rawLine.allSatisfy(\.isWhitespace), issues.count < stopAfter else { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(rawLine.utf8))) as? [String: Any] else {
                issues.append(DatasetIssue(.notAnObject, line: lineNumber, "each line must be a JSON object"))
                continue
            }
            if let p = mapping.problem(in: object) {
                issues.append(DatasetIssue(.badField, line: lineNumber, p + "; name the fields with --input-field and --target-field"))
                continue
            }
            let source = object[mapping.input] as! String, target = object[mapping.target] as! String
            guard !target.isEmpty else {
                issues.append(DatasetIssue(.missingContent, line: lineNumber, "\"\(mapping.target)\" must be a non-empty string"))
                continue
            }
            examples.append(T5TrainingExample(source: cut(tokenizer.encode(source, addSpecial: true), mapping.maxSourceTokens),
                                              target: cut(tokenizer.encode(target, addSpecial: true), mapping.maxTargetTokens)))
        }
        if issues.isEmpty && examples.count < minimumExamples {
            issues.append(DatasetIssue(.tooFewExamples, line: 0,
                                       "Training file has \(examples.count) example(s), but must have at least \(minimumExamples) examples"))
        }
        return (examples, issues)
    }
}
