// /v1/evals/{eval_id}/runs and their output items: create (the data source read and every item checked against the
// eval's item_schema here; the run then executes on the eval thread), list, retrieve, cancel, delete, and the
// output items' list and retrieve. Executing a run is TailorJobs' EvalRunner.
import Foundation
import TailorEval
import TailorHTTP
import TailorJobs
import TailorStore

enum EvalRunHandlers {
    static func create(_ call: APICall) throws -> HTTPResponse {
        let e = try EvalHandlers.eval(call)
        let s = call.services, project = call.principal.projectID
        let body = try RequestBody(call.request)
        let metadata = try JobHandlers.parseMetadata(body)
        guard let ds = body.raw("data_source") as? [String: Any] else {
            if body.has("data_source") { throw APIError.invalid("data_source", "'data_source' must be an object.", code: "invalid_type") }
            throw APIError.missing("data_source")
        }
        let type = ds["type"] as? String
        guard type == "jsonl" || type == "completions" else {
            throw APIError.invalid("data_source.type", "Tailor runs data sources of type 'jsonl' and 'completions'; '\(type ?? "none")' is not supported yet.", code: "unsupported_value")
        }
        let schema = itemSchema(e)
        let items = try readItems(ds["source"], schema: schema, call)
        var model = ""
        if type == "completions" {
            let plan: EvalCompletionsPlan
            do { plan = try EvalCompletionsPlan.parse(ds) } catch let err as EvalParameterError {
                throw APIError.invalid(err.param, err.message, code: err.code)
            }
            guard try s.registry.locate(plan.model, project: project) != nil || s.registry.encoderDecoderStart(plan.model, project: project) != nil else {
                throw APIError.invalid("data_source.model", "The model '\(plan.model)' does not exist or you do not have access to it. Available base models: \(s.registry.baseOrder.joined(separator: ", ")); fine-tuned models and checkpoints of this project work too.", code: "model_not_found")
            }
            for (i, m) in plan.messages.enumerated() {
                try EvalHandlers.checkReferences([m.content], fields: schema?.declaredFields,
                                                 param: "data_source.input_messages.template[\(i)].content")
            }
            if let path = plan.itemReference, let fields = schema?.declaredFields, !fields.contains(path[1]) {
                throw APIError.invalid("data_source.input_messages.item_reference", "'\(path.joined(separator: "."))' names a field the item_schema does not declare (it has \(fields.sorted().joined(separator: ", "))); add it to the schema or fix the reference.", code: "invalid_template")
            }
            model = plan.model
        }
        let run = try EvalDefinition.run(eval: e, name: try body.string("name"), model: model, dataSource: ds,
                                         items: items, metadata: metadata)
        try s.store.createEvalRun(run)
        s.evals.wake()
        call.logger.info("eval run created", metadata: ["eval": "\(e.id)", "run": "\(run.id)", "items": "\(items.count)"])
        return EvalWire.run(run, origin: EvalWire.origin(call)).response
    }

    /// The item schema the eval was created with (nil: none to check).
    static func itemSchema(_ e: EvalRecord) -> ItemSchema? {
        guard let config = try? JSONSerialization.jsonObject(with: Data(e.dataSourceConfig.utf8)) as? [String: Any],
              let schema = config["schema"] as? [String: Any], let properties = schema["properties"] as? [String: Any],
              let item = properties["item"] as? [String: Any] else { return nil }
        return try? ItemSchema(item)
    }

    /// The source's lines as `{"item": …, "sample": …}`, each item checked against the schema: inline
    /// (`file_content`) or an uploaded JSONL file (`file_id`), read now so the run does not depend on the file later.
    static func readItems(_ raw: Any?, schema: ItemSchema?, _ call: APICall) throws -> [[String: Any]] {
        guard let source = raw as? [String: Any] else {
            if raw == nil { throw APIError.missing("data_source.source") }
            throw APIError.invalid("data_source.source", "'data_source.source' must be an object.", code: "invalid_type")
        }
        var lines: [(entry: Any, param: String)] = []
        switch source["type"] as? String {
        case "file_content":
            guard let content = source["content"] as? [Any] else { throw APIError.missing("data_source.source.content") }
            lines = content.enumerated().map { ($1, "data_source.source.content[\($0)]") }
        case "file_id":
            guard let id = source["id"] as? String else { throw APIError.missing("data_source.source.id") }
            guard let f = try call.services.store.file(id: id, project: call.principal.projectID) else {
                throw APIError.invalid("data_source.source.id", "No file with id '\(id)' in this project; upload it with purpose 'evals' first.", code: "invalid_file")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: call.services.store.contentPath(of: f)))
            for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
                    throw APIError.invalid("data_source.source.id", "File \(id) is not JSONL: line \(n + 1) is not JSON. Each line must be an object like {\"item\": {…}}.", code: "invalid_file")
                }
                lines.append((object, "data_source.source.id (line \(n + 1))"))
            }
        case let other:
            throw APIError.invalid("data_source.source.type", "Tailor reads sources of type 'file_content' and 'file_id'; '\(other ?? "none")' is not supported.", code: "unsupported_value")
        }
        guard !lines.isEmpty else { throw APIError.invalid("data_source.source", "The data source has no items; give at least one.") }
        return try lines.map { entry, where_ in
            let param = where_.hasPrefix("data_source.source.id") ? "data_source.source.id" : where_
            guard let d = entry as? [String: Any], let item = d["item"] as? [String: Any] else {
                throw APIError.invalid(param, "\(where_) must be an object with an 'item' object (and optionally a 'sample' object).")
            }
            if let sample = d["sample"], !(sample is [String: Any]) {
                throw APIError.invalid(param, "\(where_): 'sample' must be an object, e.g. {\"output_text\": \"…\"}.")
            }
            if let schema, let problem = schema.violation(item) {
                throw APIError.invalid(param, "\(where_) does not match the eval's item_schema: \(problem).", code: "invalid_item")
            }
            var out: [String: Any] = ["item": item]
            if let sample = d["sample"] { out["sample"] = sample }
            return out
        }
    }

    static func run(_ call: APICall) throws -> EvalRunRecord {
        let e = try EvalHandlers.eval(call)
        let id = call.param("run_id")
        guard let r = try call.services.store.evalRun(id: id, evalID: e.id, project: call.principal.projectID) else {
            throw APIError(.notFound, "No run found with id '\(id)' in eval '\(e.id)'.", param: "run_id", code: "not_found")
        }
        return r
    }

    static func list(_ call: APICall) throws -> HTTPResponse {
        let e = try EvalHandlers.eval(call)
        let limit = try Query.int(call, "limit", default: 20, range: Store.evalListLimits)
        let order = try Query.order(call, default: .asc)
        var status: EvalRunStatus?
        if let given = call.query("status") {
            guard let parsed = EvalRunStatus(rawValue: given) else {
                throw APIError.invalid("status", "'status' must be one of \(EvalRunStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            status = parsed
        }
        let page = try call.services.store.listEvalRuns(evalID: e.id, after: call.query("after"), limit: limit, order: order, status: status)
        let origin = EvalWire.origin(call)
        return Wire.list(page.items.map { EvalWire.run($0, origin: origin) }, hasMore: page.hasMore, ids: page.items.map(\.id)).response
    }

    static func retrieve(_ call: APICall) throws -> HTTPResponse {
        EvalWire.run(try run(call), origin: EvalWire.origin(call)).response
    }

    /// Cancelling a canceled run answers it again; a completed or failed one cannot be cancelled.
    static func cancel(_ call: APICall) throws -> HTTPResponse {
        let r = try run(call)
        let (applied, updated) = try call.services.evals.cancel(r.id)
        let now = updated ?? r
        if !applied && now.status != .canceled {
            throw APIError.invalid("run_id", "Run \(r.id) is \(now.status.rawValue) and can no longer be cancelled.", code: "invalid_state")
        }
        return EvalWire.run(now, origin: EvalWire.origin(call)).response
    }

    static func delete(_ call: APICall) throws -> HTTPResponse {
        let r = try run(call)
        if !r.status.isTerminal { try call.services.evals.cancel(r.id) }
        _ = try call.services.store.deleteEvalRun(id: r.id, evalID: r.evalID, project: call.principal.projectID)
        return JSONValue.object([("object", "eval.run.deleted"), ("deleted", true), ("run_id", .string(r.id))]).response
    }

    static func outputItems(_ call: APICall) throws -> HTTPResponse {
        let r = try run(call)
        let limit = try Query.int(call, "limit", default: 20, range: Store.evalListLimits)
        let order = try Query.order(call, default: .asc)
        let status = call.query("status")
        if let status, !["pass", "fail"].contains(status) { throw APIError.invalid("status", "'status' must be 'pass' or 'fail'.") }
        let page = try call.services.store.listEvalOutputItems(runID: r.id, after: call.query("after"), limit: limit,
                                                               order: order, status: status)
        return Wire.list(page.items.map(EvalWire.outputItem), hasMore: page.hasMore, ids: page.items.map(\.id)).response
    }

    static func outputItem(_ call: APICall) throws -> HTTPResponse {
        let r = try run(call)
        let id = call.param("output_item_id")
        guard let o = try call.services.store.evalOutputItem(id: id, runID: r.id) else {
            throw APIError(.notFound, "No output item found with id '\(id)' in run '\(r.id)'.", param: "output_item_id", code: "not_found")
        }
        return EvalWire.outputItem(o).response
    }
}
