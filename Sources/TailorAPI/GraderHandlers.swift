// /v1/fine_tuning/alpha/graders/run and /validate: one grader checked, or run on one item and model sample, as
// OpenAI's graders API does. The same parsing as the Evals API's testing criteria (TailorEval's EvalGrader), without
// the pass_threshold those need; a model grader's model answers through the eval runner's sampler.
import Foundation
import TailorEval
import TailorHTTP
import TailorJobs

enum GraderHandlers {
    static func grader(_ body: RequestBody, _ call: APICall) throws -> (EvalGrader, [String: Any]) {
        guard let raw = body.raw("grader") else { throw APIError.missing("grader") }
        guard let json = raw as? [String: Any] else { throw APIError.invalid("grader", "'grader' must be a grader object.", code: "invalid_type") }
        let g = try EvalHandlers.parseGrader(json, param: "grader", requireThreshold: false)
        try EvalHandlers.checkGradingModel(g, param: "grader", call)
        return (g, json)
    }

    static func validate(_ call: APICall) throws -> HTTPResponse {
        let (_, json) = try grader(try RequestBody(call.request), call)
        return JSONValue.object([("grader", JSONValue(any: json))]).response
    }

    /// A template naming a field the item or sample lacks gives reward 0 with `invalid_variable_error`, and a
    /// formula with no finite result `other_error`, as OpenAI reports them, rather than an HTTP error.
    static func run(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let (g, _) = try grader(body, call)
        guard let sample = body.raw("model_sample") else { throw APIError.missing("model_sample") }
        guard let text = sample as? String else { throw APIError.invalid("model_sample", "'model_sample' must be a string.", code: "invalid_type") }
        var item: [String: Any] = [:]
        if let raw = body.raw("item") {
            guard let d = raw as? [String: Any] else { throw APIError.invalid("item", "'item' must be an object.", code: "invalid_type") }
            item = d
        }
        let started = Date()
        var reward = 0.0
        var scores: [(String, JSONValue)] = []
        var invalidVariable = false, otherError = false, parseError = false, serverError: String?
        var usage: GradingAnswer?
        // A model grader's answer stops at its next token when the client goes away.
        let interrupt = EvalInterrupt()
        call.request.disconnect.onDisconnect { interrupt.fire() }
        do {
            let result = try g.grade(TemplateContext(item: item, sample: TemplateContext.sample(outputText: text)),
                                     model: call.services.evals.gradingModel(project: call.principal.projectID, interrupt: interrupt))
            reward = result.score
            scores = result.subScores.keys.sorted().map { ($0, .double(result.subScores[$0]!)) }
            usage = result.answer
        } catch is TemplateStringError {
            invalidVariable = true
        } catch GraderError.modelOutput {
            parseError = true
        } catch let e as EvalSampleError {
            switch e {
            case .failed(_, let message): serverError = message
            case .modelMissing(let m): serverError = "The grading model \(m) no longer exists."
            case .interrupted: serverError = "The server is stopping; try again."
            }
        } catch {
            otherError = true
        }
        let flags = ["formula_parse_error", "sample_parse_error", "truncated_observation_error", "unresponsive_reward_error",
                     "invalid_variable_error", "other_error", "python_grader_server_error", "python_grader_server_error_type",
                     "python_grader_runtime_error", "python_grader_runtime_error_details", "model_grader_server_error",
                     "model_grader_refusal_error", "model_grader_parse_error", "model_grader_server_error_details"]
        let raised = ["invalid_variable_error": invalidVariable, "other_error": otherError,
                      "model_grader_parse_error": parseError, "model_grader_server_error": serverError != nil]
        let errors = flags.map { name -> (String, JSONValue) in
            if name == "model_grader_server_error_details" { return (name, .optional(serverError)) }
            if name.hasSuffix("_type") || name.hasSuffix("_details") { return (name, .null) }
            return (name, .bool(raised[name] ?? false))
        }
        // The spec types metadata.token_usage as an integer (the total); the per-model object has the breakdown.
        let model = g.gradingModel
        let total: Int? = usage.map { $0.promptTokens + $0.completionTokens }
        let tokens: JSONValue = usage.map { u in
            .object([("prompt_tokens", .int(u.promptTokens)), ("total_tokens", .int(u.promptTokens + u.completionTokens)),
                     ("completion_tokens", .int(u.completionTokens)), ("cached_tokens", 0)])
        } ?? .null
        return JSONValue.object([
            ("reward", .double(reward)),
            ("metadata", .object([("name", .string(g.name)), ("type", .string(g.type)), ("errors", .object(errors)),
                                  ("execution_time", .double(Date().timeIntervalSince(started))), ("scores", .object(scores)),
                                  ("token_usage", .optional(total)), ("sampled_model_name", .optional(usage == nil ? nil : model))])),
            ("sub_rewards", .object(scores)),
            ("model_grader_token_usage_per_model", .object(usage == nil || model == nil ? [] : [(model!, tokens)])),
        ]).response
    }
}
