// Python methods templates call on strings, dicts and lists (`text.strip()`, `message.get('x')`). Methods that
// mutate are refused as ImmutableSandboxedEnvironment refuses them; other Python methods are simply absent.

extension Renderer {
    private static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "casefold", "swapcase", "replace", "find", "rfind", "index", "rindex", "count", "join",
        "format", "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "isupper", "islower",
        "zfill", "center", "ljust", "rjust", "partition", "rpartition", "removeprefix", "removesuffix",
    ]
    private static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy"]
    private static let listMethods: Set<String> = ["index", "count", "copy"]
    private static let unsafeDictMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]
    private static let unsafeListMethods: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]

    /// `object.name` when it names a method: a callable value, or an unsafe marker for mutating methods.
    func boundMethod(_ object: Value, _ name: String) -> Value? {
        let kind: String
        switch object {
        case .string, .markup:
            guard Renderer.stringMethods.contains(name) else { return nil }
            kind = "str"
        case .dict:
            if Renderer.unsafeDictMethods.contains(name) { return unsafe(name, "dict") }
            guard Renderer.dictMethods.contains(name) else { return nil }
            kind = "dict"
        case .list:
            if Renderer.unsafeListMethods.contains(name) { return unsafe(name, "list") }
            guard Renderer.listMethods.contains(name) else { return nil }
            kind = "list"
        default:
            return nil
        }
        return .function(Function("\(kind).\(name)") { [unowned self] arguments in
            guard let result = try self.callMethod(object, name, arguments) else {
                throw TemplateError(.type, "'\(object.typeName)' object has no method '\(name)'")
            }
            return result
        })
    }

    private func unsafe(_ name: String, _ type: String) -> Value {
        .undefined(Undefined(message: "access to attribute '\(name)' of '\(type)' object is unsafe.", isUnsafe: true))
    }

    /// Calls `object.name(arguments)` if it is one of the supported methods, else nil.
    func callMethod(_ object: Value, _ name: String, _ arguments: CallArguments) throws -> Value? {
        switch object {
        case .string(let text), .markup(let text):
            guard Renderer.stringMethods.contains(name) else { return nil }
            return try stringMethod(text, name, arguments)
        case .dict(let dict):
            if Renderer.unsafeDictMethods.contains(name) { return try call(unsafe(name, "dict"), arguments) }
            switch name {
            case "items": return .list(dict.pairs.map { .tuple([$0.0.value, $0.1]) })
            case "keys": return .list(dict.keys.map(\.value))
            case "values": return .list(dict.values)
            case "copy": return object
            case "get":
                guard let key = arguments.value(0, "key") else { throw TemplateError(.type, "get expected at least 1 argument, got 0") }
                let fallback = arguments.value(1, "default") ?? .none
                return DictKey(key).flatMap { dict[$0] } ?? fallback
            default: return nil
            }
        case .list(let items):
            if Renderer.unsafeListMethods.contains(name) { return try call(unsafe(name, "list"), arguments) }
            switch name {
            case "copy": return object
            case "count":
                let needle = arguments.positional.first ?? .none
                return .int(items.filter { $0.pythonEquals(needle) }.count)
            case "index":
                let needle = arguments.positional.first ?? .none
                guard let index = items.firstIndex(where: { $0.pythonEquals(needle) }) else {
                    throw TemplateError(.type, "\(needle.pythonRepr) is not in list")
                }
                return .int(index)
            default: return nil
            }
        default:
            return nil
        }
    }

    private func stringMethod(_ text: String, _ name: String, _ arguments: CallArguments) throws -> Value {
        func string(_ position: Int, _ keyword: String) throws -> String? {
            switch arguments.value(position, keyword) {
            case nil, .none?: return nil
            case let value?:
                guard let text = value.text else {
                    throw TemplateError(.type, "\(name)() argument must be str or None, not \(value.typeName)")
                }
                return text
            }
        }
        func required(_ position: Int, _ keyword: String) throws -> String {
            guard let value = try string(position, keyword) else {
                throw TemplateError(.type, "\(name)() missing required argument '\(keyword)'")
            }
            return value
        }
        func integer(_ position: Int, _ keyword: String, _ fallback: Int) throws -> Int {
            switch arguments.value(position, keyword) {
            case nil: return fallback
            case .int(let number)?: return number
            case let other?: throw TemplateError(.type, "'\(other.typeName)' object cannot be interpreted as an integer")
            }
        }
        func prefixes(_ value: Value?) throws -> [String] {
            switch value {
            case .tuple(let items)?: return try items.map { try $0.text ?? { throw TemplateError(.type, "tuple for \(name) must only contain str") }() }
            case let value?:
                guard let text = value.text else {
                    throw TemplateError(.type, "\(name) first arg must be str or a tuple of str, not \(value.typeName)")
                }
                return [text]
            case nil: throw TemplateError(.type, "\(name)() takes at least 1 argument (0 given)")
            }
        }
        let scalars = text.unicodeScalars
        switch name {
        case "strip": return .string(PythonString.strip(text, try string(0, "chars")))
        case "lstrip": return .string(PythonString.strip(text, try string(0, "chars"), trailing: false))
        case "rstrip": return .string(PythonString.strip(text, try string(0, "chars"), leading: false))
        case "split":
            let separator = try string(0, "sep")
            if separator == "" { throw TemplateError(.type, "empty separator") }
            return .list(PythonString.split(text, separator, maxSplit: try integer(1, "maxsplit", -1)).map(Value.string))
        case "rsplit":
            guard let separator = try string(0, "sep") else {
                return .list(PythonString.split(text, nil).map(Value.string))
            }
            return .list(PythonString.rsplit(text, separator, maxSplit: try integer(1, "maxsplit", -1)).map(Value.string))
        case "splitlines":
            return .list(PythonString.splitLines(text, keepEnds: arguments.value(0, "keepends")?.isTruthy ?? false).map(Value.string))
        case "startswith":
            return .bool(try prefixes(arguments.value(0, "prefix")).contains { scalars.starts(with: $0.unicodeScalars) })
        case "endswith":
            return .bool(try prefixes(arguments.value(0, "suffix")).contains { scalars.reversed().starts(with: $0.unicodeScalars.reversed()) })
        case "upper": return .string(text.uppercased())
        case "lower", "casefold": return .string(text.lowercased())
        case "title": return .string(PythonString.title(text))
        case "capitalize": return .string(PythonString.capitalize(text))
        case "swapcase":
            return .string(scalars.map { $0.properties.isUppercase ? String($0).lowercased() : String($0).uppercased() }.joined())
        case "replace":
            return .string(PythonString.replace(text, try required(0, "old"), try required(1, "new"), count: try integer(2, "count", -1)))
        case "find", "index":
            let position = PythonString.find(text, try required(0, "sub"))
            if position < 0 && name == "index" { throw TemplateError(.type, "substring not found") }
            return .int(position)
        case "rfind", "rindex":
            let position = PythonString.find(text, try required(0, "sub"), reverse: true)
            if position < 0 && name == "rindex" { throw TemplateError(.type, "substring not found") }
            return .int(position)
        case "count": return .int(PythonString.count(text, try required(0, "sub")))
        case "join":
            let items = try iterate(arguments.value(0, "iterable") ?? .none)
            return .string(try items.map { item in
                guard let part = item.text else {
                    throw TemplateError(.type, "sequence item: expected str instance, \(item.typeName) found")
                }
                return part
            }.joined(separator: text))
        case "format": return .string(try PythonString.format(text, arguments))
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha": return .bool(!scalars.isEmpty && scalars.allSatisfy(\.properties.isAlphabetic))
        case "isalnum":
            return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!scalars.isEmpty && scalars.allSatisfy(\.isPythonWhitespace))
        case "isupper":
            return .bool(scalars.contains { $0.properties.isCased } && !scalars.contains { $0.properties.isLowercase })
        case "islower":
            return .bool(scalars.contains { $0.properties.isCased } && !scalars.contains { $0.properties.isUppercase })
        case "zfill", "center", "ljust", "rjust":
            let width = try integer(0, "width", 0)
            let fill = name == "zfill" ? "0" : try string(1, "fillchar") ?? " "
            let padding = max(0, width - scalars.count)
            switch name {
            case "ljust": return .string(text + String(repeating: fill, count: padding))
            case "rjust": return .string(String(repeating: fill, count: padding) + text)
            case "center":
                let left = padding / 2 + (padding & width & 1)
                return .string(String(repeating: fill, count: left) + text + String(repeating: fill, count: padding - left))
            default:
                if let sign = text.first, sign == "-" || sign == "+" {
                    return .string(String(sign) + String(repeating: "0", count: padding) + text.dropFirst())
                }
                return .string(String(repeating: "0", count: padding) + text)
            }
        case "partition", "rpartition":
            let separator = try required(0, "sep")
            let position = PythonString.find(text, separator, reverse: name == "rpartition")
            guard position >= 0 else {
                return name == "partition" ? .tuple([.string(text), .string(""), .string("")]) : .tuple([.string(""), .string(""), .string(text)])
            }
            let all = Array(scalars)
            let head = String(String.UnicodeScalarView(all[..<position]))
            let tail = String(String.UnicodeScalarView(all[(position + separator.unicodeScalars.count)...]))
            return .tuple([.string(head), .string(separator), .string(tail)])
        case "removeprefix":
            let prefix = try required(0, "prefix")
            return .string(scalars.starts(with: prefix.unicodeScalars) ? String(String.UnicodeScalarView(scalars.dropFirst(prefix.unicodeScalars.count))) : text)
        case "removesuffix":
            let suffix = try required(0, "suffix")
            guard !suffix.isEmpty, scalars.reversed().starts(with: suffix.unicodeScalars.reversed()) else { return .string(text) }
            return .string(String(String.UnicodeScalarView(scalars.dropLast(suffix.unicodeScalars.count))))
        default:
            throw TemplateError(.unsupported, "str.\(name) is not supported")
        }
    }
}
