// An ordered list of header fields with ASCII case-insensitive lookup, as HTTP/1.1 defines them.
// Not a dictionary: order and repeated fields (Set-Cookie, Vary) survive a round trip.

public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = []
        fields.reserveCapacity(elements.count)
        for (name, value) in elements { fields.append((name: name, value: value)) }
    }

    /// The first value for `name`, or nil.
    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) { return field.value }
        return nil
    }

    /// Every value for `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping any existing ones with the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field holding `value`, at the first one's position.
    public mutating func set(_ name: String, _ value: String) {
        guard let first = fields.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, name) }) else {
            fields.append((name: name, value: value))
            return
        }
        fields[first].value = value
        var index = fields.count - 1
        while index > first {
            if asciiCaseInsensitiveEquals(fields[index].name, name) { fields.remove(at: index) }
            index -= 1
        }
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// Whether a comma-separated header (Connection, Expect) lists `token`, ignoring case.
    public func hasToken(_ token: String, in name: String) -> Bool {
        for value in values(name) {
            for item in value.split(separator: ",") {
                if asciiCaseInsensitiveEquals(trimmingOptionalWhitespace(item), token) { return true }
            }
        }
        return false
    }
}

/// ASCII-only case folding: header names and tokens are ASCII, and this avoids allocating lowercased copies.
func asciiCaseInsensitiveEquals<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    var left = a.utf8.makeIterator()
    var right = b.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil): return true
        case let (l?, r?):
            if l != r && asciiLower(l) != asciiLower(r) { return false }
        default: return false
        }
    }
}

/// Strips HTTP's "optional whitespace" (spaces and tabs) from both ends.
func trimmingOptionalWhitespace(_ text: Substring) -> Substring {
    var text = text
    while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" { text.removeLast() }
    return text
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 65 && byte <= 90 ? byte | 0x20 : byte
}
