// A route table: method + path pattern ("/v1/files/:id/content", "/assets/*path") to a handler value.
// Matching only; what a handler is and how it runs is the caller's business, and so is the answer to a failed
// match. HEAD falls back to GET.

public struct RouteParameters: Sendable, Equatable {
    private var pairs: [(name: String, value: String)] = []

    public init() {}

    public subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    mutating func append(_ name: String, _ value: String) { pairs.append((name, value)) }

    public static func == (lhs: RouteParameters, rhs: RouteParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }
}

public enum RouteMatch<Handler> {
    case found(Handler, RouteParameters)
    /// The path exists under other methods: answer 405 with an Allow header listing them.
    case methodNotAllowed(allowed: [String])
    case notFound
}

extension RouteMatch: Sendable where Handler: Sendable {}

public struct Router<Handler: Sendable>: Sendable {
    private var table = RouteTable()
    private var handlers: [Handler] = []

    public init() {}

    /// Adds a route. Segments starting with ":" match one path segment; a final "*name" matches the rest.
    /// Literal routes win over parameter routes regardless of the order they were added in.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        table.add(method, pattern)
        handlers.append(handler)
    }

    public func match(method: String, path segments: [String]) -> RouteMatch<Handler> {
        switch table.match(method: method, path: segments) {
        case .found(let index, let parameters): return .found(handlers[index], parameters)
        case .methodNotAllowed(let allowed): return .methodNotAllowed(allowed: allowed)
        case .notFound: return .notFound
        }
    }

    public func match(_ head: HTTPRequestHead) -> RouteMatch<Handler> {
        match(method: head.method, path: head.pathSegments)
    }
}

/// The matching itself, kept free of the handler type: a generic Router used from another module runs
/// unspecialised, and matching through generic metadata cost more than the rest of a /healthz request.
struct RouteTable: Sendable {
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        /// Matches the rest of the path, possibly empty, joined with "/".
        case rest(String)
    }

    private struct Entry: Sendable {
        let method: String
        let segments: [Segment]
        var endsInRest: Bool { if case .rest = segments.last { true } else { false } }
    }

    private var entries: [Entry] = []

    mutating func add(_ method: String, _ pattern: String) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
            if part.hasPrefix("*") { return .rest(String(part.dropFirst())) }
            return .literal(String(part))
        }
        precondition(segments.dropLast().allSatisfy { if case .rest = $0 { false } else { true } },
                     "\(pattern): a *rest segment must come last")
        entries.append(Entry(method: method.uppercased(), segments: segments))
    }

    func match(method: String, path: [String]) -> RouteMatch<Int> {
        // A *rest route is a fallback for paths no other route has: GET /*path (the dashboard) must not turn
        // GET /v1/chat/completions into a 404 or add GET to its 405's Allow.
        let hasExact = entries.contains { !$0.endsInRest && Self.match($0.segments, path) != nil }
        var best: (index: Int, parameters: RouteParameters, rank: Int)?
        var allowed: [String] = []
        for (index, entry) in entries.enumerated() where !(hasExact && entry.endsInRest) {
            guard let (parameters, score) = Self.match(entry.segments, path) else { continue }
            // Nor does a *rest route make a 405 where it is the only match: it matches every path, so it cannot tell
            // a wrong method from an unknown URL (POST /v1/responses is a 404, as at OpenAI).
            if !entry.endsInRest, !allowed.contains(entry.method) { allowed.append(entry.method) }
            guard entry.method == method || (method == "HEAD" && entry.method == "GET") else { continue }
            // An exact method beats HEAD-via-GET; then more literal segments beat fewer.
            let rank = score * 2 + (entry.method == method ? 1 : 0)
            if best == nil || rank > best!.rank { best = (index, parameters, rank) }
        }
        if let best { return .found(best.index, best.parameters) }
        if allowed.isEmpty { return .notFound }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed)
    }

    /// How specific a match is (literal segments count), or nil when the pattern does not match.
    private static func match(_ pattern: [Segment], _ path: [String]) -> (RouteParameters, Int)? {
        // Cheap rejections first: most routes differ in length or in their first literal.
        if pattern.count != path.count, !(pattern.last.map { if case .rest = $0 { true } else { false } } ?? false) { return nil }
        var parameters = RouteParameters()
        var literals = 0
        for (index, segment) in pattern.enumerated() {
            switch segment {
            case .rest(let name):
                parameters.append(name, path.dropFirst(index).joined(separator: "/"))
                return (parameters, literals)
            case .literal(let text):
                guard index < path.count, path[index] == text else { return nil }
                literals += 1
            case .parameter(let name):
                guard index < path.count, !path[index].isEmpty else { return nil }
                parameters.append(name, path[index])
            }
        }
        return pattern.count == path.count ? (parameters, literals) : nil
    }
}
