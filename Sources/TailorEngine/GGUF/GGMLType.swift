// The ggml tensor types Tailor reads, with their block geometry (llama.cpp `ggml.h`, `ggml-common.h`).
// Numbers are the on-disk ids; a type not listed here is reported by name where known, by number otherwise.

public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q4_K = 12, q5_K = 13, q6_K = 14, bf16 = 30

    /// Elements per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q4_K, .q5_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18          // f16 d, 16 bytes of nibbles
        case .q4_1: return 20          // f16 d, f16 m, 16 bytes of nibbles
        case .q5_0: return 22          // f16 d, 32 fifth bits, 16 bytes of nibbles
        case .q5_1: return 24          // f16 d, f16 m, 32 fifth bits, 16 bytes of nibbles
        case .q8_0: return 34          // f16 d, 32 int8
        case .q4_K: return 144         // f16 d, f16 dmin, 12 bytes scales, 128 bytes nibbles
        case .q5_K: return 176         // + 32 bytes of high bits
        case .q6_K: return 210         // 128 ql, 64 qh, 16 int8 scales, f16 d
        }
    }

    public var name: String {
        switch self {
        case .f32: "F32"; case .f16: "F16"; case .bf16: "BF16"; case .q4_0: "Q4_0"; case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"; case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"; case .q4_K: "Q4_K"; case .q5_K: "Q5_K"; case .q6_K: "Q6_K"
        }
    }

    /// Bytes taken by `count` elements (a whole number of blocks).
    public func byteCount(elements count: Int) -> Int { count / blockSize * blockBytes }

    /// Names of the ggml types Tailor does not read, for error messages.
    static func unsupportedName(_ raw: UInt32) -> String {
        let names: [UInt32: String] = [9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 15: "Q8_K",
                                       16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
                                       21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
                                       27: "I64", 28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4"]
        return names[raw] ?? "type \(raw)"
    }
}
