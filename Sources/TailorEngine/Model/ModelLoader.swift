// Opens a model by path: a GGUF file or a Hugging Face directory (config.json + safetensors). The format is told by
// what is on disk, never by the name.
import Foundation

public enum ModelFormat: String, Sendable { case gguf, huggingFace }

public enum ModelLoader {
    public static func format(of path: String) throws -> ModelFormat {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.cannotOpen(path: path, reason: "no such file or directory")
        }
        if isDir.boolValue { return .huggingFace }
        return .gguf
    }

    /// The transformer alone (configuration and weights).
    public static func loadTransformer(path: String) throws -> Transformer {
        switch try format(of: path) {
        case .gguf:
            let file = try GGUFFile(path: path)
            let config = try file.llamaConfig()
            return Transformer(config: config, weights: try file.llamaWeights(config: config))
        case .huggingFace:
            let config = try HuggingFaceModel.config(directory: path)
            let weights = try HuggingFaceModel.weights(directory: path, config: config)
            var c = config
            c.tiedEmbeddings = weights.output === weights.tokenEmbedding
            return Transformer(config: c, weights: weights)
        }
    }
}
