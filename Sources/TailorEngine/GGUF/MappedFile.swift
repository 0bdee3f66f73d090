// A read-only memory map of a whole file: model weights are paged in by the kernel on first touch and shared
// between processes. Owns the mapping and unmaps it in deinit; not a general file abstraction.
import Foundation

public final class MappedFile: @unchecked Sendable {
    // Sendable because the mapping is read-only (PROT_READ) and never remapped after init.
    public let path: String
    public let base: UnsafeRawPointer
    public let count: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelFileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelFileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        count = Int(st.st_size)
        guard count > 0 else { throw ModelFileError.truncated(path: path, detail: "the file is empty") }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelFileError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
}

/// Errors reading model files. Each names the file (and the tensor, where one is involved) and says what to do.
public enum ModelFileError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, reason: String)
    case truncated(path: String, detail: String)
    case badFormat(path: String, detail: String)
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case missingTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case missingMetadata(path: String, key: String)
    case unsupportedArchitecture(path: String, architecture: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open \(path): \(reason); check the path and its permissions"
        case let .truncated(path, detail):
            return "\(path) is truncated (\(detail)); the download or copy was probably cut short: fetch the file again"
        case let .badFormat(path, detail):
            return "\(path) is not a valid model file: \(detail)"
        case let .unsupportedTensorType(path, tensor, type):
            return "\(path): tensor \(tensor) is \(type), which Tailor does not read; convert the model to F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K or Q6_K"
        case let .missingTensor(path, tensor):
            return "\(path) has no tensor \(tensor); the file is incomplete or not a Llama-family model"
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor \(tensor) has shape \(found) but the model configuration implies \(expected); the weights and the configuration do not belong together"
        case let .missingMetadata(path, key):
            return "\(path) lacks the metadata key \(key); the file was written by a converter Tailor does not understand"
        case let .unsupportedArchitecture(path, architecture):
            return "\(path) is a \(architecture) model; Tailor runs these decoder architectures: \(LlamaConfig.supportedArchitectureList); pick such a model"
        }
    }
}
