// OpenAI's objects as JSON, built from store records: one function per object, keys in OpenAI's order, every
// required key present (null where there is no value). The shapes follow the official OpenAPI spec.
import Foundation
import TailorHTTP
import TailorJobs
import TailorStore

enum Wire {
    static func file(_ f: FileRecord) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(f.id)), ("object", "file"), ("bytes", .int(f.bytes)), ("created_at", .int(f.createdAt)),
            ("filename", .string(f.filename)), ("purpose", .string(f.purpose)), ("status", .string(f.status.rawValue)),
        ]
        if let e = f.expiresAt { pairs.append(("expires_at", .int(e))) }
        if let d = f.statusDetails { pairs.append(("status_details", .string(d))) }
        return .object(pairs)
    }

    /// OpenAI's Upload object; `file` once it is completed.
    static func upload(_ u: UploadRecord, file: FileRecord?) -> JSONValue {
        .object([("id", .string(u.id)), ("object", "upload"), ("bytes", .int(u.bytes)), ("created_at", .int(u.createdAt)),
                 ("filename", .string(u.filename)), ("purpose", .string(u.purpose)),
                 ("status", .string(u.status(at: Int(Date().timeIntervalSince1970)))), ("expires_at", .int(u.expiresAt)),
                 ("file", file.map(Wire.file) ?? .null)])
    }

    static func deleted(_ id: String, object: String) -> JSONValue {
        .object([("id", .string(id)), ("object", .string(object)), ("deleted", true)])
    }

    /// `{"object":"list","data":[…],"has_more":…}` plus first_id/last_id where OpenAI has them.
    static func list(_ items: [JSONValue], hasMore: Bool, ids: [String]? = nil) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("object", "list"), ("data", .array(items))]
        if let ids {
            pairs.append(("first_id", .optional(ids.first)))
            pairs.append(("last_id", .optional(ids.last)))
        }
        pairs.append(("has_more", .bool(hasMore)))
        return .object(pairs)
    }

    static func model(id: String, created: Int, ownedBy: String, extra: [(String, JSONValue)] = []) -> JSONValue {
        .object([("id", .string(id)), ("object", "model"), ("created", .int(created)), ("owned_by", .string(ownedBy))] + extra)
    }

    static func job(_ j: JobRecord, project: String) -> JSONValue {
        // While validating or queued the hyperparameters echo what was asked ("auto"); once running, the values used.
        let hyper = JSONValue.parse(j.resolvedHyperparameters ?? j.hyperparameters)
        let error: JSONValue = j.error.map { JSONValue.parse($0) } ?? .null
        return .object([
            ("object", "fine_tuning.job"), ("id", .string(j.id)), ("model", .string(j.model)),
            ("created_at", .int(j.createdAt)), ("finished_at", .optional(j.finishedAt)),
            ("fine_tuned_model", .optional(j.fineTunedModel)), ("organization_id", .string("org-\(project)")),
            ("result_files", JSONValue.parse(j.resultFiles)), ("status", .string(j.status.rawValue)),
            ("validation_file", .optional(j.validationFile)), ("training_file", .string(j.trainingFile)),
            ("hyperparameters", hyper), ("trained_tokens", .optional(j.trainedTokens)), ("error", error),
            ("user_provided_suffix", .optional(j.suffix)), ("seed", .int(j.seed)),
            ("estimated_finish", .optional(j.estimatedFinish)),
            ("integrations", j.integrations.map { JSONValue.parse($0) } ?? []),
            ("metadata", j.metadata.map { JSONValue.parse($0) } ?? .null),
            ("method", .object([("type", .string(j.methodType)), (j.methodType, .object([("hyperparameters", hyper)]))])),
            ("tailor", .object([("step", .int(j.step)), ("total_steps", .optional(j.totalSteps)),
                                ("options", JSONValue.parse(j.options))] + evaluation(j))),
        ])
    }

    /// `tailor.evaluation` of a job that asked for one: the test file, the graders asked for (null: the default
    /// set), and once the job has succeeded its eval and the two runs' ids (and `error` if they could not be made).
    static func evaluation(_ j: JobRecord) -> [(String, JSONValue)] {
        guard let file = j.evaluationFile else { return [] }
        var fields: [(String, JSONValue)] = [("file", .string(file)), ("graders", j.evaluationGraders.map { JSONValue.parse($0) } ?? .null)]
        let link = JobEvaluation.Link.decode(j.evaluationRuns)
        fields += [("eval_id", .optional(link?.evalID)), ("base_run_id", .optional(link?.baseRunID)),
                   ("fine_tuned_run_id", .optional(link?.fineTunedRunID)), ("error", .optional(link?.error))]
        return [("evaluation", .object(fields))]
    }

    static func event(_ e: JobEventRecord) -> JSONValue {
        .object([("object", "fine_tuning.job.event"), ("id", .string(e.id)), ("created_at", .int(e.createdAt)),
                 ("level", .string(e.level)), ("message", .string(e.message)),
                 ("data", e.data.map { JSONValue.parse($0) } ?? .object([])), ("type", .string(e.type))])
    }

    static func checkpoint(_ c: CheckpointRecord) -> JSONValue {
        .object([("object", "fine_tuning.job.checkpoint"), ("id", .string(c.id)), ("created_at", .int(c.createdAt)),
                 ("fine_tuned_model_checkpoint", .string(c.modelName)), ("fine_tuning_job_id", .string(c.jobID)),
                 ("metrics", JSONValue.parse(c.metrics)), ("step_number", .int(c.stepNumber))])
    }
}

extension JSONValue {
    var response: HTTPResponse { .json(status: 200, bytes: bytes) }
}
