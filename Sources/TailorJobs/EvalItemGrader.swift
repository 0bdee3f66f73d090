// One data source item of an eval run: its sample (generated for a completions run, given for a jsonl run), every
// testing criterion's result (a model grader's answer generated the same way), and the output item's JSON. A bad item
// (a template names a field it lacks, the generation fails) becomes an errored output item; only an interruption or
// a missing model stops the run.
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
        /// Every model that answered for this item, the sampled model and grading models (per_model_usage).
        var usage: [EvalTally.ModelTokens] = []
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
        var usage: [EvalTally.ModelTokens] = []
        if let plan {
            var messages: [(role: String, content: String)] = []
            var prompt: String?
            do {
                (messages, prompt) = try Self.input(plan, item: item)
            } catch let e as TemplateStringError {
                error = ("invalid_item", "input_messages: \(e)")
            } catch let e as EvalParameterError {
                error = ("invalid_item", "input_messages: \(e.message)")
            }
            wire["input"] = prompt.map { [["role": "user", "content": $0]] } ?? messages.map { ["role": $0.role, "content": $0.content] }
            wire["model"] = plan.model
            wire["temperature"] = plan.temperature
            wire["top_p"] = plan.topP
            wire["seed"] = plan.seed
            wire["max_completion_tokens"] = plan.maxCompletionTokens ?? 0
            if error == nil {
                do {
                    let s = try sampler.sample(EvalSampleRequest(model: plan.model, project: project, messages: messages,
                                                                 prompt: prompt, temperature: plan.temperature, topP: plan.topP,
                                                                 seed: plan.seed, maxTokens: plan.maxCompletionTokens),
                                               interrupt: interrupt)
                    sampleNamespace = TemplateContext.sample(outputText: s.text)
                    usage.append((plan.model, s.promptTokens, s.completionTokens, s.cachedTokens))
                    wire["output"] = [["role": "assistant", "content": s.text]]
                    wire["finish_reason"] = s.finishReason
                    wire["max_completion_tokens"] = s.maxTokens
                    wire["usage"] = ["prompt_tokens": s.promptTokens, "completion_tokens": s.completionTokens,
                                     "total_tokens": s.promptTokens + s.completionTokens, "cached_tokens": s.cachedTokens]
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
            let gradingModel = SamplerGradingModel(sampler: sampler, project: project, interrupt: interrupt)
            for c in criteria {
                var result: [String: Any] = ["name": c.grader.name, "type": c.grader.type.replacingOccurrences(of: "_", with: "-") + "-grader",
                                             "sample": NSNull()]
                do {
                    let r = try c.grader.grade(context, model: gradingModel)
                    result["score"] = r.score
                    result["passed"] = r.passed ?? false
                    if !r.subScores.isEmpty { result["sub_scores"] = r.subScores }
                    if let answer = r.answer, let model = c.grader.gradingModel {
                        // OpenAI reports a model grader's own generation as the result's sample.
                        result["sample"] = ["model": model, "output": [["role": "assistant", "content": answer.text]],
                                            "usage": ["prompt_tokens": answer.promptTokens, "completion_tokens": answer.completionTokens,
                                                      "total_tokens": answer.promptTokens + answer.completionTokens]]
                        usage.append((model, answer.promptTokens, answer.completionTokens, answer.cachedTokens))
                    }
                    passed.append(r.passed ?? false)
                } catch EvalSampleError.interrupted {
                    return nil
                } catch let e as EvalSampleError {
                    // The grading model is gone: the run fails, as it does when the sampled model is.
                    if case .modelMissing = e { throw e }
                    var message = "\(c.grader.name): \(e)"
                    if case .failed(_, let why) = e { message = "\(c.grader.name): the grading model could not answer: \(why)" }
                    result["score"] = 0.0
                    result["passed"] = false
                    result["error"] = message
                    passed.append(false)
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
        return Outcome(status: status, criteriaPassed: passed, usage: usage,
                       itemJSON: Self.json(item), resultsJSON: Self.json(results), sampleJSON: Self.json(wire))
    }

    /// The messages (or plain prompt) to sample for `item`: the template rendered, or the field `item_reference`
    /// names: a list of messages for the chat template, or a string continued as a plain prompt.
    static func input(_ plan: EvalCompletionsPlan, item: [String: Any]) throws -> (messages: [(role: String, content: String)], prompt: String?) {
        guard let path = plan.itemReference else {
            return (try plan.messages.map { ($0.role, try $0.content.render(TemplateContext(item: item))) }, nil)
        }
        let reference = TemplateString.Reference(path: path)
        switch TemplateString.lookup(reference, TemplateContext(item: item)) {
        case let prompt as String:
            return ([], prompt)
        case let list as [Any] where !list.isEmpty:
            let messages = try list.enumerated().map { i, m in try EvalMessage.parse(m, param: "\(reference.text)[\(i)]") }
            return (messages.map { ($0.role, $0.content) }, nil)
        case nil:
            throw TemplateStringError.missing(reference: reference.text, template: reference.text)
        default:
            throw EvalParameterError.invalid(reference.text, "{{\(reference.text)}} must be a non-empty list of messages or a prompt string")
        }
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

/// A model grader's model, run through the same sampler as the run's own samples (the generation thread), so a
/// cancel or a stop interrupts it the same way.
struct SamplerGradingModel: GradingModel {
    let sampler: any EvalSampler
    let project: String
    let interrupt: EvalInterrupt

    func answer(_ r: GradingRequest) throws -> GradingAnswer {
        let s = try sampler.sample(EvalSampleRequest(model: r.model, project: project, messages: r.messages.map { ($0.role, $0.content) },
                                                     temperature: r.temperature, topP: r.topP, seed: r.seed,
                                                     maxTokens: r.maxTokens, schema: r.schema),
                                   interrupt: interrupt)
        return GradingAnswer(text: s.text, promptTokens: s.promptTokens, completionTokens: s.completionTokens,
                             cachedTokens: s.cachedTokens)
    }
}
