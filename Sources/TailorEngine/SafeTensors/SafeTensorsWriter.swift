// Writes `.safetensors` files (f32 or bf16 tensors): a u64 header length, a JSON header padded to 8 bytes, then
// the tensor bytes in header order. Used for PEFT adapters, optimizer state and merged models.
import Foundation

public struct SafeTensorsWriter {
    public enum DType: String { case f32 = "F32", bf16 = "BF16", f16 = "F16" }
    private var entries: [(name: String, shape: [Int], dtype: DType, bytes: Data)] = []
    /// f32 tensors written from the caller's memory by write(to:) (a whole model's weights are not copied first).
    private var borrowed: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
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

    /// An f32 tensor left in the caller's memory, which must hold it until write(to:) returns; written after every
    /// copied tensor. serialized() does not take these.
    public mutating func addBorrowing(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        borrowed.append((name, shape, values))
    }

    /// The length prefix and JSON header, with the copied tensors first and the borrowed ones after them.
    private func header() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        for b in borrowed {
            header[b.name] = ["dtype": DType.f32.rawValue, "shape": b.shape, "data_offsets": [offset, offset + 4 * b.values.count]]
            offset += 4 * b.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        return out
    }

    /// The file's bytes.
    public func serialized() throws -> Data {
        precondition(borrowed.isEmpty, "borrowed tensors are written by write(to:)")
        var out = try header()
        for e in entries { out.append(e.bytes) }
        return out
    }

    /// Writes the file atomically, streaming the borrowed tensors from their memory.
    public func write(to path: String) throws {
        let head = try header()
        try writeFileAtomically(to: path) { fd in
            guard head.withUnsafeBytes({ writeAll(fd, $0) }) else { return false }
            for e in entries where !e.bytes.withUnsafeBytes({ writeAll(fd, $0) }) { return false }
            for b in borrowed where !writeAll(fd, UnsafeRawBufferPointer(b.values)) { return false }
            return true
        }
    }
}

private func tk_f32_to_bf16_swift(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    if f.isNaN { return UInt16(x >> 16) | 64 }
    return UInt16((x &+ (0x7FFF &+ ((x >> 16) & 1))) >> 16)
}

/// Writes bytes to `path` atomically: a temporary file in the same directory, fsync, rename, fsync the directory.
public func writeFileAtomically(_ data: Data, to path: String) throws {
    try writeFileAtomically(to: path) { fd in data.withUnsafeBytes { writeAll(fd, $0) } }
}

/// Every byte of `buf` to `fd`; false on an error.
func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> Bool {
    var done = 0
    while done < buf.count {
        let n = write(fd, buf.baseAddress! + done, buf.count - done)
        if n <= 0 { return false }
        done += n
    }
    return true
}

/// A temporary file beside `path` filled by `fill` (false: it failed), synced, then renamed into place.
func writeFileAtomically(to path: String, _ fill: (Int32) -> Bool) throws {
    let dir = (path as NSString).deletingLastPathComponent
    let tmp = (dir as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp")
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: tmp, NSLocalizedDescriptionKey: String(cString: strerror(errno))]) }
    var ok = fill(fd)
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
