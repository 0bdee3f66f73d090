// Writes GGUF v3 files: metadata, then tensors (F32 or F16) aligned to 32 bytes. Used for LoRA adapters that
// llama.cpp loads with --lora, for merged models, and by tests that need a model file.
import Foundation

public struct GGUFWriter {
    public enum TensorType { case f32, f16 }
    private var kv: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dims: [Int], type: TensorType, bytes: Data)] = []
    public let alignment = 32

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        kv.removeAll { $0.0 == key }
        kv.append((key, value))
    }

    /// `shape` in PyTorch order ([out, in]); stored in ggml order (reversed).
    public mutating func addTensor(_ name: String, shape: [Int], values: [Float], type: TensorType = .f32) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        let data: Data
        switch type {
        case .f32: data = values.withUnsafeBufferPointer { Data(buffer: $0) }
        case .f16: data = values.map { Float16($0).bitPattern }.withUnsafeBufferPointer { Data(buffer: $0) }
        }
        tensors.append((name, Array(shape.reversed()), type, data))
    }

    public func serialized() -> Data {
        var out = Data()
        func u32(_ v: UInt32) { var x = v.littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { var x = v.littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
        func typeID(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint: 4; case .int: 5; case .float: 6; case .bool: 7; case .string: 8; case .array: 9
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint(let x): u32(UInt32(truncatingIfNeeded: x))
            case .int(let x): u32(UInt32(bitPattern: Int32(truncatingIfNeeded: x)))
            case .float(let x): u32(Float(x).bitPattern)
            case .bool(let b): out.append(b ? 1 : 0)
            case .string(let s): str(s)
            case .array(let items):
                u32(items.first.map(typeID) ?? 8)
                u64(UInt64(items.count))
                for i in items { value(i) }
            }
        }
        u32(0x4655_4747)   // "GGUF"
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(kv.count))
        for (k, v) in kv { str(k); u32(typeID(v)); value(v) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.bytes.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.type == .f32 ? 0 : 1)
            u64(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out.append(t.bytes)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }
}
