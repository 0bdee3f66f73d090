// Serves one directory (the dashboard) for GET and HEAD: content types, cache validators with 304,
// index.html for directories, and nothing outside the root. Not a general file server: no ranges, no listings.
import Glibc

public struct StaticFiles: Sendable {
    /// The root with symlinks resolved; every served file's real path must lie under it.
    public let root: String
    public var indexFile = "index.html"
    /// Seconds browsers may reuse non-HTML assets without asking; HTML is always revalidated.
    public var maxAge = 300

    public init(root: String) throws {
        guard let resolved = realPath(root), isDirectory(resolved) else {
            throw FileError(call: "realpath", path: root, code: ENOTDIR)
        }
        self.root = resolved
    }

    /// The response for `segments` (percent-decoded, as in `HTTPRequestHead.pathSegments` or a router's
    /// rest parameter split on "/"); the request's own path segments when nil. nil when there is nothing to serve
    /// (no such file, or not GET or HEAD): the caller answers that in its own error format.
    public func response(for head: HTTPRequestHead, segments: [String]? = nil) -> HTTPResponse? {
        guard head.method == "GET" || head.method == "HEAD" else { return nil }
        guard let path = resolve(segments ?? head.pathSegments) else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }

        let modified = info.st_mtim
        let etag = "W/\"\(String(info.st_size, radix: 16))-\(String(modified.tv_sec, radix: 16)).\(String(modified.tv_nsec, radix: 16))\""
        var headers: HTTPHeaders = [
            "Content-Type": Self.contentType(forPath: path),
            "Cache-Control": path.hasSuffix(".html") ? "no-cache" : "public, max-age=\(maxAge)",
            "ETag": etag,
            "Last-Modified": httpDate(modified.tv_sec),
        ]
        if isNotModified(head.headers, etag: etag, modifiedSeconds: modified.tv_sec) {
            headers.remove("Content-Type")
            return HTTPResponse(status: 304, headers: headers)
        }
        return HTTPResponse(status: 200, headers: headers, body: .file(path: path, deleteAfterSending: false))
    }

    /// The real path of a regular file under the root, or nil. Dot segments, hidden files, separators smuggled
    /// inside a segment and symlinks that lead outside the root all resolve to nil.
    func resolve(_ segments: [String]) -> String? {
        for segment in segments {
            if segment.isEmpty || segment.hasPrefix(".") || segment.contains("/") || segment.contains("\\")
                || segment.utf8.contains(0) {
                return nil
            }
        }
        var candidate = segments.isEmpty ? root : root + "/" + segments.joined(separator: "/")
        if isDirectory(candidate) { candidate += "/" + indexFile }
        guard let real = realPath(candidate), real.hasPrefix(root + "/") else { return nil }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & UInt32(S_IFMT) == UInt32(S_IFREG) else { return nil }
        return real
    }

    private func isNotModified(_ headers: HTTPHeaders, etag: String, modifiedSeconds: Int) -> Bool {
        if let match = headers["If-None-Match"] {
            // Weak comparison, as RFC 9110 prescribes for If-None-Match.
            let weakTag = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
            return match.split(separator: ",").contains { tag in
                let tag = trimmingOptionalWhitespace(tag)
                return tag == "*" || tag == etag || tag == weakTag || tag == "W/" + weakTag
            }
        }
        if let since = headers["If-Modified-Since"], let date = parseHTTPDate(since) {
            return modifiedSeconds <= date
        }
        return false
    }

    public static func contentType(forPath path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        let ext = name.split(separator: ".").count > 1 ? String(name.split(separator: ".").last!).lowercased() : ""
        return contentTypes[ext] ?? "application/octet-stream"
    }

    private static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8",
        "htm": "text/html; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "json": "application/json",
        "map": "application/json",
        "svg": "image/svg+xml",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "webp": "image/webp",
        "ico": "image/x-icon",
        "txt": "text/plain; charset=utf-8",
        "woff2": "font/woff2",
        "wasm": "application/wasm",
    ]
}

private func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(validatingCString: resolved)
}

private func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & UInt32(S_IFMT) == UInt32(S_IFDIR)
}

private let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
private let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), built by hand so no locale can change it.
func httpDate(_ seconds: Int) -> String {
    var time = time_t(seconds)
    var parts = tm()
    gmtime_r(&time, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(weekdays[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
}

/// Seconds since the epoch for an IMF-fixdate; nil for anything else (obsolete formats are not worth the risk).
func parseHTTPDate(_ text: String) -> Int? {
    let fields = text.split(separator: " ")
    guard fields.count == 6, fields[5] == "GMT", let day = Int32(fields[1]),
          let month = months.firstIndex(of: String(fields[2])), let year = Int32(fields[3]) else { return nil }
    let clock = fields[4].split(separator: ":").compactMap { Int32($0) }
    guard clock.count == 3 else { return nil }
    var parts = tm()
    parts.tm_year = year - 1900
    parts.tm_mon = Int32(month)
    parts.tm_mday = day
    parts.tm_hour = clock[0]
    parts.tm_min = clock[1]
    parts.tm_sec = clock[2]
    return Int(timegm(&parts))
}
