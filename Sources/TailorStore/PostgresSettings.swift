// Where a PostgreSQL store is: parsed from a `postgres://user@host:port/database` URL, with the password from a
// password file, PGPASSFILE or ~/.pgpass (libpq's format), so it never has to be on a command line. TLS follows
// libpq's URL parameters: `sslmode` (disable, allow, prefer — the default —, require, verify-ca, verify-full),
// `sslrootcert` (a PEM file, or `system` for the system's trust roots; ~/.postgresql/root.crt when not given),
// `sslcert` / `sslkey` (a client certificate), and `hostaddr` (the address to connect to, the URL's host then being
// the name the certificate must carry).
import Foundation

public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Set instead of host and port by `?host=/run/postgresql` (a directory holding .s.PGSQL.<port>).
    public var socketDirectory: String?
    public var username: String
    public var database: String
    var password: String?
    /// `?hostaddr=`: the IP address to connect to; `host` is then only the name the server's certificate is checked
    /// against (libpq's meaning).
    public var hostAddress: String?
    public var tls: TLSSettings
    /// `?application_name=`, shown in pg_stat_activity.
    public var applicationName: String?
    /// `?connect_timeout=` in seconds (nil: wait as long as the connection takes, libpq's `0`); 10 s when not given.
    public var connectTimeoutSeconds: Int? = 10

    /// libpq's `sslmode`, with its default (`prefer`) and meanings; `allow` connects in plain text as libpq's first
    /// attempt does (a server that insists on TLS is then refused: name `prefer` or stronger for such servers).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public struct TLSSettings: Sendable, Equatable {
        public var mode: TLSMode = .prefer
        /// A PEM file of the certificates the server's must chain to, or `system` for the system's trust roots.
        public var rootCertificate: String?
        public var clientCertificate: String?
        public var clientKey: String?
        /// Whether the server's certificate is checked against `rootCertificate`: `verify-ca` and `verify-full`, and
        /// `require` when a root certificate is named (libpq's rule, kept for compatibility).
        public var verifiesChain: Bool {
            mode == .verifyCA || mode == .verifyFull || (mode == .require && rootCertificate != nil)
        }
    }

    /// The URL without its password: safe for logs and error messages, and usable as `--database` again.
    public var description: String {
        var items: [(String, String?)] = [
            ("host", socketDirectory), ("hostaddr", hostAddress),
            ("sslmode", tls.mode == .prefer ? nil : tls.mode.rawValue), ("sslrootcert", tls.rootCertificate),
            ("sslcert", tls.clientCertificate), ("sslkey", tls.clientKey), ("application_name", applicationName),
        ]
        if connectTimeoutSeconds != 10 { items.append(("connect_timeout", String(connectTimeoutSeconds ?? 0))) }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        let query = items.compactMap { name, value in
            value.map { name + "=" + ($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0) }
        }
        let place = socketDirectory == nil ? "\(host):\(port)" : "localhost:\(port)"
        return "postgres://\(username)@\(place)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Reads `url`; the password comes from the URL if it has one, else from `passwordFile` (its first line), else
    /// from the matching line of PGPASSFILE or ~/.pgpass, else there is none (trust or peer authentication).
    public init(url: String, passwordFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
            throw PostgresStoreError.badSettings("'\(Self.redact(url))' is not a postgres:// URL; "
                                                 + "use postgres://USER@HOST:PORT/DATABASE")
        }
        let query = Dictionary((parts.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let known: Set = ["host", "hostaddr", "sslmode", "sslrootcert", "sslcert", "sslkey", "application_name",
                          "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresStoreError.badSettings("the URL parameter '\(unknown)' is not one Tailor reads; it reads "
                                                 + known.sorted().joined(separator: ", "))
        }
        tls = TLSSettings()
        if let mode = query["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw PostgresStoreError.badSettings("sslmode=\(mode) is not one of "
                                                     + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            tls.mode = parsed
        }
        tls.rootCertificate = query["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
        tls.clientCertificate = query["sslcert"].flatMap { $0.isEmpty ? nil : $0 }
        tls.clientKey = query["sslkey"].flatMap { $0.isEmpty ? nil : $0 }
        if (tls.clientCertificate == nil) != (tls.clientKey == nil) {
            throw PostgresStoreError.badSettings("sslcert and sslkey go together: name the client certificate and its key")
        }
        host = parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = parts.port ?? 5432
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        hostAddress = query["hostaddr"].flatMap { $0.isEmpty ? nil : $0 }
        applicationName = query["application_name"].flatMap { $0.isEmpty ? nil : $0 }
        if let timeout = query["connect_timeout"] {
            guard let seconds = Int(timeout), seconds >= 0 else {
                throw PostgresStoreError.badSettings("connect_timeout=\(timeout) is not a whole number of seconds")
            }
            connectTimeoutSeconds = seconds == 0 ? nil : max(seconds, 2)  // libpq: 0 waits forever, less than 2 means 2
        }
        if let hostAddress, !Self.isIPAddress(hostAddress) {
            throw PostgresStoreError.badSettings("hostaddr=\(hostAddress) is not an IP address; put a host name in the URL's host")
        }
        username = parts.user.flatMap { $0.removingPercentEncoding } ?? environment["USER"] ?? "postgres"
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        database = path.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 } ?? username
        if let given = parts.password {
            password = given.removingPercentEncoding
        } else if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw PostgresStoreError.badSettings("cannot read the database password file \(passwordFile); "
                                                     + "check that it exists and this user may read it")
            }
            password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        } else {
            let file = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
            password = file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.flatMap {
                Self.pgpassLookup($0, host: socketDirectory == nil ? host : "localhost", port: port,
                                  database: database, username: username)
            }
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// libpq's password file: `hostname:port:database:username:password` per line, `*` matches anything,
    /// `\:` and `\\` escape, `#` starts a comment; the first matching line wins.
    static func pgpassLookup(_ text: String, host: String, port: Int, database: String, username: String) -> String? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = [""]
            var escaped = false
            for character in line {
                if escaped { fields[fields.count - 1].append(character); escaped = false }
                else if character == "\\" { escaped = true }
                else if character == ":" && fields.count < 5 { fields.append("") }
                else { fields[fields.count - 1].append(character) }
            }
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, username]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// `url` with any password replaced by `***`.
    public static func redact(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? "postgres://…"
    }
}

/// Why a PostgreSQL store could not be reached or used; every message names the database without its password.
public enum PostgresStoreError: Error, CustomStringConvertible {
    case badSettings(String)
    case unreachable(database: String, reason: String)
    /// The store was closed (`Store.close()`); open a new one.
    case closed(database: String)
    case query(sqlState: String?, message: String)

    public var description: String {
        switch self {
        case .badSettings(let message):
            "PostgreSQL settings: \(message)"
        case .unreachable(let database, let reason):
            "Cannot reach PostgreSQL at \(database): \(reason); check that the server runs and accepts this user "
                + "(the password comes from --database-password-file, PGPASSFILE or ~/.pgpass)"
        case .closed(let database):
            "The store on \(database) was closed; open it again to use it"
        case .query(let state, let message):
            "PostgreSQL error\(state.map { " \($0)" } ?? ""): \(message)"
        }
    }
}
