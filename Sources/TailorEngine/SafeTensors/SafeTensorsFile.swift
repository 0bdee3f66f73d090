// Reads `.safetensors` files (a little-endian u64 header length, a JSON header, then raw tensor bytes), memory
// mapped, and Hugging Face sharded checkpoints (`model.safetensors.index.json`). Read-only.
import Foundation

public struct SafeTensorInfo: Sendable {
    public let name: String
    public let dtype: String      // "F32", "F16", "BF16", ...
    public let shape: [Int]       // PyTorch order
    public let byteRange: Range<Int>   // inside the file
}

public final class SafeTensorsFile: @unchecked Sendable {
    // Sendable: immutable after init; the mapping is read-only.
    public let path: String
    public let tensors: [String: SafeTensorInfo]
    public let metadata: [String: String]
    let file: MappedFile

    public init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        guard file.count >= 8 else { throw ModelFileError.truncated(path: path, detail: "no header length") }
        let claimedLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard claimedLength > 1, claimedLength <= UInt64(file.count - 8) else {
            throw ModelFileError.truncated(path: path, detail: "the header claims \(claimedLength) bytes")
        }
        let headerLength = Int(claimedLength)
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw ModelFileError.badFormat(path: path, detail: "the safetensors header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var tensors: [String: SafeTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw ModelFileError.badFormat(path: path, detail: "tensor \(name) has a malformed header entry")
            }
            // Offsets come from the file: ordered, and inside it, before any arithmetic on them.
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= file.count - dataStart else {
                throw ModelFileError.truncated(path: path, detail: "tensor \(name) has data offsets \(offsets) but the file has \(file.count - dataStart) bytes of data")
            }
            let maxDimension = file.count * 8
            guard shape.allSatisfy({ (0...maxDimension).contains($0) }) else {
                throw ModelFileError.badFormat(path: path, detail: "tensor \(name) has shape \(shape)")
            }
            let range = (dataStart + offsets[0])..<(dataStart + offsets[1])
            tensors[name] = SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: range)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    static func ggmlType(dtype: String) -> GGMLType? {
        switch dtype { case "F32": .f32; case "F16": .f16; case "BF16": .bf16; default: nil }
    }

    func weight(_ info: SafeTensorInfo) throws -> WeightMatrix {
        guard let type = Self.ggmlType(dtype: info.dtype) else {
            throw ModelFileError.unsupportedTensorType(path: path, tensor: info.name, type: info.dtype)
        }
        let rows = info.shape.count == 2 ? info.shape[0] : 1
        // Each dimension is at most 8× the file size (checked in init), but their product can still overflow.
        let (cols, colsOverflow) = info.shape.count == 2 ? (info.shape[1], false)
            : info.shape.reduce((1, false)) { acc, dim in
                let product = acc.0.multipliedReportingOverflow(by: dim)
                return (product.partialValue, acc.1 || product.overflow)
            }
        let elements = rows.multipliedReportingOverflow(by: cols)
        guard !colsOverflow, !elements.overflow, elements.partialValue <= info.byteRange.count,
              type.byteCount(elements: elements.partialValue) == info.byteRange.count else {
            throw ModelFileError.badFormat(path: path, detail: "tensor \(info.name) has \(info.byteRange.count) bytes for shape \(info.shape)")
        }
        return WeightMatrix(rows: rows, cols: cols, type: type, data: file.base + info.byteRange.lowerBound, owner: file)
    }
}

/// All tensors of a checkpoint, possibly sharded across files.
final class SafeTensorsCheckpoint: TensorSource {
    let path: String
    /// model_type of config.json: picks Gemma 3's names and norm convention.
    var architecture = "llama"
    private var owner: [String: SafeTensorsFile] = [:]

    init(directory: String) throws {
        path = directory
        let fm = FileManager.default
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        var files: [String]
        if fm.fileExists(atPath: index) {
            guard let data = fm.contents(atPath: index),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw ModelFileError.badFormat(path: index, detail: "no weight_map")
            }
            files = Array(Set(map.values)).sorted()
        } else {
            files = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        guard !files.isEmpty else {
            throw ModelFileError.cannotOpen(path: directory, reason: "no *.safetensors files in the directory")
        }
        for f in files {
            let st = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(f))
            for name in st.tensors.keys { owner[name] = st }
        }
    }

    func name(for role: TensorRole, layer: Int?) -> String {
        layer.map { role.huggingFace(layer: $0, architecture: architecture) } ?? role.huggingFace
    }
    func has(_ name: String) -> Bool { owner[name] != nil }
    var permutesQK: Bool { false }
    /// Gemma's RMSNorm multiplies by (1 + w) and transformers stores w.
    var normShift: Float { architecture == "gemma3" ? 1 : 0 }

    func matrix(_ name: String) throws -> WeightMatrix {
        guard let f = owner[name], let info = f.tensors[name] else { throw ModelFileError.missingTensor(path: path, tensor: name) }
        return try f.weight(info)
    }
    func vector(_ name: String) throws -> [Float] { try matrix(name).toFloats() }
}
