// Model files whose sizes and offsets lie (found by Fuzz/FuzzModelFiles): each is rejected with a ModelFileError,
// never a trap on overflow or an allocation sized by the file's claim.
import Foundation
import Testing
import TailorEngine

@Suite struct HostileModelFileTests {
    static func write(_ bytes: [UInt8]) -> String {
        let path = NSTemporaryDirectory() + "tailor-hostile-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func string(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }
    static func gguf(tensors: UInt64, kvs: UInt64, _ rest: [UInt8]) -> [UInt8] {
        Array("GGUF".utf8) + u32(3) + u64(tensors) + u64(kvs) + rest
    }

    static func expectRejected(_ bytes: [UInt8], _ load: (String) throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = write(bytes)
        defer { unlink(path) }
        #expect(throws: ModelFileError.self, sourceLocation: sourceLocation) { try load(path) }
    }

    @Test func ggufCountsBeyondTheFileAreRejectedBeforeAllocating() {
        // 16 million tensor entries claimed by a 24-byte file: used to reserve ~700 MB first.
        Self.expectRejected(Self.gguf(tensors: (1 << 24) - 1, kvs: 0, [])) { _ = try GGUFFile(path: $0) }
        // An array of 2^28 - 1 elements claimed in a tiny file: used to reserve gigabytes.
        let array = Self.string("k") + Self.u32(9) + Self.u32(0) + Self.u64((1 << 28) - 1) + [1, 2, 3]
        Self.expectRejected(Self.gguf(tensors: 0, kvs: 1, array)) { _ = try GGUFFile(path: $0) }
    }

    @Test func ggufHugeShapesAndOffsetsAreErrorsNotTraps() {
        func tensor(dims: [UInt64], offset: UInt64) -> [UInt8] {
            Self.gguf(tensors: 1, kvs: 0, Self.string("t") + Self.u32(UInt32(dims.count)) + dims.flatMap(Self.u64)
                      + Self.u32(0) + Self.u64(offset)) + [UInt8](repeating: 0, count: 64)
        }
        Self.expectRejected(tensor(dims: [UInt64.max], offset: 0)) { _ = try GGUFFile(path: $0) }
        Self.expectRejected(tensor(dims: [1 << 20, 1 << 20, 1 << 20, 1 << 20], offset: 0)) { _ = try GGUFFile(path: $0) }
        Self.expectRejected(tensor(dims: [1], offset: UInt64.max)) { _ = try GGUFFile(path: $0) }
        // A claimed 1 TB tensor.
        Self.expectRejected(tensor(dims: [1 << 38], offset: 0)) { _ = try GGUFFile(path: $0) }
        let alignment = Self.string("general.alignment") + Self.u32(4) + Self.u32(0)
        Self.expectRejected(Self.gguf(tensors: 0, kvs: 1, alignment)) { _ = try GGUFFile(path: $0) }
    }

    @Test func ggufZeroAttentionHeadsIsAnErrorNotADivisionByZero() throws {
        let kvs = Self.string("general.architecture") + Self.u32(8) + Self.string("llama")
            + Self.string("llama.embedding_length") + Self.u32(4) + Self.u32(8)
            + Self.string("llama.attention.head_count") + Self.u32(4) + Self.u32(0)
        let path = Self.write(Self.gguf(tensors: 0, kvs: 3, kvs))
        defer { unlink(path) }
        let file = try GGUFFile(path: path)
        #expect(throws: ModelFileError.self) { _ = try file.llamaConfig() }
    }

    @Test func safetensorsLyingHeadersAreErrorsNotTraps() {
        func file(_ header: String, length: UInt64? = nil, data: Int = 16) -> [UInt8] {
            Self.u64(length ?? UInt64(header.utf8.count)) + Array(header.utf8) + [UInt8](repeating: 0, count: data)
        }
        Self.expectRejected(file("{}", length: UInt64.max)) { _ = try SafeTensorsFile(path: $0) }
        Self.expectRejected(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#)) { _ = try SafeTensorsFile(path: $0) }
        Self.expectRejected(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#)) { _ = try SafeTensorsFile(path: $0) }
        Self.expectRejected(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775807]}}"#)) { _ = try SafeTensorsFile(path: $0) }
        Self.expectRejected(file(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#)) { _ = try SafeTensorsFile(path: $0) }
    }
}
