// jinja2's built-in filters that chat templates use, with their Python argument names and quirks (lazy results
// from map/select are generators; `tojson` is transformers' override; string filters take `str()` of anything,
// as jinja2's soft_str does). Filters outside this set fail by name.
import Foundation

extension Renderer {
    func applyFilter(_ name: String, to value: Value, _ arguments: CallArguments) throws -> Value {
        func argument(_ position: Int, _ keyword: String) -> Value? { arguments.value(position, keyword) }
        func flag(_ position: Int, _ keyword: String) -> Bool { argument(position, keyword)?.isTruthy ?? false }
        /// The `attribute=` argument, also accepted positionally where jinja2's signature allows it.
        func attributeName(at position: Int?) -> String? {
            (position.flatMap { arguments.positional.indices.contains($0) ? arguments.positional[$0] : nil }
                ?? arguments.keyword("attribute"))?.pythonString
        }

        switch name {
        case "abs":
            switch value {
            case .int(let number): return .int(abs(number))
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .double(let number): return .double(abs(number))
            default: throw operandError("abs()", value)
            }
        case "attr":
            let attribute = argument(0, "name")?.pythonString ?? ""
            if case .namespace(let namespace) = value { return namespace.attributes[attribute] ?? Undefined.named(attribute) }
            return boundMethod(value, attribute) ?? .undefined(Undefined(message: "'\(value.objectDescription)' has no attribute '\(attribute)'"))
        case "batch":
            guard case .int(let size) = argument(0, "linecount") ?? .none, size > 0 else {
                throw TemplateError(.type, "batch needs a positive integer size")
            }
            let fill = argument(1, "fill_with")
            var batches: [Value] = []
            var current: [Value] = []
            for item in try iterate(value) {
                current.append(item)
                if current.count == size { batches.append(.list(current)); current = [] }
            }
            if !current.isEmpty {
                if let fill, !(fill.isNone) { current += Array(repeating: fill, count: size - current.count) }
                batches.append(.list(current))
            }
            return .generator(batches, kind: "generator")
        case "capitalize": return .string(PythonString.capitalize(value.pythonString))
        case "center":
            return try callMethod(.string(value.pythonString), "center", CallArguments(positional: [argument(0, "width") ?? .int(80)]))!
        case "count", "length": return .int(try length(value))
        case "default", "d":
            let replacement = argument(0, "default_value") ?? .string("")
            return value.isUndefined || (flag(1, "boolean") && !value.isTruthy) ? replacement : value
        case "dictsort":
            guard case .dict(let dict) = value else { throw TemplateError(.type, "You can only sort by either 'key' or 'value'") }
            let byValue = (argument(1, "by")?.pythonString ?? "key") == "value"
            let caseSensitive = flag(0, "case_sensitive")
            let sorted = try dict.pairs.sorted { a, b in
                try sortKey(byValue ? a.1 : a.0.value, caseSensitive).pythonLess(sortKey(byValue ? b.1 : b.0.value, caseSensitive))
            }
            let pairs = sorted.map { Value.tuple([$0.0.value, $0.1]) }
            return .list(flag(2, "reverse") ? pairs.reversed() : pairs)
        case "escape", "e":
            return value.isMarkup ? value : .markup(htmlEscape(value.pythonString))
        case "first":
            if case .dict(let dict) = value { return dict.keys.first?.value ?? emptyUndefined("first") }
            return try iterate(value).first ?? emptyUndefined("first")
        case "last":
            switch value {
            case .generator(_, let kind): throw TemplateError(.type, "'\(kind)' object is not reversible")
            case .dict(let dict): return dict.keys.last?.value ?? emptyUndefined("last")
            default: return try iterate(value).last ?? emptyUndefined("last")
            }
        case "float":
            if case .undefined(let undefined) = value { throw TemplateError(.undefined, undefined.message) }
            return pythonFloat(value).map(Value.double) ?? argument(0, "default") ?? .double(0)
        case "format":
            let values = arguments.keywords.isEmpty ? arguments.positional : [.dict(OrderedDict(arguments.keywords))]
            return .string(try PythonString.percentFormat(value.pythonString, values))
        case "indent":
            return .string(indent(value.pythonString, width: argument(0, "width") ?? .int(4),
                                  first: flag(1, "first"), blank: flag(2, "blank")))
        case "int":
            if case .undefined(let undefined) = value { throw TemplateError(.undefined, undefined.message) }
            return pythonInt(value, base: argument(1, "base").flatMap { if case .int(let b) = $0 { b } else { nil } } ?? 10)
                .map(Value.int) ?? argument(0, "default") ?? .int(0)
        case "items":
            switch value {
            case .undefined: return .generator([], kind: "generator")
            case .dict(let dict): return .generator(dict.pairs.map { .tuple([$0.0.value, $0.1]) }, kind: "generator")
            default: throw TemplateError(.type, "Can only get item pairs from a mapping.")
            }
        case "join":
            var items = try iterate(value)
            if let attribute = attributeName(at: 1) { items = try items.map { try lookupPath($0, attribute) } }
            let separator = argument(0, "d")?.pythonString ?? ""
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "list": return .list(try iterate(value))
        case "lower": return .string(value.pythonString.lowercased())
        case "upper": return .string(value.pythonString.uppercased())
        case "map": return .generator(try map(value, arguments), kind: "generator")
        case "max", "min":
            let items = try iterate(value)
            guard var best = items.first else {
                return .undefined(Undefined(message: "No aggregated item, sequence was empty."))
            }
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = attributeName(at: 1)
            func key(_ item: Value) throws -> Value { sortKey(try attribute.map { try lookupPath(item, $0) } ?? item, caseSensitive) }
            for item in items.dropFirst() {
                let better = name == "min" ? try key(item).pythonLess(key(best)) : try key(best).pythonLess(key(item))
                if better { best = item }
            }
            return best
        case "reject", "select", "rejectattr", "selectattr":
            return .generator(try select(name, value, arguments), kind: "generator")
        case "replace":
            let count: Int
            if case .int(let number) = argument(2, "count") ?? .none { count = number } else { count = -1 }
            return .string(PythonString.replace(value.pythonString, argument(0, "old")?.pythonString ?? "",
                                                argument(1, "new")?.pythonString ?? "", count: count))
        case "reverse":
            switch value {
            case .string(let text), .markup(let text): return .string(String(String.UnicodeScalarView(text.unicodeScalars.reversed())))
            case .list(let items), .tuple(let items): return .generator(items.reversed(), kind: "list_reverseiterator")
            case .dict(let dict): return .generator(dict.keys.reversed().map(\.value), kind: "dict_reversekeyiterator")
            default: return .list(try iterate(value).reversed())
            }
        case "round":
            let precision: Int
            if case .int(let number) = argument(0, "precision") ?? .none { precision = number } else { precision = 0 }
            let method = argument(1, "method")?.pythonString ?? "common"
            guard let number = value.numeric else { throw operandError("round()", value) }
            if case .int = value, method == "common" { return value }
            let scale = Foundation.pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "floor" ? .down : method == "ceil" ? .up : .toNearestOrEven
            return .double((number * scale).rounded(rule) / scale)
        case "safe": return value.isMarkup ? value : .markup(value.pythonString)
        case "sort":
            let caseSensitive = flag(1, "case_sensitive")
            let attribute = attributeName(at: 2)
            func key(_ item: Value) throws -> Value { sortKey(try attribute.map { try lookupPath(item, $0) } ?? item, caseSensitive) }
            let sorted = try iterate(value).sorted { try key($0).pythonLess(key($1)) }
            return .list(flag(0, "reverse") ? sorted.reversed() : sorted)
        case "string": return value.isMarkup ? value : .string(value.pythonString)
        case "sum":
            let attribute = attributeName(at: 0)
            var total = argument(1, "start") ?? .int(0)
            for item in try iterate(value) { total = try binary(.add, total, try attribute.map { try lookupPath(item, $0) } ?? item) }
            return total
        case "title": return .string(PythonString.titleFilter(value.pythonString))
        case "tojson": return .string(try toJSON(value, arguments))
        case "trim": return .string(PythonString.strip(value.pythonString, argument(0, "chars").flatMap(\.text)))
        case "unique":
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = attributeName(at: 1)
            var seen: [Value] = []
            var unique: [Value] = []
            for item in try iterate(value) {
                let key = sortKey(try attribute.map { try lookupPath(item, $0) } ?? item, caseSensitive)
                if !seen.contains(where: { $0.pythonEquals(key) }) {
                    seen.append(key)
                    unique.append(item)
                }
            }
            return .generator(unique, kind: "generator")
        case "wordcount":
            return .int(value.pythonString.split { !($0.isLetter || $0.isNumber || $0 == "_") }.count)
        default:
            throw TemplateError(.unsupported, "No filter named '\(name)' found.")
        }
    }

    private func operandError(_ function: String, _ value: Value) -> TemplateError {
        if case .undefined(let undefined) = value { return TemplateError(.undefined, undefined.message) }
        return TemplateError(.type, "bad operand type for \(function): '\(value.typeName)'")
    }

    private func emptyUndefined(_ which: String) -> Value {
        .undefined(Undefined(message: "No \(which) item, sequence was empty."))
    }

    /// Python's `len()`.
    func length(_ value: Value) throws -> Int {
        switch value {
        case .string(let text), .markup(let text): return text.unicodeScalars.count
        case .list(let items), .tuple(let items): return items.count
        case .dict(let dict): return dict.count
        case .undefined: return 0
        default: throw TemplateError(.type, "object of type '\(value.typeName)' has no len()")
        }
    }

    /// jinja2's `ignore_case` for sort keys: strings compare lowercased unless case matters.
    private func sortKey(_ value: Value, _ caseSensitive: Bool) -> Value {
        if !caseSensitive, let text = value.text { return .string(text.lowercased()) }
        return value
    }

    /// jinja2's `make_attrgetter`: "a.b.0" walks items and attributes.
    func lookupPath(_ value: Value, _ path: String) throws -> Value {
        var current = value
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            current = try item(of: current, Int(part).map(Value.int) ?? .string(String(part)))
        }
        return current
    }

    private func map(_ value: Value, _ arguments: CallArguments) throws -> [Value] {
        // jinja2 guards with `if value:`, so mapping over none or an empty string yields nothing.
        guard value.isTruthy else { return [] }
        let items = try iterate(value)
        if let attribute = arguments.keyword("attribute") {
            let fallback = arguments.keyword("default")
            return try items.map { item in
                let found = try lookupPath(item, attribute.pythonString)
                if found.isUndefined, let fallback { return fallback }
                return found
            }
        }
        guard let filterName = arguments.positional.first?.text else {
            throw TemplateError(.type, "map requires a filter argument")
        }
        let rest = CallArguments(positional: Array(arguments.positional.dropFirst()), keywords: arguments.keywords)
        return try items.map { try applyFilter(filterName, to: $0, rest) }
    }

    private func select(_ filter: String, _ value: Value, _ arguments: CallArguments) throws -> [Value] {
        let byAttribute = filter.hasSuffix("attr")
        let keep = filter.hasPrefix("select")
        var positional = arguments.positional[...]
        let attribute = byAttribute ? positional.popFirst()?.pythonString : nil
        let testName = positional.popFirst()?.text
        let testArguments = CallArguments(positional: Array(positional), keywords: arguments.keywords)
        guard value.isTruthy else { return [] }
        return try iterate(value).filter { item in
            let subject = try attribute.map { try lookupPath(item, $0) } ?? item
            let passed = try testName.map { try applyTest($0, to: subject, testArguments) } ?? subject.isTruthy
            return passed == keep
        }
    }

    private func indent(_ text: String, width: Value, first: Bool, blank: Bool) -> String {
        let indentation: String
        if case .int(let count) = width { indentation = String(repeating: " ", count: max(count, 0)) } else { indentation = width.pythonString }
        // jinja2 appends a newline before splitting so that a trailing newline survives splitlines().
        let lines = PythonString.splitLines(text + "\n")
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indentation)
        } else {
            out = lines.first ?? ""
            let rest = lines.dropFirst()
            if !rest.isEmpty { out += "\n" + rest.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n") }
        }
        return first ? indentation + out : out
    }

    private func toJSON(_ value: Value, _ arguments: CallArguments) throws -> String {
        var indent: String?
        switch arguments.value(1, "indent") {
        case .int(let count)?: indent = String(repeating: " ", count: max(count, 0))
        case .string(let text)?: indent = text
        case nil, .none?: indent = nil
        case let other?: throw TemplateError(.type, "tojson indent must be an integer or a string, not \(other.typeName)")
        }
        var separators: (String, String)?
        switch arguments.value(2, "separators") {
        case .tuple(let pair)?, .list(let pair)?:
            guard pair.count == 2, let item = pair[0].text, let key = pair[1].text else {
                throw TemplateError(.type, "tojson separators must be two strings")
            }
            separators = (item, key)
        default: separators = nil
        }
        let dumper = JSONDumper(ensureASCII: arguments.value(0, "ensure_ascii")?.isTruthy ?? false, indent: indent,
                                separators: separators, sortKeys: arguments.value(3, "sort_keys")?.isTruthy ?? false)
        return try dumper.dump(value)
    }

    /// Python's `int(value)` as the `int` filter tries it (then `int(float(value))`); nil means "use the default".
    private func pythonInt(_ value: Value, base: Int) -> Int? {
        switch value {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .double(let number): return number.isFinite && abs(number) < 9.2e18 ? Int(number) : nil
        case .string(let text), .markup(let text):
            let cleaned = PythonString.strip(text, nil).replacingOccurrences(of: "_", with: "")
            if let number = Int(cleaned, radix: base) { return number }
            return pythonFloat(value).flatMap { $0.isFinite && abs($0) < 9.2e18 ? Int($0) : nil }
        default: return nil
        }
    }

    private func pythonFloat(_ value: Value) -> Double? {
        switch value {
        case .int, .bool, .double: return value.numeric
        case .string(let text), .markup(let text):
            let cleaned = PythonString.strip(text, nil).lowercased()
            switch cleaned {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default: return Double(cleaned.replacingOccurrences(of: "_", with: ""))
            }
        default: return nil
        }
    }
}

extension Value {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}
