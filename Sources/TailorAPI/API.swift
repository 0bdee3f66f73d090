// The OpenAI-compatible API as an HTTPResponder: a request is matched and authenticated once, in prepare, before its
// body is read (a bad key never uploads 500 MB); that decision travels with the request to respond. Not here: the
// routes (Routes.swift), the key check (Authentication.swift), how errors look (OpenAIError.swift).
import Foundation
import Logging
import TailorHTTP
import TailorStore

/// What a handler receives.
struct APICall {
    let request: HTTPRequest
    let principal: Principal
    let parameters: RouteParameters
    let services: Services
    let logger: Logger
    var head: HTTPRequestHead { request.head }
    func param(_ name: String) -> String { parameters[name] ?? "" }
    func query(_ name: String) -> String? { request.head.queryValue(name) }
}

typealias APIHandler = @Sendable (APICall) throws -> HTTPResponse

struct Route: Sendable {
    enum Body: Sendable { case json, upload }
    var handler: APIHandler
    var authenticated = true
    var body: Body = .json
    var inline = false
    /// The pattern it was added under: the route label of its metrics.
    var pattern = ""
}

/// The route a request matched, decided in prepare; its parameters are in `RequestContext.parameters`.
enum MatchedRoute: RequestContextKey { typealias Value = Route }

public final class API: HTTPResponder {
    let services: Services
    let router: Router<Route>
    let chain: MiddlewareChain

    public convenience init(services: Services) {
        self.init(services: services, middleware: [])
    }

    /// `middleware` runs after the API's own (logging, metrics, authentication), just before the handler.
    init(services: Services, middleware: [any Middleware]) {
        self.services = services
        router = Routes.table(services: services)
        let services = services
        let own: [any Middleware] = [LoggingMiddleware(level: .info), MetricsMiddleware(metrics: services.metrics),
                                     AuthenticationMiddleware(store: services.store)]
        chain = MiddlewareChain(own + middleware) { request, context in
            API.dispatch(request, &context, services: services)
        }
    }

    /// The request's context, with its route and caller, is the prepared value the server hands back to respond.
    public func prepare(_ head: HTTPRequestHead) -> Preparation {
        var context = RequestContext(head: head, logger: services.logger)
        let disposition: BodyDisposition
        switch router.match(head) {
        case .notFound:
            disposition = .reject(APIError.unknownURL(head).response)
        case .methodNotAllowed(let allowed):
            disposition = .reject(APIError.methodNotAllowed(head, allowed: allowed))
        case .found(let route, let parameters):
            context[MatchedRoute.self] = route
            context.parameters = parameters
            if let rejection = chain.prepare(head, &context) {
                disposition = .reject(rejection)
            } else {
                disposition = body(for: route, head)
            }
        }
        return Preparation(disposition, inline: context[MatchedRoute.self]?.inline ?? false, prepared: context)
    }

    private func body(for route: Route, _ head: HTTPRequestHead) -> BodyDisposition {
        switch route.body {
        case .json: return .buffer(limit: services.limits.maxJSONBytes)
        case .upload:
            // The upload is spooled, then its file part copied out: it needs twice its size while it lands.
            if let length = head.headers["Content-Length"].flatMap(Int.init), let free = services.store.freeBytes(),
               free < 2 * length + (16 << 20) {
                return .reject(APIError(.insufficientStorage, "The server has \(free >> 20) MB of disk free and cannot take a \(length >> 20) MB upload (it needs about twice the size while the upload lands); free disk space on the server, then try again.", code: "insufficient_storage").response)
            }
            return .spool(limit: services.limits.maxUploadBytes)
        }
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        guard var context = request.prepared as? RequestContext else {
            // A request that did not come through prepare (built by a caller of its own): decide here, once.
            var request = request
            let preparation = prepare(request.head)
            request.prepared = preparation.prepared
            if case .reject(let response) = preparation.disposition { return respond(to: request, rejectedWith: response) }
            return respond(to: request)
        }
        return chain.respond(to: request, context: &context)
    }

    /// Answers decided before the body still pass the middleware, so the request log and the metrics show them.
    public func respond(to request: HTTPRequest, rejectedWith response: HTTPResponse) -> HTTPResponse {
        var context = request.prepared as? RequestContext ?? RequestContext(head: request.head, logger: services.logger)
        return chain.respond(to: request, context: &context, answer: response)
    }

    static func dispatch(_ request: HTTPRequest, _ context: inout RequestContext, services: Services) -> HTTPResponse {
        // prepare rejects a request without a route, so this is only a guard.
        guard let route = context[MatchedRoute.self] else { return APIError.unknownURL(request.head).response }
        let call = APICall(request: request, principal: context[Caller.self] ?? .anonymous, parameters: context.parameters,
                           services: services, logger: context.logger)
        do {
            return try route.handler(call)
        } catch {
            return APIError.response(for: error, requestID: request.head.requestID, logger: context.logger)
        }
    }
}
