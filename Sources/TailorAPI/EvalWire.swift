// The Evals API's objects as JSON, built from store records, keys in OpenAI's order. Where the official SDK and spec
// require an object or a string that has no value here (a run's `error` before any, a jsonl run's `model`), the
// empty form is sent (`{"code":"","message":""}`, `""`): a null there fails the SDK's strict validation.
import Foundation
import TailorJobs
import TailorStore

enum EvalWire {
    static let noError: JSONValue = .object([("code", ""), ("message", "")])

    static func eval(_ e: EvalRecord) -> JSONValue {
        .object([("object", "eval"), ("id", .string(e.id)), ("name", .string(e.name)),
                 ("data_source_config", JSONValue.parse(e.dataSourceConfig)),
                 ("testing_criteria", JSONValue.parse(e.testingCriteria)), ("created_at", .int(e.createdAt)),
                 ("metadata", e.metadata.map { JSONValue.parse($0) } ?? .null)])
    }

    /// Where the client reached the server (`X-Forwarded-Proto` from a TLS proxy, else http; the Host header), so
    /// that `report_url` opens the dashboard from the client's side of a proxy.
    static func origin(_ call: APICall) -> String {
        guard let host = call.head.headers["Host"] else { return "" }
        return "\(call.head.headers["X-Forwarded-Proto"] == "https" ? "https" : "http")://\(host)"
    }

    /// `report_url` points at the dashboard's page for the run.
    static func run(_ r: EvalRunRecord, origin: String) -> JSONValue {
        let tally = EvalTally.decode(r.tally) ?? EvalTally(criteria: [])
        let usage = tally.usage.map { u -> JSONValue in
            .object([("model_name", .string(u.model)), ("invocation_count", .int(u.invocations)),
                     ("prompt_tokens", .int(u.promptTokens)), ("completion_tokens", .int(u.completionTokens)),
                     ("total_tokens", .int(u.promptTokens + u.completionTokens)), ("cached_tokens", .int(u.cachedTokens ?? 0))])
        }
        let criteria = tally.criteria.map { c -> JSONValue in
            .object([("testing_criteria", .string(c.id)), ("passed", .int(c.passed)), ("failed", .int(c.failed))])
        }
        return .object([
            ("object", "eval.run"), ("id", .string(r.id)), ("eval_id", .string(r.evalID)), ("status", .string(r.status.rawValue)),
            ("model", .string(r.model)), ("name", .string(r.name)), ("created_at", .int(r.createdAt)),
            ("report_url", .string("\(origin)/#/evals/\(r.evalID)/runs/\(r.id)")),
            ("result_counts", .object([("total", .int(tally.total)), ("errored", .int(tally.errored)),
                                       ("failed", .int(tally.failed)), ("passed", .int(tally.passed))])),
            ("per_model_usage", .array(usage)), ("per_testing_criteria_results", .array(criteria)),
            ("data_source", JSONValue.parse(r.dataSource)),
            ("metadata", r.metadata.map { JSONValue.parse($0) } ?? .null),
            ("error", r.error.map { JSONValue.parse($0) } ?? noError),
        ])
    }

    static func outputItem(_ o: EvalOutputItemRecord) -> JSONValue {
        .object([("object", "eval.run.output_item"), ("id", .string(o.id)), ("run_id", .string(o.runID)),
                 ("eval_id", .string(o.evalID)), ("created_at", .int(o.createdAt)), ("status", .string(o.status)),
                 ("datasource_item_id", .int(o.datasourceItemID)), ("datasource_item", JSONValue.parse(o.datasourceItem)),
                 ("results", JSONValue.parse(o.results)), ("sample", JSONValue.parse(o.sample))])
    }
}
