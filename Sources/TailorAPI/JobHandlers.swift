// /v1/fine_tuning/jobs: create (validated here, field by field, then queued for file validation), list, retrieve,
// cancel, pause, resume, events (also as a live SSE stream), checkpoints.
import Foundation
import TailorHTTP
import TailorEngine
import TailorJobs
import TailorStore

enum JobHandlers {
    static func create(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let s = call.services, project = call.principal.projectID
        let model = try body.requiredString("model")
        // A base model, one of the project's fine-tuned models, or one of its checkpoints (as OpenAI allows), of
        // either kind.
        let encoderDecoderStart = try s.registry.encoderDecoderStart(model, project: project)
        let encoderDecoder = encoderDecoderStart != nil
        guard try encoderDecoder || s.registry.locate(model, project: project) != nil else {
            throw APIError(.badRequest, "Model \(model) is not available for fine-tuning or does not exist. Available base models: \(s.registry.baseOrder.joined(separator: ", ")).", param: "model", code: "model_not_available")
        }
        let training = try body.requiredString("training_file")
        try checkFile(training, param: "training_file", call)
        let validation = try body.string("validation_file")
        if let validation { try checkFile(validation, param: "validation_file", call) }

        var hyper = HyperparameterRequest()
        var methodType = "supervised"
        if let method = try body.object("method") {
            methodType = try method.requiredString("type").lowercased()
            guard methodType == "supervised" || methodType == "dpo" else {
                throw APIError.invalid("method.type", "Tailor supports the 'supervised' and 'dpo' fine-tuning methods; '\(methodType)' is not supported.", code: "unsupported_method")
            }
            if let h = try method.object(methodType)?.object("hyperparameters") {
                hyper = try parseHyper(h, prefix: "method.\(methodType).hyperparameters.", dpo: methodType == "dpo")
            }
        }
        if let h = try body.object("hyperparameters") {
            let legacy = try parseHyper(h, prefix: "hyperparameters.")
            if body.has("method") && legacy != hyper && legacy != HyperparameterRequest() {
                throw APIError.invalid("hyperparameters", "'hyperparameters' conflicts with 'method.\(methodType).hyperparameters'; give the values in 'method' only.")
            }
            if !body.has("method") { hyper = legacy }
        }
        let suffix = try body.string("suffix")
        if let suffix {
            guard (1...64).contains(suffix.count), suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                throw APIError.invalid("suffix", "'suffix' must be 1 to 64 characters of letters, digits, '.', '_' and '-' (it becomes part of the model name).")
            }
        }
        let seed = try body.integer("seed", in: 0...2_147_483_647) ?? Int.random(in: 0...2_147_483_647)
        let metadata = try parseMetadata(body)
        var integrations: String?
        if let i = body.raw("integrations") {
            guard i is [Any] else { throw APIError.invalid("integrations", "'integrations' must be an array.", code: "invalid_type") }
            integrations = String(decoding: try JSONSerialization.data(withJSONObject: i, options: [.sortedKeys]), as: UTF8.self)
        }
        var options = JobOptions()
        var evaluation: JobEvaluationRequest?
        if let t = body.raw("tailor") {
            guard var given = t as? [String: Any] else { throw APIError.invalid("tailor", "'tailor' must be an object of Tailor's job options.", code: "invalid_type") }
            let names = JobOptions.names + ["evaluation"]
            if let unknown = given.keys.sorted().first(where: { !names.contains($0) }) {
                throw APIError.invalid("tailor.\(unknown)", "'\(unknown)' is not a Tailor job option; the options are \(names.joined(separator: ", ")).", code: "unknown_parameter")
            }
            // The evaluation holds graders (any JSON): checked and stored on its own, not among the typed options,
            // after them (a field mapping decides how its test file is read).
            let evaluationRequest = given.removeValue(forKey: "evaluation")
            let data = try JSONSerialization.data(withJSONObject: given)
            guard let o = try? JSONDecoder().decode(JobOptions.self, from: data) else {
                throw APIError.invalid("tailor", "'tailor' options have a value of the wrong type.")
            }
            if let problem = o.validate() {
                throw APIError.invalid(problem.hasPrefix("tailor.training_type") ? "tailor.training_type" : "tailor", problem)
            }
            if o.isFull, let l = try s.registry.locate(model, project: project) {
                // The weights, their gradients and two moments alone (activations come on top, checked with the data).
                let fixed = FullParameters.bytes(l.base.transformer.config)
                if fixed > s.runner.trainingMemoryLimit {
                    throw APIError.invalid("tailor.training_type", "Full fine-tuning of \(model) needs at least \(JobRunner.megabytes(fixed)) of memory (every weight, its gradient and two AdamW moments in fp32) but this server lets a job use \(JobRunner.megabytes(s.runner.trainingMemoryLimit)). Use LoRA (the default), or raise the server's --training-memory-mb.")
                }
            }
            if let mapping = o.fieldMapping { try checkMapping(mapping, options: o, training: training, method: methodType, call) }
            options = o
            if let e = evaluationRequest { evaluation = try JobEvaluationRequest.parse(e, training: training, mapping: o.fieldMapping, call) }
        }
        if let start = encoderDecoderStart {
            try checkEncoderDecoderJob(model, start: start, options: options, method: methodType, call)
        } else if let l = try s.registry.locate(model, project: project), let directory = l.adapterDirectory {
            try checkContinuation(model, base: l.base.name, directory: directory, full: options.isFull)
        }
        let id = IDGenerator.make(prefix: "ftjob-")
        var job = JobRecord(id: id, projectID: project, model: model, trainingFile: training, validationFile: validation,
                            status: .validatingFiles,
                            hyperparameters: String(decoding: try JSONEncoder().encode(hyper), as: UTF8.self),
                            methodType: methodType, suffix: suffix, seed: seed, metadata: metadata, integrations: integrations,
                            options: String(decoding: try JSONEncoder().encode(options), as: UTF8.self),
                            createdAt: Int(Date().timeIntervalSince1970))
        job.evaluationFile = evaluation?.file
        job.evaluationGraders = evaluation?.graders
        try s.store.createJob(job)
        try s.events.emit(id, "Created fine-tuning job: \(id)")
        s.runner.wake()
        call.logger.info("job created", metadata: ["job": "\(id)", "model": "\(model)"])
        return Wire.job(job, project: call.principal.projectName).response
    }

    /// A job continuing a fine-tuned model (decoder or T5) trains what that model is: a LoRA model's adapter (LoRA), a fully
    /// fine-tuned model's every weight (full fine-tuning, starting from its weights).
    static func checkContinuation(_ model: String, base: String, directory: String, full: Bool) throws {
        switch (FullModelFiles.isFullModel(directory), full) {
        case (true, false):
            throw APIError.invalid("model", "\(model) is a fully fine-tuned model: continue it with \"tailor\": {\"training_type\": \"full\"}, or start a LoRA job from the base model \(base).", code: "model_not_available")
        case (false, true):
            throw APIError.invalid("model", "\(model) is a LoRA fine-tuned model: full fine-tuning starts from a base model (\(base)) or a fully fine-tuned one; a LoRA job (the default) continues this one's adapter.")
        default: return
        }
    }

    /// What a job on an encoder–decoder (T5) model cannot be yet: DPO; a full
    /// fine-tuning whose weights, gradients and moments alone exceed the server's training memory; a continuation
    /// that is not of the model's own kind (checkContinuation).
    static func checkEncoderDecoderJob(_ model: String, start: (baseName: String, directory: String?), options: JobOptions,
                                       method: String, _ call: APICall) throws {
        let s = call.services
        if let directory = start.directory {
            try checkContinuation(model, base: start.baseName, directory: directory, full: options.isFull)
        }
        if options.isFull, let t5 = s.registry.encoderDecoder(named: start.baseName) {
            // The weights, their gradients and two moments alone (activations come on top, checked with the data).
            let fixed = T5FullParameters.bytes(t5.config)
            if fixed > s.runner.trainingMemoryLimit {
                throw APIError.invalid("tailor.training_type", "Full fine-tuning of \(model) needs at least \(JobRunner.megabytes(fixed)) of memory (every weight, its gradient and two AdamW moments in fp32) but this server lets a job use \(JobRunner.megabytes(s.runner.trainingMemoryLimit)). Use LoRA (the default), or raise the server's --training-memory-mb.")
            }
        }
        if method != "supervised" {
            throw APIError.invalid("method.type", "\(model) is an encoder-decoder (T5) model: it is fine-tuned with the 'supervised' method only; '\(method)' is not supported for it.", code: "unsupported_method")
        }
    }

    /// A field mapping is checked against the training file's first record when the job is created, so a misspelt
    /// field is a 400 naming the option rather than a job failing later (every line is checked when the job runs).
    static func checkMapping(_ mapping: FieldMapping, options o: JobOptions, training: String, method: String, _ call: APICall) throws {
        let param = o.inputField != nil ? "tailor.input_field" : o.targetField != nil ? "tailor.target_field" : "tailor.max_source_tokens"
        guard method == "supervised" else {
            throw APIError.invalid(param, "Field mapping and truncation apply to supervised jobs; a \(method) job reads preference pairs.")
        }
        guard let f = try call.services.store.file(id: training, project: call.principal.projectID),
              let handle = FileHandle(forReadingAtPath: call.services.store.contentPath(of: f)) else { return }
        defer { try? handle.close() }
        // The first non-blank line within the first 8 MiB; a longer first record is left to the job's own check.
        let head = (try? handle.read(upToCount: 8 << 20)) ?? Data()
        guard let line = head.split(separator: UInt8(ascii: "\n")).first(where: { !$0.allSatisfy { $0 == 32 || $0 == 13 || $0 == 9 } }),
              let record = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { return }
        for (name, field) in [("tailor.input_field", mapping.input), ("tailor.target_field", mapping.target)] where !(record[field] is String) {
            let what = record[field] == nil ? "has no \"\(field)\" field (its fields: \(record.keys.sorted().joined(separator: ", ")))"
                                             : "holds \"\(field)\" as something other than a string"
            throw APIError(.badRequest, "The first record of training file \(training) \(what); set \(name) to the field that holds the text.",
                           param: name, code: "invalid_training_file")
        }
    }

    /// `tailor.evaluation`: a test file (purpose fine-tune or evals, JSONL, every line a chat example ending in an
    /// assistant turn or a prompt/completion pair, in one format) and optionally the graders, checked as an eval's
    /// testing criteria are against the items the file becomes.
    struct JobEvaluationRequest {
        var file: String
        var graders: String?

        /// `mapping`: the job's field mapping, which the test file is read with too.
        static func parse(_ raw: Any, training: String, mapping: FieldMapping?, _ call: APICall) throws -> JobEvaluationRequest {
            let p = "tailor.evaluation"
            guard let e = raw as? [String: Any] else { throw APIError.invalid(p, "'\(p)' must be an object like {\"file\": \"file-…\"}.", code: "invalid_type") }
            if let unknown = e.keys.sorted().first(where: { !["file", "graders"].contains($0) }) {
                throw APIError.invalid("\(p).\(unknown)", "'\(unknown)' is not an evaluation option; give 'file' and optionally 'graders'.", code: "unknown_parameter")
            }
            guard let file = e["file"] as? String else {
                if e["file"] == nil { throw APIError.missing(p + ".file") }
                throw APIError.invalid(p + ".file", "'\(p).file' must be a file id.", code: "invalid_type")
            }
            guard let f = try call.services.store.file(id: file, project: call.principal.projectID) else {
                throw APIError(.badRequest, "invalid \(p).file: \(file) does not exist in this project; upload the test file first.", param: p + ".file", code: "invalid_file")
            }
            guard f.purpose == "fine-tune" || f.purpose == "evals" else {
                throw APIError(.badRequest, "File \(file) has purpose '\(f.purpose)'; a test file must be uploaded with purpose 'fine-tune' or 'evals'.", param: p + ".file", code: "invalid_file_purpose")
            }
            let set: JobEvaluation.TestSet
            do {
                set = try JobEvaluation.read(try Data(contentsOf: URL(fileURLWithPath: call.services.store.contentPath(of: f))), mapping: mapping)
            } catch let err as JobEvaluation.TestFileError {
                let shape = mapping.map { "a record with the job's \"\($0.input)\" and \"\($0.target)\" fields" }
                    ?? "a chat example ending in the assistant's reference answer, or a prompt/completion pair"
                throw APIError(.badRequest, "Test file \(file) cannot be evaluated: \(err). Each line must be \(shape).", param: p + ".file", code: "invalid_file")
            }
            // The model is asked as it was trained: chat data through the chat template, prompt/completion data as
            // plain text. A test file of the other kind would measure the format change, not the fine-tune.
            if mapping == nil, let t = try call.services.store.file(id: training, project: call.principal.projectID),
               let head = FileHandle(forReadingAtPath: call.services.store.contentPath(of: t))?.readData(ofLength: 1 << 20),
               let trained = JobEvaluation.trainingFormat(head), trained != set.format {
                throw APIError(.badRequest, "Test file \(file) has \(set.format.rawValue) lines but the training file \(training) has \(trained.rawValue) lines; give a test file in the training file's format.", param: p + ".file", code: "invalid_file")
            }
            var graders: String?
            if let g = e["graders"], !(g is NSNull) {
                let fields: Set<String> = [set.format.inputField, "reference"]
                let list = try EvalHandlers.parseCriteria(g, param: p + ".graders", fields: fields, call)
                graders = try EvalDefinition.json(list)
            }
            return JobEvaluationRequest(file: file, graders: graders)
        }
    }

    static func checkFile(_ id: String, param: String, _ call: APICall) throws {
        guard let f = try call.services.store.file(id: id, project: call.principal.projectID) else {
            throw APIError(.badRequest, "invalid \(param): \(id)", param: param, code: "invalid_file")
        }
        guard f.purpose == "fine-tune" else {
            throw APIError(.badRequest, "File \(id) has purpose '\(f.purpose)'; a \(param) must be uploaded with purpose 'fine-tune'.", param: param, code: "invalid_file_purpose")
        }
    }

    static func parseHyper(_ h: RequestBody, prefix: String, dpo: Bool = false) throws -> HyperparameterRequest {
        func value(_ key: String, _ range: ClosedRange<Double>?, integer: Bool) throws -> HyperparameterRequest.Value {
            guard let raw = h.raw(key) else { return .auto }
            if let s = raw as? String {
                guard s == "auto" else { throw APIError.invalid(prefix + key, "'\(prefix + key)' must be \"auto\" or a number.") }
                return .auto
            }
            let v = integer ? Double(try h.integer(key, in: range.map { Int($0.lowerBound)...Int($0.upperBound) }, param: prefix + key)!)
                            : try h.number(key, param: prefix + key)!
            if !integer, let range, !(v > range.lowerBound && v <= range.upperBound) {
                let what = key == "beta" ? "β weighs how far DPO may move the model from where it started; OpenAI's default is 0.1."
                                         : "It multiplies Tailor's base LoRA learning rate: 0.1 to 2 is the useful range."
                throw APIError.invalid(prefix + key, "'\(prefix + key)' must be greater than \(RequestBody.fmt(range.lowerBound)) and at most \(RequestBody.fmt(range.upperBound)); got \(v). \(what)")
            }
            return .number(v)
        }
        if !dpo && h.has("beta") {
            throw APIError.invalid(prefix + "beta", "'beta' is a hyperparameter of the 'dpo' method only.", code: "unknown_parameter")
        }
        return HyperparameterRequest(nEpochs: try value("n_epochs", 1...50, integer: true),
                                     batchSize: try value("batch_size", 1...256, integer: true),
                                     learningRateMultiplier: try value("learning_rate_multiplier", 0...10, integer: false),
                                     beta: dpo ? try value("beta", 0...2, integer: false) : nil)
    }

    static func parseMetadata(_ body: RequestBody) throws -> String? {
        guard let raw = body.raw("metadata") else { return nil }
        guard let d = raw as? [String: Any] else { throw APIError.invalid("metadata", "'metadata' must be an object of strings.", code: "invalid_type") }
        guard d.count <= 16 else { throw APIError.invalid("metadata", "'metadata' may have at most 16 keys.") }
        for (k, v) in d {
            guard k.count <= 64 else { throw APIError.invalid("metadata", "metadata key '\(k.prefix(20))…' is longer than 64 characters.") }
            guard let s = v as? String, s.count <= 512 else { throw APIError.invalid("metadata", "metadata['\(k)'] must be a string of at most 512 characters.") }
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: d, options: [.sortedKeys]), as: UTF8.self)
    }

    static func job(_ call: APICall) throws -> JobRecord {
        let id = call.param("id")
        guard let j = try call.services.store.job(id: id, project: call.principal.projectID) else {
            throw APIError(.notFound, "No such fine-tuning job: \(id)", param: "fine_tuning_job_id")
        }
        return j
    }

    static func list(_ call: APICall) throws -> HTTPResponse {
        let limit = try Query.int(call, "limit", default: 20, range: 1...100)
        var metadata: [String: String] = [:]
        var metadataIsNull = false
        for (name, value) in call.head.query {
            if name == "metadata" && value == "null" { metadataIsNull = true }
            if name.hasPrefix("metadata["), name.hasSuffix("]") { metadata[String(name.dropFirst(9).dropLast())] = value }
        }
        let page = try call.services.store.listJobs(project: call.principal.projectID, after: call.query("after"), limit: limit,
                                                    metadata: metadata, metadataIsNull: metadataIsNull)
        return Wire.list(page.items.map { Wire.job($0, project: call.principal.projectName) }, hasMore: page.hasMore).response
    }

    static func retrieve(_ call: APICall) throws -> HTTPResponse {
        Wire.job(try job(call), project: call.principal.projectName).response
    }

    /// Pause, resume or cancel, through the same lifecycle as every other writer: decided and saved in one
    /// transaction, so a worker's own change at the same moment cannot overwrite it (or be overwritten).
    static func act(_ event: LifecycleEvent) -> APIHandler {
        { call in
            let j = try job(call)
            let (outcome, updated) = try call.services.runner.transition(j.id, event)
            if case .invalid(let why) = outcome {
                throw APIError(.badRequest, "Cannot \(event.name) job \(j.id): \(why).", param: "fine_tuning_job_id", code: "invalid_state")
            }
            return Wire.job(updated ?? j, project: call.principal.projectName).response
        }
    }

    static func events(_ call: APICall) throws -> HTTPResponse {
        let j = try job(call)
        if call.query("stream") == "true" { return call.services.jobEventStreams.response(job: j, services: call.services) }
        let limit = try Query.int(call, "limit", default: 20, range: 1...100)
        let page = try call.services.store.listEvents(job: j.id, after: call.query("after"), limit: limit)
        return Wire.list(page.items.map(Wire.event), hasMore: page.hasMore).response
    }

    static func checkpoints(_ call: APICall) throws -> HTTPResponse {
        let j = try job(call)
        let limit = try Query.int(call, "limit", default: 10, range: 1...100)
        let page = try call.services.store.listCheckpoints(job: j.id, after: call.query("after"), limit: limit)
        return Wire.list(page.items.map(Wire.checkpoint), hasMore: page.hasMore, ids: page.items.map(\.id)).response
    }
}
