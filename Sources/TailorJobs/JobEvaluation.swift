// A fine-tuning job's built-in evaluation (`tailor.evaluation`): its test file read into eval items, the default
// graders, and — once the job has succeeded — one eval with a run on the base model and one on the fine-tuned model,
// made by EvalDefinition and executed by the EvalRunner like any eval a client creates. Not the checking of the
// request (TailorAPI's JobHandlers) nor the execution (EvalRunner).
import Foundation
import TailorEngine
import TailorStore

public enum JobEvaluation {
    /// How the items hold their input. Chat lines keep their messages (sent through the chat template); prompt/
    /// completion lines their prompt (continued as plain text, as such data is trained).
    public enum Format: String, Sendable {
        case chat, promptCompletion = "prompt_completion"

        /// The item field holding the input; the other is `reference`.
        public var inputField: String { self == .chat ? "messages" : "prompt" }
    }

    /// A test file as eval items, `{"item": {"messages" | "prompt": …, "reference": …}}` each.
    public struct TestSet {
        public var format: Format
        public var items: [[String: Any]]
        /// Every reference parses as a JSON object or array: the default graders then check the answers are JSON.
        public var referencesAreJSON: Bool
    }

    public struct TestFileError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Reads a test file: each line a chat example (the input is every message before the last assistant turn, the
    /// reference that turn's content) or a prompt/completion pair (the reference is the completion). All lines in
    /// one format, as in a training file; at least one line. With a job's field `mapping`, every line is a pair from
    /// those two fields instead (as the training file was read; the input is not truncated).
    public static func read(_ data: Data, mapping: FieldMapping? = nil) throws -> TestSet {
        var format: Format?
        var items: [[String: Any]] = []
        var allJSON = true
        for (n, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            let line = n + 1
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw TestFileError(line: line, message: "not a JSON object; the file must be JSONL, one example per line")
            }
            let lineFormat: Format = mapping == nil && object["messages"] != nil ? .chat : .promptCompletion
            if let format, format != lineFormat {
                throw TestFileError(line: line, message: "a \(lineFormat.rawValue) example in a file of \(format.rawValue) examples; use one format")
            }
            format = lineFormat
            let item: [String: Any]
            switch lineFormat {
            case .chat:
                guard let messages = object["messages"] as? [[String: Any]] else {
                    throw TestFileError(line: line, message: "\"messages\" must be an array of message objects")
                }
                guard let last = messages.lastIndex(where: { $0["role"] as? String == "assistant" }), last > 0,
                      let reference = messages[last]["content"] as? String else {
                    throw TestFileError(line: line, message: "needs an assistant message with text content after at least one other message (it is the reference answer)")
                }
                let input = messages[..<last].map { m -> [String: Any] in ["role": m["role"] ?? NSNull(), "content": m["content"] ?? NSNull()] }
                item = ["messages": input, "reference": reference]
            case .promptCompletion:
                let (inputField, targetField) = mapping.map { ($0.input, $0.target) } ?? ("prompt", "completion")
                guard let prompt = object[inputField] as? String, let reference = object[targetField] as? String else {
                    throw TestFileError(line: line, message: mapping == nil
                        ? "expected {\"messages\": [...]} or {\"prompt\": \"…\", \"completion\": \"…\"} with string values"
                        : "expected string fields \"\(inputField)\" and \"\(targetField)\" (the job's input_field and target_field)")
                }
                item = ["prompt": prompt, "reference": reference]
            }
            let reference = item["reference"] as! String
            if allJSON { allJSON = ((try? JSONSerialization.jsonObject(with: Data(reference.utf8))).map { $0 is [String: Any] || $0 is [Any] }) ?? false }
            items.append(["item": item])
        }
        guard let format else { throw TestFileError(line: 1, message: "the file has no examples") }
        return TestSet(format: format, items: items, referencesAreJSON: allJSON)
    }

    /// How a training file's model should be asked, from its first line (`head`: the file's first bytes): chat for
    /// chat and preference (DPO) data, plain prompts for prompt/completion data; nil when the line is not one of
    /// them (the job's validation reports that).
    public static func trainingFormat(_ head: Data) -> Format? {
        guard let line = String(decoding: head, as: UTF8.self).split(separator: "\n")
                .first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }),
              let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return nil }
        if object["messages"] != nil || object["input"] != nil { return .chat }
        if object["prompt"] != nil { return .promptCompletion }
        return nil
    }

    public static func itemSchema(_ format: Format) -> [String: Any] {
        let input: [String: Any] = format == .chat ? ["type": "array", "items": ["type": "object"]] : ["type": "string"]
        return ["type": "object", "properties": [format.inputField: input, "reference": ["type": "string"]],
                "required": [format.inputField, "reference"]]
    }

    /// Exact match, ROUGE-L and BLEU against the reference; and, when every reference is JSON, whether the answer is
    /// JSON. The thresholds only decide the pass counts (the comparison reads mean scores): ROUGE-L 0.5 is half the
    /// reference's longest common subsequence recovered, BLEU 0.3 a close paraphrase on sentence-level BLEU.
    public static func defaultGraders(_ set: TestSet) -> [[String: Any]] {
        var graders: [[String: Any]] = [
            ["type": "string_check", "name": "exact_match", "input": "{{sample.output_text}}", "reference": "{{item.reference}}",
             "operation": "eq"],
            ["type": "text_similarity", "name": "rouge_l", "input": "{{sample.output_text}}", "reference": "{{item.reference}}",
             "evaluation_metric": "rouge_l", "pass_threshold": 0.5],
            ["type": "text_similarity", "name": "bleu", "input": "{{sample.output_text}}", "reference": "{{item.reference}}",
             "evaluation_metric": "bleu", "pass_threshold": 0.3],
        ]
        if set.referencesAreJSON {
            graders.append(["type": "string_check", "name": "valid_json", "input": "{{sample.output_json_valid}}",
                            "reference": "true", "operation": "eq"])
        }
        return graders
    }

    /// A completions data source answering every item: its input through `item_reference`, greedy (a comparison
    /// should not hinge on sampling luck).
    public static func dataSource(model: String, format: Format, maxTokens: Int) -> [String: Any] {
        ["type": "completions", "model": model,
         "input_messages": ["type": "item_reference", "item_reference": "item.\(format.inputField)"],
         "sampling_params": ["temperature": 0, "top_p": 1, "seed": 42, "max_completion_tokens": maxTokens],
         "source": ["type": "file_id", "id": ""]]
    }

    /// Twice the longest reference in the model's tokens (at least 16): room for an answer like the reference, without
    /// letting a rambling base model run to the end of its context (`context`) on every item.
    static func maxTokens(_ set: TestSet, tokenizer: Tokenizer?, context: Int) -> Int {
        guard let tokenizer else { return 256 }
        let longest = set.items.compactMap { (($0["item"] as? [String: Any])?["reference"] as? String) }
            .map { tokenizer.encode($0, addSpecial: false, parseSpecial: false).count }.max() ?? 0
        return min(max(16, 2 * longest), context / 2)
    }

    /// The job's `evaluation_runs`: the ids its eval and runs get, chosen when the job succeeds; `created` once they
    /// exist, `error` when they could not be made (the test file could not be read).
    public struct Link: Codable, Sendable, Equatable {
        public var evalID: String
        public var baseRunID: String
        public var fineTunedRunID: String
        public var created = false
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case evalID = "eval_id", baseRunID = "base_run_id", fineTunedRunID = "fine_tuned_run_id", created, error
        }

        static func new() -> Link {
            Link(evalID: IDGenerator.make(prefix: "eval_"), baseRunID: IDGenerator.make(prefix: "evalrun_"),
                 fineTunedRunID: IDGenerator.make(prefix: "evalrun_"))
        }

        public var json: String { String(decoding: try! JSONEncoder().encode(self), as: UTF8.self) }
        public static func decode(_ text: String?) -> Link? { text.flatMap { try? JSONDecoder().decode(Link.self, from: Data($0.utf8)) } }
    }
}

extension JobRunner {
    /// A succeeded job's evaluation under the ids `link` chose: the eval, its base-model run, then its fine-tuned-model
    /// (`model`) run, queued in that order. Throws when the test file cannot be read (deleted meanwhile).
    func evaluationRecords(_ job: JobRecord, link: JobEvaluation.Link, model: String) throws -> (eval: EvalRecord, runs: [EvalRunRecord]) {
        guard let file = job.evaluationFile else { throw JobEvaluation.TestFileError(line: 0, message: "the job has no test file") }
        guard let f = try store.file(id: file, project: job.projectID) else {
            throw JobEvaluation.TestFileError(line: 0, message: "the test file \(file) was deleted before the evaluation could read it")
        }
        let options = try JSONDecoder().decode(JobOptions.self, from: Data(job.options.utf8))
        let set = try JobEvaluation.read(try Data(contentsOf: URL(fileURLWithPath: store.contentPath(of: f))), mapping: options.fieldMapping)
        var graders = JobEvaluation.defaultGraders(set)
        if let given = job.evaluationGraders,
           let list = try JSONSerialization.jsonObject(with: Data(given.utf8)) as? [[String: Any]] { graders = list }
        let metadata = try EvalDefinition.json(["fine_tuning_job": job.id, "test_file": file])
        let eval = try EvalDefinition.eval(id: link.evalID, project: job.projectID, name: "\(job.id): base vs fine-tuned",
                                           itemSchema: JobEvaluation.itemSchema(set.format), includeSample: true,
                                           criteria: EvalDefinition.criteriaWithIDs(graders), metadata: metadata)
        // The base's tokenizer and context (an encoder–decoder's answers default to 512 tokens).
        let baseName = (job.plan.flatMap { try? JobPlan.decode($0) })?.baseModel ?? job.model
        let maxTokens: Int
        if let t5 = registry.encoderDecoder(named: baseName) {
            maxTokens = JobEvaluation.maxTokens(set, tokenizer: t5.tokenizer, context: 2 * ResolvedEncoderDecoder.defaultMaxTokens)
        } else {
            let base = registry.base(named: baseName)
            maxTokens = JobEvaluation.maxTokens(set, tokenizer: base?.tokenizer, context: base?.contextLength ?? 512)
        }
        func source(_ m: String) -> [String: Any] {
            var s = JobEvaluation.dataSource(model: m, format: set.format, maxTokens: maxTokens)
            s["source"] = ["type": "file_id", "id": file]
            return s
        }
        let runs = [
            try EvalDefinition.run(id: link.baseRunID, eval: eval, name: "base: \(job.model)", model: job.model,
                                   dataSource: source(job.model), items: set.items, metadata: metadata),
            try EvalDefinition.run(id: link.fineTunedRunID, eval: eval, name: "fine-tuned: \(model)", model: model,
                                   dataSource: source(model), items: set.items, metadata: metadata),
        ]
        return (eval, runs)
    }

    /// A job's evaluation as it ends: new ids, and the eval and runs to write with the success (its Link `created`),
    /// or, when they cannot be made, none and the error on the Link (the job succeeds all the same).
    func evaluationForSuccess(_ job: JobRecord, model: String) -> (link: JobEvaluation.Link, records: (eval: EvalRecord, runs: [EvalRunRecord])?) {
        var link = JobEvaluation.Link.new()
        do {
            let records = try evaluationRecords(job, link: link, model: model)
            link.created = true
            return (link, records)
        } catch {
            return (failed(link, job: job, error), nil)
        }
    }

    /// Creates a succeeded job's evaluation under the ids its Link chose, unless it exists already (a job that
    /// succeeded before the eval was written with the success), and marks the Link created, in one transaction; a
    /// test file that cannot be read leaves the error on the Link. The runs then execute on the eval thread.
    func createEvaluation(_ job: JobRecord) {
        guard job.evaluationFile != nil, var link = JobEvaluation.Link.decode(job.evaluationRuns), !link.created,
              link.error == nil, let model = job.fineTunedModel else { return }
        do {
            let (eval, runs) = try evaluationRecords(job, link: link, model: model)
            link.created = true
            try store.createJobEvaluation(eval, runs: runs, job: job.id, jobEvaluation: link.json)
            logger.info("job evaluation created", metadata: ["job": "\(job.id)", "eval": "\(eval.id)"])
            evals?.wake()
        } catch {
            let failedLink = failed(link, job: job, error)
            _ = try? store.updateJob(id: job.id) { $0.evaluationRuns = failedLink.json }
        }
    }

    /// `link` with the reason its evaluation could not be made, logged.
    private func failed(_ link: JobEvaluation.Link, job: JobRecord, _ error: Error) -> JobEvaluation.Link {
        logger.error("could not create a job's evaluation", metadata: ["job": "\(job.id)", "error": "\(error)"])
        var link = link
        link.error = "The evaluation could not be created: \(error)"
        return link
    }

    /// Evaluations a stopped server had promised (the job succeeded, the eval was not yet written): created now.
    func createPendingEvaluations() throws {
        for job in try store.jobs(withStatus: [.succeeded]) where job.evaluationFile != nil {
            guard let link = JobEvaluation.Link.decode(job.evaluationRuns), !link.created, link.error == nil else { continue }
            createEvaluation(job)
        }
    }
}
