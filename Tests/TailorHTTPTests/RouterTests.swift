// Route matching: literals, parameters (percent-decoded with the path), rest segments, precedence,
// 405 with the allowed methods, HEAD via GET.
import Testing
@testable import TailorHTTP

@Suite struct RouterTests {
    static let router: Router<String> = {
        var router = Router<String>()
        router.add("GET", "/v1/files", "list")
        router.add("POST", "/v1/files", "upload")
        router.add("GET", "/v1/files/:id", "get")
        router.add("DELETE", "/v1/files/:id", "delete")
        router.add("GET", "/v1/files/:id/content", "content")
        router.add("GET", "/v1/models/:model", "model")
        router.add("GET", "/v1/models/special", "special")
        router.add("GET", "/assets/*path", "asset")
        router.add("GET", "/", "root")
        return router
    }()

    private func found(_ method: String, _ target: String) -> (String, RouteParameters)? {
        if case .found(let handler, let parameters) = Self.router.match(HTTPRequestHead(method: method, target: target)) {
            return (handler, parameters)
        }
        return nil
    }

    @Test func literalAndParameterRoutes() {
        #expect(found("GET", "/v1/files")?.0 == "list")
        #expect(found("POST", "/v1/files")?.0 == "upload")
        #expect(found("GET", "/v1/files/file-abc")?.1["id"] == "file-abc")
        #expect(found("GET", "/v1/files/file-abc/content")?.0 == "content")
        #expect(found("GET", "/v1/files/")?.0 == "list", "a trailing slash is the same path")
        #expect(found("GET", "/")?.0 == "root")
    }

    @Test func parametersArePercentDecoded() {
        #expect(found("GET", "/v1/models/ft:model:x")?.1["model"] == "ft:model:x")
        #expect(found("GET", "/v1/models/ft%3Amodel%3Ax")?.1["model"] == "ft:model:x")
        #expect(found("GET", "/v1/models/a%2Fb")?.1["model"] == "a/b", "an encoded slash stays inside its segment")
    }

    @Test func literalBeatsParameterWhateverTheOrder() {
        #expect(found("GET", "/v1/models/special")?.0 == "special")
        #expect(found("GET", "/v1/models/other")?.0 == "model")
    }

    @Test func restSegmentTakesTheRemainder() {
        #expect(found("GET", "/assets/js/app.js")?.1["path"] == "js/app.js")
        #expect(found("GET", "/assets")?.1["path"] == "")
    }

    @Test func wrongMethodIs405WithAllow() {
        guard case .methodNotAllowed(let allowed) = Self.router.match(HTTPRequestHead(method: "PUT", target: "/v1/files/x")) else {
            Issue.record("expected 405")
            return
        }
        #expect(Set(allowed) == ["GET", "DELETE", "HEAD"])
    }

    /// A catch-all matches every path, so it makes no 405: POST to an unknown URL is 404 like GET, while a real
    /// route's path with the wrong method stays 405 (and its Allow lists no catch-all's methods).
    @Test func catchAllMakesNo405() {
        var router = Router<String>()
        router.add("GET", "/v1/files", "list")
        router.add("POST", "/v1/files", "upload")
        router.add("GET", "/*path", "dashboard")
        guard case .notFound = router.match(HTTPRequestHead(method: "POST", target: "/v1/responses")) else {
            Issue.record("expected 404 for POST /v1/responses")
            return
        }
        guard case .methodNotAllowed(let allowed) = router.match(HTTPRequestHead(method: "PUT", target: "/v1/files")) else {
            Issue.record("expected 405 for PUT /v1/files")
            return
        }
        #expect(Set(allowed) == ["GET", "POST", "HEAD"])
        guard case .found(let name, _) = router.match(HTTPRequestHead(method: "GET", target: "/v1/responses")) else {
            Issue.record("expected the catch-all for GET")
            return
        }
        #expect(name == "dashboard")
    }

    @Test func unknownPathIs404() {
        guard case .notFound = Self.router.match(HTTPRequestHead(method: "GET", target: "/v2/nothing")) else {
            Issue.record("expected 404")
            return
        }
        guard case .notFound = Self.router.match(HTTPRequestHead(method: "GET", target: "/v1/files/a/b/c")) else {
            Issue.record("expected 404 for a longer path")
            return
        }
    }

    @Test func headFallsBackToGet() {
        #expect(found("HEAD", "/v1/files")?.0 == "list")
    }
}

/// A catch-all `GET /*path` (the dashboard) beside API routes: it serves only paths no other route has.
@Suite struct RestFallbackRouterTests {
    static let router: Router<String> = {
        var router = Router<String>()
        router.add("POST", "/v1/chat/completions", "chat")
        router.add("GET", "/v1/files/:id", "file")
        router.add("GET", "/", "root")
        router.add("GET", "/*path", "page")
        return router
    }()

    private func match(_ method: String, _ target: String) -> RouteMatch<String> {
        Self.router.match(HTTPRequestHead(method: method, target: target))
    }

    @Test func anAPIPathUnderAnotherMethodIs405NotThePage() {
        for method in ["GET", "HEAD", "PUT"] {
            guard case .methodNotAllowed(let allowed) = match(method, "/v1/chat/completions") else {
                Issue.record("\(method) /v1/chat/completions was not a 405"); continue
            }
            #expect(allowed == ["POST"], "the page's GET is not offered for an API path")
        }
        guard case .methodNotAllowed(let allowed) = match("DELETE", "/v1/files/x") else { Issue.record("expected 405"); return }
        #expect(Set(allowed) == ["GET", "HEAD"])
    }

    @Test func otherPathsStillReachThePage() {
        guard case .found("page", let parameters) = match("GET", "/app.js") else { Issue.record("expected the page"); return }
        #expect(parameters["path"] == "app.js")
        guard case .found("page", _) = match("GET", "/v1/unknown") else { Issue.record("expected the page"); return }
        guard case .found("root", _) = match("GET", "/") else { Issue.record("expected root"); return }
        guard case .found("file", _) = match("GET", "/v1/files/x") else { Issue.record("expected the file route"); return }
    }
}
