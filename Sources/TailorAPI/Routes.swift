// Every route of the server, in one table: the OpenAI-compatible /v1 API (key required), health, status, metrics,
// and the dashboard's static files.
import TailorHTTP
import TailorJobs

enum Routes {
    static func table(services: Services) -> Router<Route> {
        var table = Router<Route>()
        /// Adds a route with its pattern recorded in it, for the metrics' route label.
        func add(_ method: String, _ pattern: String, _ route: Route) {
            var route = route
            route.pattern = pattern
            table.add(method, pattern, route)
        }
        add("GET", "/healthz", Route(handler: StatusHandlers.healthz, authenticated: false, inline: true))
        add("GET", "/v1/status", Route(handler: StatusHandlers.status))
        // Prometheus sends the key too (scrape config `authorization: {credentials: KEY}`); see README.
        add("GET", "/metrics", Route(handler: MetricsHandlers.metrics))

        add("POST", "/v1/files", Route(handler: FileHandlers.create, body: .upload))
        add("GET", "/v1/files", Route(handler: FileHandlers.list))
        add("GET", "/v1/files/:id", Route(handler: FileHandlers.retrieve))
        add("DELETE", "/v1/files/:id", Route(handler: FileHandlers.delete))
        add("GET", "/v1/files/:id/content", Route(handler: FileHandlers.content))
        add("POST", "/v1/uploads", Route(handler: UploadHandlers.create))
        add("POST", "/v1/uploads/:id/parts", Route(handler: UploadHandlers.addPart, body: .upload))
        add("POST", "/v1/uploads/:id/complete", Route(handler: UploadHandlers.complete))
        add("POST", "/v1/uploads/:id/cancel", Route(handler: UploadHandlers.cancel))

        add("POST", "/v1/fine_tuning/jobs", Route(handler: JobHandlers.create))
        add("GET", "/v1/fine_tuning/jobs", Route(handler: JobHandlers.list))
        add("GET", "/v1/fine_tuning/jobs/:id", Route(handler: JobHandlers.retrieve))
        add("POST", "/v1/fine_tuning/jobs/:id/cancel", Route(handler: JobHandlers.act(.cancel)))
        add("POST", "/v1/fine_tuning/jobs/:id/pause", Route(handler: JobHandlers.act(.pause)))
        add("POST", "/v1/fine_tuning/jobs/:id/resume", Route(handler: JobHandlers.act(.resume)))
        add("GET", "/v1/fine_tuning/jobs/:id/events", Route(handler: JobHandlers.events))
        add("GET", "/v1/fine_tuning/jobs/:id/checkpoints", Route(handler: JobHandlers.checkpoints))

        add("POST", "/v1/fine_tuning/alpha/graders/run", Route(handler: GraderHandlers.run))
        add("POST", "/v1/fine_tuning/alpha/graders/validate", Route(handler: GraderHandlers.validate))

        add("POST", "/v1/evals", Route(handler: EvalHandlers.create))
        add("GET", "/v1/evals", Route(handler: EvalHandlers.list))
        add("GET", "/v1/evals/:eval_id", Route(handler: EvalHandlers.retrieve))
        add("POST", "/v1/evals/:eval_id", Route(handler: EvalHandlers.update))
        add("DELETE", "/v1/evals/:eval_id", Route(handler: EvalHandlers.delete))
        add("POST", "/v1/evals/:eval_id/runs", Route(handler: EvalRunHandlers.create))
        add("GET", "/v1/evals/:eval_id/runs", Route(handler: EvalRunHandlers.list))
        add("GET", "/v1/evals/:eval_id/runs/:run_id", Route(handler: EvalRunHandlers.retrieve))
        // OpenAI's spec cancels with POST on the run itself; its SDKs and examples POST to …/cancel. Both work.
        add("POST", "/v1/evals/:eval_id/runs/:run_id", Route(handler: EvalRunHandlers.cancel))
        add("POST", "/v1/evals/:eval_id/runs/:run_id/cancel", Route(handler: EvalRunHandlers.cancel))
        add("DELETE", "/v1/evals/:eval_id/runs/:run_id", Route(handler: EvalRunHandlers.delete))
        add("GET", "/v1/evals/:eval_id/runs/:run_id/output_items", Route(handler: EvalRunHandlers.outputItems))
        add("GET", "/v1/evals/:eval_id/runs/:run_id/output_items/:output_item_id", Route(handler: EvalRunHandlers.outputItem))

        add("GET", "/v1/models", Route(handler: ModelHandlers.list))
        add("GET", "/v1/models/:model", Route(handler: ModelHandlers.retrieve))
        add("DELETE", "/v1/models/:model", Route(handler: ModelHandlers.delete))

        add("POST", "/v1/chat/completions", Route(handler: ChatHandlers.create))
        add("POST", "/v1/completions", Route(handler: CompletionHandlers.create))

        if let dir = services.publicDirectory, let files = try? StaticFiles(root: dir) {
            let page: APIHandler = { call in
                guard let response = files.response(for: call.head) else { throw APIError.unknownURL(call.head) }
                return response
            }
            add("GET", "/", Route(handler: page, authenticated: false))
            add("GET", "/*path", Route(handler: page, authenticated: false))
        }
        return table
    }
}
