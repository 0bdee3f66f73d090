// StaticFiles: content types, index.html, cache headers and 304s, and every traversal attempt finding nothing to serve.
import Foundation
import Testing
@testable import TailorHTTP

@Suite final class StaticFilesTests {
    let outer = makeTemporaryDirectory()
    var root: String { outer + "/public" }

    init() throws {
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        let contents = ["index.html": "<h1>home</h1>", "app.js": "console.log(1)", "style.css": "a{}", "logo.svg": "<svg/>",
                        "img.png": "png", "data.json": "{}", "favicon.ico": "ico", "notes.txt": "notes",
                        "sub/index.html": "<h1>sub</h1>", ".env": "SECRET=1", "blob": "?"]
        for (name, text) in contents { files.createFile(atPath: root + "/" + name, contents: Data(text.utf8)) }
        files.createFile(atPath: outer + "/secret.txt", contents: Data("top secret".utf8))
        try files.createSymbolicLink(atPath: root + "/escape.txt", withDestinationPath: outer + "/secret.txt")
        try files.createSymbolicLink(atPath: root + "/escape-dir", withDestinationPath: outer)
        try files.createSymbolicLink(atPath: root + "/alias.js", withDestinationPath: root + "/app.js")
    }

    deinit { try? FileManager.default.removeItem(atPath: outer) }

    private func get(_ target: String, headers: HTTPHeaders = [:], method: String = "GET") throws -> HTTPResponse {
        try #require(try find(target, headers: headers, method: method), "\(method) \(target)")
    }

    private func find(_ target: String, headers: HTTPHeaders = [:], method: String = "GET") throws -> HTTPResponse? {
        try StaticFiles(root: root).response(for: HTTPRequestHead(method: method, target: target, headers: headers))
    }

    private func servedPath(_ response: HTTPResponse) -> String? {
        if case .file(let path, false) = response.body { return path }
        return nil
    }

    @Test func contentTypesByExtension() throws {
        let expected = ["/index.html": "text/html; charset=utf-8", "/app.js": "text/javascript; charset=utf-8",
                        "/style.css": "text/css; charset=utf-8", "/logo.svg": "image/svg+xml", "/img.png": "image/png",
                        "/data.json": "application/json", "/favicon.ico": "image/x-icon",
                        "/notes.txt": "text/plain; charset=utf-8", "/blob": "application/octet-stream"]
        for (target, type) in expected {
            let response = try get(target)
            #expect(response.status == 200, "\(target)")
            #expect(response.headers["Content-Type"] == type, "\(target)")
        }
    }

    @Test func rootAndDirectoriesServeTheirIndex() throws {
        let root = try StaticFiles(root: root).root
        #expect(servedPath(try get("/")) == root + "/index.html")
        #expect(servedPath(try get("/sub")) == root + "/sub/index.html")
        #expect(servedPath(try get("/sub/")) == root + "/sub/index.html")
    }

    @Test func cacheHeadersDependOnTheKindOfFile() throws {
        #expect(try get("/index.html").headers["Cache-Control"] == "no-cache")
        #expect(try get("/app.js").headers["Cache-Control"] == "public, max-age=300")
        let response = try get("/app.js")
        #expect(response.headers["ETag"]?.hasPrefix("W/\"") == true)
        #expect(response.headers["Last-Modified"]?.hasSuffix(" GMT") == true)
    }

    @Test func validatorsGive304() throws {
        let first = try get("/app.js")
        let etag = try #require(first.headers["ETag"])
        let lastModified = try #require(first.headers["Last-Modified"])
        #expect(try get("/app.js", headers: ["If-None-Match": etag]).status == 304)
        #expect(try get("/app.js", headers: ["If-None-Match": "\"other\", \(etag)"]).status == 304)
        #expect(try get("/app.js", headers: ["If-None-Match": "\"other\""]).status == 200)
        #expect(try get("/app.js", headers: ["If-Modified-Since": lastModified]).status == 304)
        #expect(try get("/app.js", headers: ["If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"]).status == 200)
    }

    @Test(arguments: ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/secret.txt", "/sub/..%2f..%2fsecret.txt",
                      "/..%5csecret.txt", "/escape.txt", "/escape-dir/secret.txt", "/.env", "/%2eenv", "/missing.js",
                      "/sub/../../secret.txt", "/app.js%00.png"])
    func traversalAndHiddenFilesServeNothing(_ target: String) throws {
        #expect(try find(target) == nil, "\(target)")
    }

    @Test func symlinksInsideTheRootAreServed() throws {
        #expect(servedPath(try get("/alias.js")) == (try StaticFiles(root: root).root) + "/app.js")
    }

    @Test func otherMethodsServeNothing() throws {
        #expect(try find("/app.js", method: "POST") == nil)
    }

    @Test func httpDatesRoundTrip() {
        #expect(httpDate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
    }

    @Test func servedOverTheWireWith304() throws {
        let files = try StaticFiles(root: root)
        let server = try TestServer { request in files.response(for: request.head) ?? .text(status: 404, "none here") }
        let client = try server.client()
        try client.send("GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.text == "console.log(1)")
        try client.send("GET /app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(first.headers["ETag"] ?? "")\r\n\r\n")
        let second = try client.readResponse()
        #expect(second.status == 304 && second.body.isEmpty)
        try client.send("GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        let third = try client.readResponse()
        #expect(third.status == 404 && !third.text.contains("top secret"))
    }
}
