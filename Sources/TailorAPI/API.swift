// The OpenAI-compatible API as an HTTPResponder: routes from Routes.swift, authentication before the body is read
// (a bad key never uploads 500 MB), body limits per route, and one place where thrown errors become responses.
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

/// The pattern of the route a request matched, left in its context for the metrics.
enum MatchedPattern: RequestContextKey { typealias Value = String }

public final class API: HTTPResponder {
    let services: Services
    let router: Router<Route>
    let chain: MiddlewareChain

    public init(services: Services) {
        self.services = services
        router = Routes.table(services: services)
        let services = services, router = router
        chain = MiddlewareChain([LoggingMiddleware(level: .info)]) { request, context in
            API.dispatch(request, &context, router: router, services: services)
        }
    }

    public func prepare(_ head: HTTPRequestHead) -> BodyDisposition {
        let disposition = decide(head)
        if case .reject(let response) = disposition {
            // Rejected before the body: respond(to:) never sees these, so they are counted here.
            var route = "unmatched"
            if case .found(let r, _) = router.match(head) { route = r.pattern }
            services.metrics.recordRequest(route: route, method: head.method, status: response.status, duration: .zero)
        }
        return disposition
    }

    private func decide(_ head: HTTPRequestHead) -> BodyDisposition {
        switch router.match(head) {
        case .notFound: return .reject(APIError(.notFound, "Unknown request URL: \(head.method) \(head.path). Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.", code: "unknown_url").response)
        case .methodNotAllowed(let allowed):
            var r = APIError(.methodNotAllowed, "Method \(head.method) is not allowed for \(head.path); use \(allowed.joined(separator: ", ")).", code: "method_not_allowed").response
            r.headers.set("Allow", allowed.joined(separator: ", "))
            return .reject(r)
        case .found(let route, _):
            if route.authenticated {
                switch Self.authenticate(head, services.store) {
                case .failure(let e): return .reject(e.response)
                case .success: break
                }
            }
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
    }

    public func runsInline(_ head: HTTPRequestHead) -> Bool {
        if case .found(let route, _) = router.match(head) { return route.inline }
        return false
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        var context = RequestContext(head: request.head, logger: services.logger)
        let response = chain.respond(to: request, context: &context)
        // A streamed response counts the time to its head, as the request log line does.
        services.metrics.recordRequest(route: context[MatchedPattern.self] ?? "unmatched", method: request.head.method,
                                       status: response.status, duration: ContinuousClock.now - context.startedAt)
        return response
    }

    static func dispatch(_ request: HTTPRequest, _ context: inout RequestContext, router: Router<Route>, services: Services) -> HTTPResponse {
        guard case .found(let route, let params) = router.match(request.head) else {
            return APIError(.notFound, "Unknown request URL: \(request.head.method) \(request.head.path).", code: "unknown_url").response
        }
        context[MatchedPattern.self] = route.pattern
        var principal = Principal(keyID: "", projectID: "", projectName: "", isAdmin: false)
        if route.authenticated {
            switch authenticate(request.head, services.store) {
            case .failure(let e): return e.response
            case .success(let p): principal = p
            }
        }
        let call = APICall(request: request, principal: principal, parameters: params, services: services, logger: context.logger)
        do {
            return try route.handler(call)
        } catch let e as APIError {
            return e.response
        } catch where StorageFailure.isFull(error) {
            context.logger.error("storage full or read-only", metadata: ["error": "\(error)"])
            return APIError(.insufficientStorage, StorageFailure.message(for: error)!, code: "insufficient_storage").response
        } catch let e as StoreError {
            if let p = e.parameter {
                if case .fileInUse = e { return APIError.invalid(p, e.description, code: "file_in_use").response }
                return APIError.invalid(p, e.description).response
            }
            context.logger.error("store error", metadata: ["error": "\(e)"])
            return APIError(.server, "The server had an error while processing your request (request id \(request.head.requestID)).").response
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return APIError(.server, "The server had an error while processing your request (request id \(request.head.requestID)).").response
        }
    }

    static func authenticate(_ head: HTTPRequestHead, _ store: Store) -> Result<Principal, APIError> {
        guard let header = head.headers["Authorization"], !header.isEmpty else {
            return .failure(APIError(.unauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). `tailor serve` printed a key at its first start, and `tailor keys create` makes more.", code: "invalid_api_key"))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .failure(APIError(.unauthorized, "The Authorization header must be 'Bearer YOUR_KEY'.", code: "invalid_api_key"))
        }
        let secret = String(parts[1]).trimmingCharacters(in: .whitespaces)
        do {
            guard let p = try store.authenticate(secret: secret) else {
                let shown = secret.count > 10 ? String(secret.prefix(6)) + "***" + String(secret.suffix(4)) : "***"
                return .failure(APIError(.unauthorized, "Incorrect API key provided: \(shown). Check the key, or create one with `tailor keys create`.", code: "invalid_api_key"))
            }
            return .success(p)
        } catch {
            return .failure(APIError(.server, "The server could not check the API key: \(error)"))
        }
    }
}
