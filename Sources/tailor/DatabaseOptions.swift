// `--database` for every command that opens the store: SQLite in the data directory unless a postgres:// URL is
// given (env TAILOR_DATABASE_URL). The password never has to be on the command line: --database-password-file
// (env TAILOR_DATABASE_PASSWORD_FILE), else PGPASSFILE or ~/.pgpass, as libpq reads them.
import ArgumentParser
import Foundation
import TailorStore

struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database"),
            help: "postgres://USER@HOST:PORT/DATABASE to keep the store's rows in PostgreSQL (experimental; env TAILOR_DATABASE_URL). Default: SQLite in the data directory.")
    var url: String?
    @Option(name: .customLong("database-password-file"),
            help: "A file whose first line is the PostgreSQL password (env TAILOR_DATABASE_PASSWORD_FILE; default PGPASSFILE or ~/.pgpass).")
    var passwordFile: String?

    func location(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseLocation {
        guard let url = url ?? environment["TAILOR_DATABASE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else { return .sqlite }
        return .postgres(try PostgresSettings(url: url, passwordFile: passwordFile ?? environment["TAILOR_DATABASE_PASSWORD_FILE"],
                                              environment: environment))
    }
}
