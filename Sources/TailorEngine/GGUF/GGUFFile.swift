// Reads a GGUF file (versions 2 and 3): metadata and tensor directory, with tensor bytes left in the memory map.
// Layout per the GGUF specification (ggml-org/ggml docs/gguf.md). Does not interpret tensors: see ModelLoader.

public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml order: `dims[0]` varies fastest. A PyTorch weight `[out, in]` is stored as `[in, out]`.
    public let dims: [Int]
    public let type: GGMLType
    /// Offset of the first byte inside the file.
    public let fileOffset: Int
    public var elementCount: Int { dims.reduce(1, *) }
    public var byteCount: Int { type.byteCount(elements: elementCount) }
}

public final class GGUFFile: @unchecked Sendable {
    // Sendable: immutable after init; the mapping is read-only.
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let metadataKeys: [String]
    public let tensors: [String: GGUFTensorInfo]
    public let tensorNames: [String]
    public let file: MappedFile

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        var r = ByteReader(base: file.base, count: file.count, path: path)
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else {
            throw ModelFileError.badFormat(path: path, detail: "it does not start with the GGUF magic bytes")
        }
        version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw ModelFileError.badFormat(path: path, detail: "GGUF version \(version) is not supported (2 and 3 are); re-convert it with a recent llama.cpp")
        }
        let tensorCount = try r.u64("tensor count")
        let kvCount = try r.u64("metadata count")
        // Counts and sizes come from the file: each is checked against the bytes the file has before anything is
        // allocated for it (a key takes at least 13 bytes, a tensor entry at least 24).
        guard tensorCount < 1 << 24, kvCount < 1 << 24,
              tensorCount * 24 + kvCount * 13 <= UInt64(file.count - r.offset) else {
            throw ModelFileError.badFormat(path: path, detail: "implausible counts (\(tensorCount) tensors, \(kvCount) keys) for a file of \(file.count) bytes")
        }
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        for _ in 0..<kvCount {
            let key = try r.string("metadata key")
            let type = try r.u32("type of \(key)")
            metadata[key] = try r.value(type: type, key: key)
            keys.append(key)
        }
        self.metadata = metadata
        metadataKeys = keys

        struct Pending { let name: String; let dims: [Int]; let rawType: UInt32; let offset: UInt64 }
        var pending: [Pending] = []
        pending.reserveCapacity(Int(tensorCount))
        for _ in 0..<tensorCount {
            let name = try r.string("tensor name")
            let nDims = try r.u32("dimensions of \(name)")
            guard nDims <= 4 else { throw ModelFileError.badFormat(path: path, detail: "tensor \(name) has \(nDims) dimensions") }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let dim = try r.u64("shape of \(name)")
                guard dim <= UInt64(file.count) * 8 else {
                    throw ModelFileError.badFormat(path: path, detail: "tensor \(name) claims a dimension of \(dim), more than a file of \(file.count) bytes can hold")
                }
                dims.append(Int(dim))
            }
            let rawType = try r.u32("type of \(name)")
            let offset = try r.u64("offset of \(name)")
            pending.append(Pending(name: name, dims: dims, rawType: rawType, offset: offset))
        }
        let alignment = metadata["general.alignment"]?.intValue ?? 32
        guard (1...(1 << 20)).contains(alignment) else {
            throw ModelFileError.badFormat(path: path, detail: "general.alignment is \(alignment); expected a small positive number like 32")
        }
        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        var tensors: [String: GGUFTensorInfo] = [:]
        for p in pending {
            guard let type = GGMLType(rawValue: p.rawType) else {
                throw ModelFileError.unsupportedTensorType(path: path, tensor: p.name, type: GGMLType.unsupportedName(p.rawType))
            }
            // The element count must not overflow and must fit the file (at most 8 elements a byte for any type).
            let (elements, overflow) = p.dims.reduce((1, false)) { acc, dim in
                let product = acc.0.multipliedReportingOverflow(by: dim)
                return (product.partialValue, acc.1 || product.overflow)
            }
            guard !overflow, elements <= file.count * 8, p.offset <= UInt64(file.count) else {
                throw ModelFileError.truncated(path: path, detail: "tensor \(p.name) claims shape \(p.dims) at data offset \(p.offset), more than the file's \(file.count) bytes hold")
            }
            let info = GGUFTensorInfo(name: p.name, dims: p.dims, type: type, fileOffset: dataStart + Int(p.offset))
            guard info.elementCount % type.blockSize == 0 else {
                throw ModelFileError.badFormat(path: path, detail: "tensor \(p.name) has \(info.elementCount) elements, not a multiple of the \(type.name) block")
            }
            guard info.fileOffset + info.byteCount <= file.count else {
                throw ModelFileError.truncated(path: path, detail: "tensor \(p.name) ends at byte \(info.fileOffset + info.byteCount) but the file has \(file.count) bytes")
            }
            tensors[p.name] = info
        }
        self.tensors = tensors
        tensorNames = pending.map(\.name)
    }

    public func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let t = tensors[name] else { throw ModelFileError.missingTensor(path: path, tensor: name) }
        return t
    }

    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawPointer { file.base + tensor.fileOffset }

    public func requiredInt(_ key: String) throws -> Int {
        guard let v = metadata[key]?.intValue else { throw ModelFileError.missingMetadata(path: path, key: key) }
        return v
    }
}

/// Bounds-checked little-endian reads over the mapping; every failure names what was being read.
struct ByteReader {
    let base: UnsafeRawPointer
    let count: Int
    let path: String
    var offset = 0

    private mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, offset + n <= count else {
            throw ModelFileError.truncated(path: path, detail: "the file ends while reading \(what()) at byte \(offset)")
        }
    }
    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        try need(1, what()); defer { offset += 1 }
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 {
        try need(4, what()); defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 {
        try need(8, what()); defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try u64(what())
        guard n < 1 << 30 else { throw ModelFileError.badFormat(path: path, detail: "implausible string length \(n) in \(what())") }
        try need(Int(n), what())
        defer { offset += Int(n) }
        let buf = UnsafeRawBufferPointer(start: base + offset, count: Int(n))
        return String(decoding: buf, as: UTF8.self)
    }

    mutating func value(type: UInt32, key: String) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try u8(key)))
        case 1: return .int(Int64(Int8(bitPattern: try u8(key))))
        case 2: try need(2, key); defer { offset += 2 }
            return .uint(UInt64(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
        case 3: try need(2, key); defer { offset += 2 }
            return .int(Int64(Int16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: Int16.self))))
        case 4: return .uint(UInt64(try u32(key)))
        case 5: return .int(Int64(Int32(bitPattern: try u32(key))))
        case 6: return .float(Double(Float(bitPattern: try u32(key))))
        case 7: return .bool(try u8(key) != 0)
        case 8: return .string(try string(key))
        case 9:
            let elementType = try u32(key)
            let n = try u64(key)
            // Every element takes at least one byte of the file.
            guard n < 1 << 28, n <= UInt64(count - offset) else {
                throw ModelFileError.badFormat(path: path, detail: "implausible array length \(n) for \(key) (\(count - offset) bytes left in the file)")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<n { items.append(try value(type: elementType, key: key)) }
            return .array(items)
        case 10: return .uint(try u64(key))
        case 11: return .int(Int64(bitPattern: try u64(key)))
        case 12: return .float(Double(bitPattern: try u64(key)))
        default: throw ModelFileError.badFormat(path: path, detail: "metadata \(key) has unknown value type \(type)")
        }
    }
}
