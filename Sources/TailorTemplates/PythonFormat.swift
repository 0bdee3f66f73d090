// How Python spells values: str(), repr(), float repr, json.dumps (transformers' tojson), ==, < and HTML escaping.
// Templates print lists, dicts and floats, so these must match CPython character for character.

extension Value {
    /// Python's `str(value)`, which is what `{{ }}` and `~` print.
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let text), .markup(let text): return text
        default: return pythonRepr
        }
    }

    /// Python's `repr(value)`.
    var pythonRepr: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let number): return String(number)
        case .double(let number): return pythonFloatRepr(number)
        case .string(let text): return pythonStringRepr(text)
        case .markup(let text): return "Markup(\(pythonStringRepr(text)))"
        case .list(let items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let items):
            return items.count == 1 ? "(\(items[0].pythonRepr),)" : "(" + items.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .dict(let dict):
            return "{" + dict.pairs.map { $0.0.value.pythonRepr + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .generator(_, let kind): return "<\(kind) object>"
        case .namespace(let namespace): return "<Namespace \(Value.dict(namespace.attributes).pythonRepr)>"
        case .loop(let loop): return "<LoopContext \(loop.index0 + 1)/\(loop.items.count)>"
        case .macro(let macro): return "<Macro '\(macro.definition.name.name)'>"
        case .function(let function): return "<function \(function.name)>"
        }
    }

    /// Python's `==`.
    func pythonEquals(_ other: Value) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.int(let a), .int(let b)): return a == b
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0.pythonEquals($0.1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && a.pairs.allSatisfy { key, value in b[key].map(value.pythonEquals) ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        default:
            if let a = text, let b = other.text { return a == b }
            if let a = numeric, let b = other.numeric { return a == b }
            return false
        }
    }

    /// Numbers as Python mixes them (bool is an int). Int-with-Int comparisons go through Int first, exactly.
    var numeric: Double? {
        switch self {
        case .bool(let flag): return flag ? 1 : 0
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: return nil
        }
    }

    /// Python's `<`, or a TypeError for types it does not order.
    func pythonLess(_ other: Value, _ op: String = "<") throws -> Bool {
        switch (self, other) {
        case (.int(let a), .int(let b)): return a < b
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !x.pythonEquals(y) { return try x.pythonLess(y, op) }
            return a.count < b.count
        default:
            if let a = text, let b = other.text { return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }
            if let a = numeric, let b = other.numeric { return a < b }
            throw TemplateError(.type, "'\(op)' not supported between instances of '\(typeName)' and '\(other.typeName)'")
        }
    }
}

func pythonStringRepr(_ text: String) -> String {
    let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
    var out = String.UnicodeScalarView()
    out.append(quote)
    for scalar in text.unicodeScalars {
        switch scalar {
        case quote, "\\":
            out.append("\\")
            out.append(scalar)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        default:
            if scalar.isPythonPrintable {
                out.append(scalar)
            } else {
                let hex = String(scalar.value, radix: 16)
                let (prefix, width) = scalar.value < 0x100 ? ("\\x", 2) : scalar.value < 0x10000 ? ("\\u", 4) : ("\\U", 8)
                out.append(contentsOf: (prefix + String(repeating: "0", count: width - hex.count) + hex).unicodeScalars)
            }
        }
    }
    out.append(quote)
    return String(out)
}

extension Unicode.Scalar {
    /// Python's `str.isprintable()` for one character: everything but controls, format, surrogates, private use,
    /// unassigned and separators other than the ASCII space.
    var isPythonPrintable: Bool {
        if value == 0x20 { return true }
        if value < 0x7F { return value >= 0x20 }
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation below 1e-4 and from 1e16 on.
func pythonFloatRepr(_ number: Double) -> String {
    if number.isNaN { return "nan" }
    if number.isInfinite { return number < 0 ? "-inf" : "inf" }
    // Swift's description already holds the shortest round-trip digits; only the layout differs from Python's.
    var text = number.magnitude.description
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    let integerPart = String(parts[0])
    let fraction = parts.count > 1 ? String(parts[1]) : ""
    var digits = integerPart + fraction
    var point = integerPart.count + exponent  // value = 0.digits × 10^point
    while digits.first == "0" && digits.count > 1 {
        digits.removeFirst()
        point -= 1
    }
    while digits.last == "0" && digits.count > 1 { digits.removeLast() }
    let sign = number.sign == .minus ? "-" : ""
    if digits == "0" { return sign + "0.0" }
    if point > -4 && point <= 16 {
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) + ".0" }
        return sign + digits.prefix(point) + "." + digits.dropFirst(point)
    }
    let mantissa = digits.count == 1 ? digits : digits.prefix(1) + "." + digits.dropFirst()
    let e = point - 1
    return sign + mantissa + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
}

/// markupsafe's escape.
func htmlEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(character)
        }
    }
    return out
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
struct JSONDumper {
    var ensureASCII = false
    var indent: String?
    var itemSeparator: String
    var keySeparator = ": "
    var sortKeys = false

    init(ensureASCII: Bool = false, indent: String? = nil, separators: (String, String)? = nil, sortKeys: Bool = false) {
        self.ensureASCII = ensureASCII
        self.indent = indent
        self.sortKeys = sortKeys
        // json.dumps: with an indent the item separator drops its trailing space.
        itemSeparator = indent == nil ? ", " : ","
        if let separators { (itemSeparator, keySeparator) = separators }
    }

    func dump(_ value: Value) throws -> String {
        var out = ""
        try write(value, level: 0, into: &out)
        return out
    }

    private func write(_ value: Value, level: Int, into out: inout String) throws {
        switch value {
        case .none: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .double(let number):
            out += number.isNaN ? "NaN" : number.isInfinite ? (number < 0 ? "-Infinity" : "Infinity") : pythonFloatRepr(number)
        case .string(let text), .markup(let text): writeString(text, into: &out)
        case .list(let items), .tuple(let items):
            try writeContainer("[", "]", items.count, level: level, into: &out) { index, out in
                try write(items[index], level: level + 1, into: &out)
            }
        case .dict(let dict):
            var keys = dict.keys
            if sortKeys { keys = try keys.sorted { try $0.value.pythonLess($1.value) } }
            try writeContainer("{", "}", keys.count, level: level, into: &out) { index, out in
                writeString(jsonKey(keys[index]), into: &out)
                out += keySeparator
                try write(dict[keys[index]]!, level: level + 1, into: &out)
            }
        default:
            throw TemplateError(.type, "Object of type \(value.typeName) is not JSON serializable")
        }
    }

    /// json.dumps turns non-string keys into strings: 1 → "1", None → "null".
    private func jsonKey(_ key: DictKey) -> String {
        switch key {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return pythonFloatRepr(number)
        case .none: return "null"
        }
    }

    private func writeContainer(_ open: String, _ close: String, _ count: Int, level: Int, into out: inout String,
                                item: (Int, inout String) throws -> Void) throws {
        out += open
        guard count > 0 else { out += close; return }
        let inner = indent.map { "\n" + String(repeating: $0, count: level + 1) }
        for index in 0..<count {
            if index > 0 { out += itemSeparator }
            if let inner { out += inner }
            try item(index, &out)
        }
        if let indent { out += "\n" + String(repeating: indent, count: level) }
        out += close
    }

    private func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{c}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    for unit in String(scalar).utf16 {
                        let hex = String(unit, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
