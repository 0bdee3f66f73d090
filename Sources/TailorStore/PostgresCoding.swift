// Records to and from PostgreSQL rows through their Codable conformance, so a record's CodingKeys name its columns
// once for both engines (GRDB reads the same keys). Not a general Codable bridge: only the column kinds the schema
// has (text, bigint, boolean, and String-backed enums through their single value) and flat records.
import PostgresNIO

/// Decodes one row into a flat record; a column the record does not name is ignored, as GRDB does.
struct PostgresRowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Columns(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a row is not an array"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a row is not one value"))
    }

    private struct Columns<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let row: PostgresRandomAccessRow
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { row.compactMap { Key(stringValue: $0.columnName) } }

        func contains(_ key: Key) -> Bool { row.contains(key.stringValue) }

        func decodeNil(forKey key: Key) throws -> Bool {
            try cell(key).bytes == nil
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try cell(key).decode(Bool.self) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try cell(key).decode(String.self) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try cell(key).decode(Int.self) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try cell(key).decode(Int64.self) }
        // The schema has no other column kinds.
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { throw unsupported(key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw unsupported(key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { throw unsupported(key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { throw unsupported(key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { throw unsupported(key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { throw unsupported(key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { throw unsupported(key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { throw unsupported(key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { throw unsupported(key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { throw unsupported(key) }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try T(from: CellDecoder(cell: try cell(key)))
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw unsupported(key)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw unsupported(key) }
        func superDecoder() throws -> any Decoder { throw unsupported(nil) }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw unsupported(key) }

        private func cell(_ key: Key) throws -> PostgresCell {
            guard row.contains(key.stringValue) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "no column \(key.stringValue)"))
            }
            return row[key.stringValue]
        }

        private func unsupported(_ key: Key?) -> DecodingError {
            .typeMismatch(Any.self, .init(codingPath: key.map { [$0] } ?? [],
                                          debugDescription: "records are flat rows of text, bigint and boolean columns"))
        }
    }

    /// One column's value, for String-backed enums (JobStatus, …), whose Decodable reads a single value.
    private struct CellDecoder: Decoder, SingleValueDecodingContainer {
        let cell: PostgresCell
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            throw DecodingError.typeMismatch(type, .init(codingPath: [], debugDescription: "column \(cell.columnName) is one value"))
        }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: [], debugDescription: "column \(cell.columnName) is one value"))
        }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { cell.bytes == nil }
        func decode(_ type: Bool.Type) throws -> Bool { try cell.decode(Bool.self) }
        func decode(_ type: String.Type) throws -> String { try cell.decode(String.self) }
        func decode(_ type: Int.Type) throws -> Int { try cell.decode(Int.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try cell.decode(Int64.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
        func decode(_ type: Double.Type) throws -> Double { throw unsupported() }
        func decode(_ type: Float.Type) throws -> Float { throw unsupported() }
        func decode(_ type: Int8.Type) throws -> Int8 { throw unsupported() }
        func decode(_ type: Int16.Type) throws -> Int16 { throw unsupported() }
        func decode(_ type: Int32.Type) throws -> Int32 { throw unsupported() }
        func decode(_ type: UInt.Type) throws -> UInt { throw unsupported() }
        func decode(_ type: UInt8.Type) throws -> UInt8 { throw unsupported() }
        func decode(_ type: UInt16.Type) throws -> UInt16 { throw unsupported() }
        func decode(_ type: UInt32.Type) throws -> UInt32 { throw unsupported() }
        func decode(_ type: UInt64.Type) throws -> UInt64 { throw unsupported() }

        private func unsupported() -> DecodingError {
            .typeMismatch(Any.self, .init(codingPath: [], debugDescription: "column \(cell.columnName) is text, bigint or boolean"))
        }
    }
}

/// Encodes a flat record into its columns and values, in the order its `encode(to:)` writes them. A nil optional is
/// written as NULL (Swift's synthesized code would skip it; an UPDATE must clear the column).
final class ColumnEncoder: Encoder {
    private(set) var columns: [(name: String, value: SQLValue)] = []
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func columns<R: Encodable>(of record: R) throws -> [(name: String, value: SQLValue)] {
        let encoder = ColumnEncoder()
        try record.encode(to: encoder)
        return encoder.columns
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Columns<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        fatalError("records are flat rows: an unkeyed container has no column")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        fatalError("records are flat rows: a single value has no column")
    }

    fileprivate func add(_ key: some CodingKey, _ value: SQLValue) {
        columns.append((key.stringValue, value))
    }

    private struct Columns<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: ColumnEncoder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { encoder.add(key, .null) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { encoder.add(key, .boolean(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { encoder.add(key, .text(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { encoder.add(key, .integer(Int64(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { encoder.add(key, .integer(value)) }
        // The schema has no other column kinds.
        mutating func encode(_ value: Double, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { throw unsupported(value, key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            guard let convertible = value as? any SQLValueConvertible else { throw unsupported(value, key) }
            encoder.add(key, convertible.sqlValue)
        }

        private func unsupported(_ value: Any, _ key: Key) -> EncodingError {
            .invalidValue(value, .init(codingPath: [key], debugDescription: "\(key.stringValue) is not text, bigint or boolean"))
        }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { encoder.add(key, value.sqlValue) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { encoder.add(key, value.sqlValue) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { encoder.add(key, value.sqlValue) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { encoder.add(key, value.sqlValue) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { encoder.add(key, .null) }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            fatalError("records are flat rows: \(key.stringValue) cannot nest")
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            fatalError("records are flat rows: \(key.stringValue) cannot nest")
        }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { encoder }
    }
}
