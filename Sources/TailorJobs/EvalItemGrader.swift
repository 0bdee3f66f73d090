// One data source item of an eval run: its sample (generated for a completions run, given for a jsonl run), every
// testing criterion's result, and the output item's JSON. A bad item (a template names a field it lacks, the
// generation fails) becomes an errored output item; only an interruption or a missing model stops the run.
import Foundation
import TailorEval

struct EvalItemGrader {
    let criteria: [EvalCriterion]
    let plan: EvalCompletionsPlan?
    let project: String
    let sampler: any EvalSampler

    struct Outcome {
        /// "pass" (every criterion passed), "fail", or "error" (the sample or a grader could not be made).
        var status: String
        var criteriaPassed: [Bool]
        /// Whether a model answered (counted in per_model_usage).
        var sampled = false
        var promptTokens = 0
        var completionTokens = 0
        var itemJSON: String
        var resultsJSON: String
        var sampleJSON: String
    }

    /// nil when interrupted (the item is not at fault and is not stored).
    func grade(_ entry: [String: Any], interrupt: EvalInterrupt) throws -> Outcome? {
        let item = entry["item"] as? [String: Any] ?? [:]
        var sampleNamespace = entry["sample"] as? [String: Any]
        var error: (code: String, message: String)?
        var wire = Self.givenSample(sampleNamespace)
        var tokens = (prompt: 0, completion: 0)
        var sampled = false
        if let plan {
            var messages: [(role: String, content: String)] = []
            do {
                messages = try plan.messages.map { ($0.role, try $0.content.render(TemplateContext(item: item))) }
            } catch let e as TemplateStringError {
                error = ("invalid_item", "input_messages: \(e)")
            }
            wire["input"] = messages.map { ["role": $0.role, "content": $0.content] }
            wire["model"] = plan.model
            wire["temperature"] = plan.temperature
            wire["top_p"] = plan.topP
            wire["seed"] = plan.seed
            wire["max_completion_tokens"] = plan.maxCompletionTokens ?? 0
            if error == nil {
                do {
                    let s = try sampler.sample(EvalSampleRequest(model: plan.model, project: project, messages: messages,
                                                                 temperature: plan.temperature, topP: plan.topP,
                                                                 seed: plan.seed, maxTokens: plan.maxCompletionTokens),
                                               interrupt: interrupt)
                    sampleNamespace = TemplateContext.sample(outputText: s.text)
                    tokens = (s.promptTokens, s.completionTokens)
                    sampled = true
                    wire["output"] = [["role": "assistant", "content": s.text]]
                    wire["finish_reason"] = s.finishReason
                    wire["max_completion_tokens"] = s.maxTokens
                    wire["usage"] = ["prompt_tokens": s.promptTokens, "completion_tokens": s.completionTokens,
                                     "total_tokens": s.promptTokens + s.completionTokens, "cached_tokens": 0]
                } catch EvalSampleError.interrupted {
                    return nil
                } catch EvalSampleError.failed(let code, let message) {
                    error = (code, message)
                }
            }
        }
        var results: [[String: Any]] = []
        var passed: [Bool] = []
        if error == nil {
            let context = TemplateContext(item: item, sample: sampleNamespace)
            for c in criteria {
                var result: [String: Any] = ["name": c.grader.name, "type": c.grader.type.replacingOccurrences(of: "_", with: "-") + "-grader",
                                             "sample": NSNull()]
                do {
                    let r = try c.grader.grade(context)
                    result["score"] = r.score
                    result["passed"] = r.passed ?? false
                    if !r.subScores.isEmpty { result["sub_scores"] = r.subScores }
                    passed.append(r.passed ?? false)
                } catch {
                    let message = "\(c.grader.name): \(error)"
                    result["score"] = 0.0
                    result["passed"] = false
                    result["error"] = message
                    passed.append(false)
                }
                results.append(result)
            }
            if let failed = results.first(where: { $0["error"] != nil }) {
                error = ("grader_error", failed["error"] as! String)
            }
        } else {
            passed = criteria.map { _ in false }
        }
        if let error { wire["error"] = ["code": error.code, "message": error.message] }
        let status = error != nil ? "error" : passed.allSatisfy { $0 } ? "pass" : "fail"
        return Outcome(status: status, criteriaPassed: passed, sampled: sampled, promptTokens: tokens.prompt, completionTokens: tokens.completion,
                       itemJSON: Self.json(item), resultsJSON: Self.json(results), sampleJSON: Self.json(wire))
    }

    /// The sample of a jsonl item as OpenAI's output item shows it: its output_text as the assistant's message, and
    /// every field the schema requires, filled from the given sample where it has them.
    static func givenSample(_ given: [String: Any]?) -> [String: Any] {
        let g = given ?? [:]
        var output: [[String: Any]] = []
        if let text = g["output_text"] as? String { output = [["role": "assistant", "content": text]] }
        return ["input": g["input"] as? [Any] ?? [], "output": output,
                "finish_reason": g["finish_reason"] as? String ?? "", "model": g["model"] as? String ?? "",
                "usage": ["prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0],
                "error": ["code": "", "message": ""], "temperature": 1.0, "max_completion_tokens": 0, "top_p": 1.0, "seed": 0]
    }

    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
