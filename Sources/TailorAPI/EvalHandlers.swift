// /v1/evals: create (the data source config and every testing criterion checked here, so a run cannot fail on a
// typo), list, retrieve, update (name, metadata), delete (its runs are cancelled, then removed with it). Runs and
// output items are EvalRunHandlers'; graders and templates are TailorEval's.
import Foundation
import TailorEval
import TailorHTTP
import TailorJobs
import TailorStore

enum EvalHandlers {
    static func create(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let name = try body.string("name") ?? "eval"
        let metadata = try JobHandlers.parseMetadata(body)
        guard let config = try body.object("data_source_config") else { throw APIError.missing("data_source_config") }
        let type = try config.string("type", param: "data_source_config.type")
        guard type == "custom" else {
            throw APIError.invalid("data_source_config.type", "Tailor supports data_source_config of type 'custom'; '\(type ?? "none")' needs stored chat logs, which Tailor does not keep.", code: "unsupported_value")
        }
        guard let itemSchema = config.raw("item_schema") as? [String: Any] else {
            if config.has("item_schema") { throw APIError.invalid("data_source_config.item_schema", "'data_source_config.item_schema' must be a JSON Schema object.", code: "invalid_type") }
            throw APIError.missing("data_source_config.item_schema")
        }
        let schema: ItemSchema
        do { schema = try ItemSchema(itemSchema) } catch {
            throw APIError.invalid("data_source_config.item_schema", "\(error).", code: "unsupported_schema")
        }
        let includeSample = try config.bool("include_sample_schema") ?? false
        let criteria = try parseCriteria(body.raw("testing_criteria"), param: "testing_criteria", fields: schema.declaredFields, call)
        let eval = try EvalDefinition.eval(project: call.principal.projectID, name: name, itemSchema: itemSchema,
                                           includeSample: includeSample, criteria: EvalDefinition.criteriaWithIDs(criteria),
                                           metadata: metadata)
        try call.services.store.createEval(eval)
        call.logger.info("eval created", metadata: ["eval": "\(eval.id)"])
        return EvalWire.eval(eval).response
    }

    /// Every criterion parsed as the runs will parse it, names unique, every `{{item.x}}` a field the item schema
    /// declares (when it declares any), and every grading model one the project can use. `param` is where the list
    /// sits (`testing_criteria`, or `tailor.evaluation.graders` of a fine-tuning job). Returns the criteria as given.
    static func parseCriteria(_ raw: Any?, param listParam: String, fields: Set<String>?, _ call: APICall) throws -> [[String: Any]] {
        guard let raw else { throw APIError.missing(listParam) }
        guard let list = raw as? [Any], !list.isEmpty else {
            throw APIError.invalid(listParam, "'\(listParam)' must be a non-empty array of graders.", code: "invalid_type")
        }
        var names = Set<String>()
        return try list.enumerated().map { i, any in
            let param = "\(listParam)[\(i)]"
            guard let c = any as? [String: Any] else { throw APIError.invalid(param, "'\(param)' must be a grader object.", code: "invalid_type") }
            let grader = try parseGrader(c, param: param, requireThreshold: true)
            guard names.insert(grader.name).inserted else {
                throw APIError.invalid(param + ".name", "Two testing criteria are named '\(grader.name)'; give each a distinct name, since results are reported by name.")
            }
            try checkReferences(grader.templates, fields: fields, param: param)
            try checkGradingModel(grader, param: param, call)
            return c
        }
    }

    /// A model grader's model must be one this project can run: a base model, or its own ft: model or checkpoint.
    static func checkGradingModel(_ grader: EvalGrader, param: String, _ call: APICall) throws {
        guard let model = grader.gradingModel else { return }
        if case .encoderDecoder? = try call.services.registry.served(model, project: call.principal.projectID) {
            throw APIError.invalid(param + ".model", "'\(model)' is an encoder-decoder (T5) model; model graders run on decoder models only for now.", code: "unsupported_model")
        }
        guard try call.services.registry.locate(model, project: call.principal.projectID) != nil else {
            throw APIError.invalid(param + ".model", "The grading model '\(model)' does not exist or you do not have access to it. Available base models: \(call.services.registry.baseOrder.joined(separator: ", ")); fine-tuned models and checkpoints of this project work too.", code: "model_not_found")
        }
    }

    static func parseGrader(_ json: [String: Any], param: String, requireThreshold: Bool) throws -> EvalGrader {
        do { return try EvalGrader.parse(json, param: param, requireThreshold: requireThreshold) } catch let e as EvalParameterError {
            throw APIError.invalid(e.param, e.message, code: e.code)
        }
    }

    /// A `{{item.x}}` whose x the schema does not declare would error on every item; refused now instead.
    static func checkReferences(_ templates: [TemplateString], fields: Set<String>?, param: String) throws {
        guard let fields else { return }
        for t in templates {
            for r in t.references where r.namespace == "item" && !fields.contains(r.path[1]) {
                throw APIError.invalid(param, "The template '\(t.source)' names {{\(r.text)}}, but the item_schema has no property '\(r.path[1])' (it has \(fields.sorted().joined(separator: ", "))); add it to the schema or fix the template.", code: "invalid_template")
            }
        }
    }

    static func eval(_ call: APICall) throws -> EvalRecord {
        let id = call.param("eval_id")
        guard let e = try call.services.store.eval(id: id, project: call.principal.projectID) else {
            throw APIError(.notFound, "No eval found with id '\(id)'.", param: "eval_id", code: "not_found")
        }
        return e
    }

    static func list(_ call: APICall) throws -> HTTPResponse {
        let limit = try Query.int(call, "limit", default: 20, range: Store.evalListLimits)
        let order = try Query.order(call, default: .asc)
        if let by = call.query("order_by"), by != "created_at" {
            throw APIError.invalid("order_by", "Tailor lists evals by 'created_at' only; evals keep no update time yet.")
        }
        let page = try call.services.store.listEvals(project: call.principal.projectID, after: call.query("after"),
                                                     limit: limit, order: order)
        return Wire.list(page.items.map(EvalWire.eval), hasMore: page.hasMore, ids: page.items.map(\.id)).response
    }

    static func retrieve(_ call: APICall) throws -> HTTPResponse { EvalWire.eval(try eval(call)).response }

    static func update(_ call: APICall) throws -> HTTPResponse {
        let e = try eval(call)
        let body = try RequestBody(call.request)
        let name = try body.string("name")
        let metadata = try JobHandlers.parseMetadata(body)
        let updated = try call.services.store.updateEval(id: e.id, project: call.principal.projectID) { row in
            if let name { row.name = name }
            if body.has("metadata") { row.metadata = metadata }
        }
        return EvalWire.eval(updated ?? e).response
    }

    static func delete(_ call: APICall) throws -> HTTPResponse {
        let e = try eval(call)
        let s = call.services
        // Stop what is executing first, so the run thread is not writing into rows that are going away.
        for run in try s.store.evalRuns(withStatus: [.queued, .inProgress]) where run.evalID == e.id {
            try s.evals.cancel(run.id)
        }
        _ = try s.store.deleteEval(id: e.id, project: call.principal.projectID)
        return JSONValue.object([("object", "eval.deleted"), ("deleted", true), ("eval_id", .string(e.id))]).response
    }
}
