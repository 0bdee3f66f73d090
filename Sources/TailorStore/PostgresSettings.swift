// Where a PostgreSQL store is: parsed from a `postgres://user@host:port/database` URL, with the password from a
// password file, PGPASSFILE or ~/.pgpass (libpq's format), so it never has to be on a command line.
// Not TLS yet: connections are plain, which suits a database on the same host or a private network.
import Foundation

public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Set instead of host and port by `?host=/run/postgresql` (a directory holding .s.PGSQL.<port>).
    public var socketDirectory: String?
    public var username: String
    public var database: String
    var password: String?

    /// The URL without its password: safe for logs and error messages.
    public var description: String {
        let place = socketDirectory.map { "localhost:\(port)?host=\($0)" } ?? "\(host):\(port)"
        return "postgres://\(username)@\(place)/\(database)"
    }

    /// Reads `url`; the password comes from the URL if it has one, else from `passwordFile` (its first line), else
    /// from the matching line of PGPASSFILE or ~/.pgpass, else there is none (trust or peer authentication).
    public init(url: String, passwordFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
            throw PostgresStoreError.badSettings("'\(Self.redact(url))' is not a postgres:// URL; "
                                                 + "use postgres://USER@HOST:PORT/DATABASE")
        }
        let query = Dictionary((parts.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        if let mode = query["sslmode"], !["disable", "allow", "prefer"].contains(mode) {
            throw PostgresStoreError.badSettings("sslmode=\(mode) asks for TLS, which Tailor's PostgreSQL store does not "
                                                 + "speak yet; use sslmode=disable on a trusted network or a local socket")
        }
        host = parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = parts.port ?? 5432
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
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
