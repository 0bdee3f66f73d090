// TemplateValue: the JSON-like data a chat template reads (messages, tools, flags), with dictionary order kept
// as Python dicts keep it. Not the interpreter's runtime value, which also has undefined, macros, namespaces.

public enum TemplateValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case dict(TemplateDictionary)

    /// The string inside `.string`, or nil.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// Python's `==`: `1 == 1.0 == True`, and dictionaries compare without regard to key order.
    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.dict(let a), .dict(let b)): return a == b
        default:
            guard let a = lhs.numeric, let b = rhs.numeric else { return false }
            return a == b
        }
    }

    private var numeric: Double? {
        switch self {
        case .bool(let flag): return flag ? 1 : 0
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: return nil
        }
    }
}

/// A string-keyed dictionary that remembers insertion order, the way Python's `dict` does: iteration and `tojson`
/// follow it. Assigning to an existing key keeps its position.
public struct TemplateDictionary: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [String] = []
    public private(set) var values: [TemplateValue] = []
    /// Positions by key, only for larger dicts: chat messages have a handful of keys, where a scan beats hashing.
    private var index: [String: Int]?
    private static let indexThreshold = 12

    public init() {}

    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }

    /// From keys known to be distinct, without checking them one by one.
    init(uniqueKeys keys: [String], values: [TemplateValue]) {
        self.keys = keys
        self.values = values
        reindex()
    }

    public init<S: Sequence>(_ pairs: S) where S.Element == (String, TemplateValue) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return keys.firstIndex(of: key)
    }

    public subscript(key: String) -> TemplateValue? {
        get { position(of: key).map { values[$0] } }
        set {
            if let existing = position(of: key) {
                if let newValue {
                    values[existing] = newValue
                } else {
                    keys.remove(at: existing)
                    values.remove(at: existing)
                    index = nil
                    reindex()
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
                if index != nil { index![key] = keys.count - 1 } else { reindex() }
            }
        }
    }

    private mutating func reindex() {
        guard keys.count > TemplateDictionary.indexThreshold else { return }
        index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: TemplateValue)> {
        zip(keys, values).lazy.map { (key: $0.0, value: $0.1) }.makeIterator()
    }

    /// Like Python: same keys and values, in any order.
    public static func == (lhs: TemplateDictionary, rhs: TemplateDictionary) -> Bool {
        lhs.count == rhs.count && zip(lhs.keys, lhs.values).allSatisfy { rhs[$0.0] == $0.1 }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .dict(TemplateDictionary(elements)) }
    public init(nilLiteral: ()) { self = .none }
}
