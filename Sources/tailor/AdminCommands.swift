// `tailor keys` and `tailor models`: manage API keys and registered base models in a data directory (safe while
// the server runs: the store is SQLite in WAL mode or PostgreSQL, and a revoked key stops working within seconds).
import ArgumentParser
import Foundation
import Logging
import TailorEngine
import TailorStore

struct DataOption: ParsableArguments {
    @Option(help: "Data directory (env TAILOR_DATA).") var data: String?
    @OptionGroup var database: DatabaseOptions
    func open() throws -> Store {
        var logger = Logger(label: "tailor.store")
        logger.logLevel = .warning
        return try Store.open(dataDirectory: data ?? ProcessInfo.processInfo.environment["TAILOR_DATA"] ?? "./data",
                              database: database.location(), logger: logger)
    }
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Manage API keys.",
                                                    subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a project (created if new); prints the key once.")
        @OptionGroup var data: DataOption
        @Option(help: "Project name.") var project: String
        @Option(help: "A label for the key.") var name: String?
        @Flag(help: "An admin key.") var admin = false
        func run() throws {
            let store = try data.open()
            let (key, secret) = try store.createKey(project: project, name: name, admin: admin)
            print(secret)
            FileHandle.standardError.write(Data("created \(key.id) for project \(key.projectName); the key is shown only now\n".utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the secrets).")
        @OptionGroup var data: DataOption
        func run() throws {
            for k in try data.open().listKeys() {
                let state = k.isRevoked ? "revoked" : "active"
                print([k.id, k.projectName, k.prefix, k.name ?? "-", k.isAdmin ? "admin" : "-", state].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by id.")
        @OptionGroup var data: DataOption
        @Argument(help: "The key id (key_…), as `tailor keys list` shows it.") var id: String
        func run() throws {
            try data.open().revokeKey(id: id)
            print("revoked \(id)")
        }
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "Register base models the server loads at start.",
                                                    subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a base model (GGUF file or Hugging Face directory).")
        @OptionGroup var data: DataOption
        @Argument var path: String
        func run() throws {
            let model = try LanguageModel(path: path)
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            try data.open().addBaseModel(name: model.name, path: absolute)
            print("added \(model.name) (\(absolute)); restart the server to load it")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered base models.")
        @OptionGroup var data: DataOption
        func run() throws { for m in try data.open().baseModels() { print("\(m.id)\t\(m.path)") } }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister a base model by name.")
        @OptionGroup var data: DataOption
        @Argument var name: String
        func run() throws {
            guard try data.open().removeBaseModel(name: name) else { throw ValidationError("no registered base model is named \(name)") }
            print("removed \(name)")
        }
    }
}
