// The `tailor` command: serve the API, manage keys and models, and run the engine from the command line.
import ArgumentParser
import Foundation

@main
struct Tailor: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "tailor",
        abstract: "A self-hosted, OpenAI-compatible fine-tuning server.",
        version: version,
        subcommands: [ServeCommand.self, WorkerCommand.self, KeysCommand.self, ModelsCommand.self, TrainCommand.self,
                      GenerateCommand.self, TokenizeCommand.self, ExportCommand.self, BenchCommand.self, StoreCommand.self])

    static func main() {
        CPURuntime.reexecWithBLASSettingsIfNeeded()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
