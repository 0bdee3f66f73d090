// Every route of the server, in one table: the OpenAI-compatible /v1 API (key required), health and status,
// and the dashboard's static files.
import TailorHTTP
import TailorJobs

enum Routes {
    static func table(services: Services) -> Router<Route> {
        var r = Router<Route>()
        r.add("GET", "/healthz", Route(handler: StatusHandlers.healthz, authenticated: false, inline: true))
        r.add("GET", "/v1/status", Route(handler: StatusHandlers.status))

        r.add("POST", "/v1/files", Route(handler: FileHandlers.create, body: .upload))
        r.add("GET", "/v1/files", Route(handler: FileHandlers.list))
        r.add("GET", "/v1/files/:id", Route(handler: FileHandlers.retrieve))
        r.add("DELETE", "/v1/files/:id", Route(handler: FileHandlers.delete))
        r.add("GET", "/v1/files/:id/content", Route(handler: FileHandlers.content))

        r.add("POST", "/v1/fine_tuning/jobs", Route(handler: JobHandlers.create))
        r.add("GET", "/v1/fine_tuning/jobs", Route(handler: JobHandlers.list))
        r.add("GET", "/v1/fine_tuning/jobs/:id", Route(handler: JobHandlers.retrieve))
        r.add("POST", "/v1/fine_tuning/jobs/:id/cancel", Route(handler: JobHandlers.act(.cancel)))
        r.add("POST", "/v1/fine_tuning/jobs/:id/pause", Route(handler: JobHandlers.act(.pause)))
        r.add("POST", "/v1/fine_tuning/jobs/:id/resume", Route(handler: JobHandlers.act(.resume)))
        r.add("GET", "/v1/fine_tuning/jobs/:id/events", Route(handler: JobHandlers.events))
        r.add("GET", "/v1/fine_tuning/jobs/:id/checkpoints", Route(handler: JobHandlers.checkpoints))

        r.add("GET", "/v1/models", Route(handler: ModelHandlers.list))
        r.add("GET", "/v1/models/:model", Route(handler: ModelHandlers.retrieve))
        r.add("DELETE", "/v1/models/:model", Route(handler: ModelHandlers.delete))

        r.add("POST", "/v1/chat/completions", Route(handler: ChatHandlers.create))
        r.add("POST", "/v1/completions", Route(handler: CompletionHandlers.create))

        if let dir = services.publicDirectory, let files = try? StaticFiles(root: dir) {
            let page: APIHandler = { call in files.response(for: call.head) }
            r.add("GET", "/", Route(handler: page, authenticated: false))
            r.add("GET", "/*path", Route(handler: page, authenticated: false))
        }
        return r
    }
}
