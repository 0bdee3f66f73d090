// /v1/models: base models for everyone, fine-tuned models for their project; only fine-tuned models can be deleted.
import Foundation
import TailorEngine
import TailorHTTP
import TailorJobs

enum ModelHandlers {
    static func list(_ call: APICall) throws -> HTTPResponse {
        let models = try call.services.registry.listModels(project: call.principal.projectID)
        return JSONValue.object([("object", "list"),
                                 ("data", .array(models.map { Wire.model(id: $0.id, created: $0.created, ownedBy: $0.ownedBy) }))]).response
    }

    static func resolve(_ call: APICall) throws -> ServedModel {
        let id = call.param("model")
        guard let m = try call.services.registry.served(id, project: call.principal.projectID) else {
            throw APIError(.notFound, "The model `\(id)` does not exist or you do not have access to it.", param: "model", code: "model_not_found")
        }
        return m
    }

    static func retrieve(_ call: APICall) throws -> HTTPResponse {
        let m = try resolve(call)
        // Tailor's own facts about the model, beside OpenAI's fields: how its chats carry tools (README, "Tools").
        let tailor: JSONValue
        switch m {
        case .decoder(let m):
            tailor = .object([
                ("base_model", .string(m.base.trainedFrom ?? m.base.name)), ("architecture", "decoder"),
                ("chat_template", .string(m.base.usesFallbackTemplate ? "chatml (the model has none)" : "the model's own")),
                ("tool_format", .string(m.base.toolFormat.rawValue)),
            ])
        case .encoderDecoder(let m):
            tailor = .object([
                ("base_model", .string(m.baseName)), ("architecture", "encoder-decoder"),
                ("chat_template", "none (the source text is the system messages and the last user message, one per line)"),
                ("tool_format", "none"),
            ])
        }
        return Wire.model(id: m.id, created: m.created, ownedBy: m.ownedBy, extra: [("tailor", tailor)]).response
    }

    static func delete(_ call: APICall) throws -> HTTPResponse {
        let m = try resolve(call)
        switch m.kind {
        case .base:
            throw APIError(.forbidden, "Base models cannot be deleted; remove \(m.id) from the server's --model options or with `tailor models remove`.", param: "model", code: "model_not_deletable")
        case .checkpoint:
            throw APIError(.forbidden, "\(m.id) is a checkpoint of a fine-tuning job; checkpoints are kept with their job and cannot be deleted on their own.", param: "model", code: "model_not_deletable")
        case .fineTuned:
            guard try call.services.runner.deleteFineTunedModel(m.id, project: call.principal.projectID) else {
                throw APIError(.notFound, "The model `\(m.id)` does not exist or you do not have access to it.", param: "model", code: "model_not_found")
            }
            call.logger.info("model deleted", metadata: ["model": "\(m.id)"])
            return Wire.deleted(m.id, object: "model").response
        }
    }
}

enum StatusHandlers {
    static func healthz(_ call: APICall) throws -> HTTPResponse {
        .json(status: 200, bytes: Array(#"{"status":"ok"}"#.utf8))
    }

    static func status(_ call: APICall) throws -> HTTPResponse {
        let s = call.services
        let stats = s.inference.currentStats
        // A key sees its own project's jobs; the server's layout (data path, disk use) is for admin keys only.
        let caller = call.principal
        let running = s.runner.runningJobs.filter { caller.isAdmin || $0.projectID == caller.projectID }.map { r -> JSONValue in
            .object([("id", .string(r.jobID)), ("step", .int(r.step)), ("total_steps", .int(r.totalSteps)),
                     ("tokens_per_second", .double((r.tokensPerSecond * 10).rounded() / 10)), ("estimated_finish", .optional(r.estimatedFinish))])
        }
        var fields: [(String, JSONValue)] = [
            ("object", "tailor.status"), ("version", .string(s.version)),
            ("uptime_seconds", .int(Int(Date().timeIntervalSince(s.startedAt)))),
            ("models", .array(s.registry.baseOrder.map(JSONValue.string))),
            ("queue_depth", .int(s.runner.queueDepth)), ("workers", .int(s.runner.workers)),
            ("running_jobs", .array(running)),
            ("inference", .object([("active_sequences", .int(stats.activeSequences)),
                                   ("prefilling_requests", .int(stats.prefillingRequests)), ("queued_requests", .int(stats.queuedRequests)),
                                   ("generated_tokens", .int(stats.generatedTokens)), ("prompt_tokens", .int(stats.promptTokens)),
                                   ("cached_prompt_tokens", .int(stats.cachedPromptTokens)),
                                   ("adapters_loaded", .int(s.registry.loadedAdapterCount)),
                                   ("last_time_to_first_token_seconds", .optional(stats.lastTimeToFirstToken)),
                                   ("last_decode_tokens_per_second", .optional(stats.lastDecodeTokensPerSecond))])),
        ]
        if caller.isAdmin {
            fields.append(("data_directory", .string(s.store.dataDirectory)))
            fields.append(("data_directory_bytes", .int((try? s.store.diskUsageBytes()) ?? 0)))
        }
        return JSONValue.object(fields).response
    }
}
