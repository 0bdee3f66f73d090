// Writes `.safetensors` files (f32 or bf16 tensors): a u64 header length, a JSON header padded to 8 bytes, then
// the tensor bytes in header order. Used for PEFT adapters, optimizer state and merged models.
import Foundation

public struct SafeTensorsWriter {
    public enum DType: String { case f32 = "F32", bf16 = "BF16", f16 = "F16" }
    private var entries: [(name: String, shape: [Int], dtype: DType, bytes: Data)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>, as dtype: DType = .f32) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        let data: Data
        switch dtype {
        case .f32: data = Data(buffer: values)
        case .bf16: data = values.map { tk_f32_to_bf16_swift($0) }.withUnsafeBufferPointer { Data(buffer: $0) }
        case .f16: data = values.map { Float16($0).bitPattern }.withUnsafeBufferPointer { Data(buffer: $0) }
        }
        entries.append((name, shape, dtype, data))
    }

    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: DType = .f32) {
        values.withUnsafeBufferPointer { add(name, shape: shape, values: $0, as: dtype) }
    }

    /// The file's bytes.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for e in entries { out.append(e.bytes) }
        return out
    }
}

private func tk_f32_to_bf16_swift(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    if f.isNaN { return UInt16(x >> 16) | 64 }
    return UInt16((x &+ (0x7FFF &+ ((x >> 16) & 1))) >> 16)
}

/// Writes bytes to `path` atomically: a temporary file in the same directory, fsync, rename, fsync the directory.
public func writeFileAtomically(_ data: Data, to path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    let tmp = (dir as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp")
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: tmp, NSLocalizedDescriptionKey: String(cString: strerror(errno))]) }
    var ok = data.withUnsafeBytes { buf -> Bool in
        var done = 0
        while done < buf.count {
            let n = write(fd, buf.baseAddress! + done, buf.count - done)
            if n <= 0 { return false }
            done += n
        }
        return true
    }
    ok = ok && fsync(fd) == 0
    close(fd)
    guard ok, rename(tmp, path) == 0 else {
        unlink(tmp)
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
    }
    fsyncDirectory(dir)
}

public func fsyncDirectory(_ dir: String) {
    let fd = open(dir, O_RDONLY | O_DIRECTORY)
    if fd >= 0 { fsync(fd); close(fd) }
}
