// A GGUF metadata value. Arrays of strings (vocabularies, merges) are large, so they stay as Swift arrays
// decoded once at load; this is not a general serialisation format.

public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String)
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case .uint(let v): return Int(exactly: v)
        case .int(let v): return Int(exactly: v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var stringArray: [String]? { arrayValue?.compactMap(\.stringValue) }
    public var intArray: [Int]? { arrayValue?.compactMap(\.intValue) }
    public var floatArray: [Float]? { arrayValue?.compactMap { $0.doubleValue.map(Float.init) } }
}
