// API keys as middleware: checked in prepare, before the body is read, so a bad key never uploads 500 MB; the caller
// it finds rides in the request's context to the handler. Not here: what a key may see (the handlers and the store).
import Foundation
import TailorHTTP
import TailorStore

/// The authenticated caller of the request.
enum Caller: RequestContextKey { typealias Value = Principal }

extension Principal {
    /// The caller of a route that needs no key (health, the dashboard's files).
    static let anonymous = Principal(keyID: "", projectID: "", projectName: "", isAdmin: false)
}

struct AuthenticationMiddleware: Middleware {
    let store: Store

    func prepare(_ head: HTTPRequestHead, _ context: inout RequestContext) -> HTTPResponse? {
        guard context[MatchedRoute.self]?.authenticated ?? true else { return nil }
        switch Self.authenticate(head, store) {
        case .failure(let e): return e.response
        case .success(let principal):
            context[Caller.self] = principal
            return nil
        }
    }

    /// The key was checked in prepare, once; by now the caller is in the context.
    func handle(_ request: HTTPRequest, _ context: inout RequestContext,
                next: (HTTPRequest, inout RequestContext) -> HTTPResponse) -> HTTPResponse {
        next(request, &context)
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
