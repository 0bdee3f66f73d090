// `tailor store migrate`: move a single-box installation (SQLite in its data directory) onto PostgreSQL, keeping
// the directory with its files, checkpoints and adapters as the shared directory of the new set-up.
import ArgumentParser
import Foundation
import Logging
import TailorStore

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Manage the store itself.",
                                                    subcommands: [Migrate.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an installation's rows from SQLite into an empty PostgreSQL database.",
            discussion: """
                Stop every Tailor process using the data directory first. Every row (keys, projects, files, jobs and \
                their events, checkpoints, models, base models, evaluations) is copied in one transaction and the \
                row counts are compared; then the data directory is bound to the PostgreSQL database (database.id) \
                and tailor.sqlite is kept beside it as tailor.sqlite.migrated. Files, checkpoints and adapters stay \
                where they are: start every node with --data DATA (mounted at the same path) and --database URL.
                """)

        @Option(help: "The data directory of the installation to move (env TAILOR_DATA).") var from: String?
        @Option(help: "postgres://USER@HOST:PORT/DATABASE of an empty database.") var to: String
        @Option(name: .customLong("database-password-file"),
                help: "A file whose first line is the PostgreSQL password (env TAILOR_DATABASE_PASSWORD_FILE; default PGPASSFILE or ~/.pgpass).")
        var passwordFile: String?

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let directory = from ?? environment["TAILOR_DATA"] ?? "./data"
            let settings = try PostgresSettings(url: to, passwordFile: passwordFile ?? environment["TAILOR_DATABASE_PASSWORD_FILE"],
                                                environment: environment)
            var logger = Logger(label: "tailor.store")
            logger.logLevel = .warning
            let report = try InstallationCopy.run(dataDirectory: directory, to: settings, logger: logger) { print("copied \($0)") }
            let total = report.rows.reduce(0) { $0 + $1.count }
            print("Verified: \(total) rows in \(report.rows.count) tables, the same counts in SQLite and in \(settings.description).")
            print("\(directory) now belongs to that database (id \(report.databaseID)); the SQLite file is kept as \(report.keptSQLite).")
            print("Start Tailor with: --data \(directory) --database \(settings.description)")
        }
    }
}
