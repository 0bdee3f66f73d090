// Reading TemplateValue from JSON, keeping object key order (Foundation's JSONSerialization loses it, and
// templates print tools and arguments in the order the client sent them). Not a general JSON library.
import Foundation

extension TemplateValue {
    /// Parses JSON text as Python's `json.loads` would: integers stay `.int`, numbers with a fraction or exponent
    /// become `.double`, object keys keep their order (a repeated key keeps its first position, last value).
    public init(json text: String) throws {
        var parser = JSONReader(bytes: Array(text.utf8))
        self = try parser.document()
    }

    /// The value as transformers' `tojson` filter prints it (Python's `json.dumps(x, ensure_ascii=False)`: ", " and
    /// ": " separators, keys in order), so text Tailor writes for a model matches what its templates write.
    public var jsonText: String {
        dumpJSON(self)
    }

    /// Converts Foundation objects (`JSONSerialization` output, `[String: Any]`, arrays, numbers, NSNull).
    /// Foundation dictionaries have no order, so keys are sorted; parse JSON text with `init(json:)` to keep it.
    public init(jsonObject: Any) throws {
        switch jsonObject {
        case is NSNull: self = .none
        case let value as TemplateValue: self = value
        case let text as String: self = .string(text)
        case let flag as Bool where type(of: jsonObject) == Bool.self: self = .bool(flag)
        case let number as Int where type(of: jsonObject) == Int.self: self = .int(number)
        case let number as Double where type(of: jsonObject) == Double.self: self = .double(number)
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "f", "d": self = .double(number.doubleValue)
            default: self = .int(number.intValue)
            }
        case let list as [Any]: self = .array(try list.map { try TemplateValue(jsonObject: $0) })
        case let object as [String: Any]:
            var dict = TemplateDictionary()
            for key in object.keys.sorted() { dict[key] = try TemplateValue(jsonObject: object[key]!) }
            self = .dict(dict)
        default:
            throw TemplateError(.json, "cannot use a value of type \(type(of: jsonObject)) in a template context")
        }
    }
}

/// A TemplateValue is always JSON-representable, so the dump cannot fail.
private func dumpJSON(_ value: TemplateValue) -> String {
    let converted: Value = .init(value)
    return (try? JSONDumper().dump(converted)) ?? "null"
}

private struct JSONReader {
    let bytes: [UInt8]
    var position = 0

    mutating func document() throws -> TemplateValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if position < bytes.count { throw failure("unexpected text after the JSON value") }
        return value
    }

    private mutating func parseValue(depth: Int) throws -> TemplateValue {
        guard depth < 512 else { throw failure("nesting deeper than 512 levels") }
        skipWhitespace()
        guard position < bytes.count else { throw failure("unexpected end of JSON") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["):
            position += 1
            var items: [TemplateValue] = []
            skipWhitespace()
            if peek(UInt8(ascii: "]")) { position += 1; return .array(items) }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if peek(UInt8(ascii: ",")) { position += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .none
        default: return try parseNumber()
        }
    }

    private mutating func parseObject(depth: Int) throws -> TemplateValue {
        position += 1
        var dict = TemplateDictionary()
        skipWhitespace()
        if peek(UInt8(ascii: "}")) { position += 1; return .dict(dict) }
        while true {
            skipWhitespace()
            guard peek(UInt8(ascii: "\"")) else { throw failure("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            dict[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            if peek(UInt8(ascii: ",")) { position += 1; continue }
            try expect(UInt8(ascii: "}"))
            return .dict(dict)
        }
    }

    private mutating func parseString() throws -> String {
        position += 1
        var text = ""
        var start = position
        func flush(_ end: Int) { text += String(decoding: bytes[start..<end], as: UTF8.self) }
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                flush(position)
                position += 1
                return text
            }
            if byte < 0x20 { throw failure("control character in a string") }
            if byte != UInt8(ascii: "\\") { position += 1; continue }
            flush(position)
            position += 1
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): text += "\""
            case UInt8(ascii: "\\"): text += "\\"
            case UInt8(ascii: "/"): text += "/"
            case UInt8(ascii: "b"): text += "\u{8}"
            case UInt8(ascii: "f"): text += "\u{c}"
            case UInt8(ascii: "n"): text += "\n"
            case UInt8(ascii: "r"): text += "\r"
            case UInt8(ascii: "t"): text += "\t"
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), bytes[position...].starts(with: Array("\\u".utf8)) {
                    position += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position -= 6
                    }
                }
                // Lone surrogates cannot live in a Swift string; Python keeps them, we substitute U+FFFD.
                text.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: throw failure("invalid escape \\\(Character(Unicode.Scalar(escape)))")
            }
            start = position
        }
        throw failure("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count,
              let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
        else { throw failure("invalid \\u escape") }
        position += 4
        return code
    }

    private mutating func parseNumber() throws -> TemplateValue {
        let start = position
        var isFloat = false
        if peek(UInt8(ascii: "-")) { position += 1 }
        while position < bytes.count {
            let byte = bytes[position]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                        || ((byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")) && isFloat) {
                isFloat = true
                position += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if !isFloat, let number = Int(text) { return .int(number) }
        if let number = Double(text), text.last?.isNumber == true { return .double(number) }
        position = start
        throw failure("invalid value")
    }

    private mutating func literal(_ word: String) throws {
        guard bytes[position...].starts(with: Array(word.utf8)) else { throw failure("invalid literal") }
        position += word.utf8.count
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek(byte) else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    private func peek(_ byte: UInt8) -> Bool { position < bytes.count && bytes[position] == byte }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private func failure(_ message: String) -> TemplateError {
        let before = bytes[..<min(position, bytes.count)]
        let line = before.filter { $0 == 0x0A }.count + 1
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = String(decoding: bytes[lineStart..<min(position, bytes.count)], as: UTF8.self).unicodeScalars.count + 1
        return TemplateError(.json, message, line: line, column: column)
    }
}
