// jinja2's tests (`x is defined`, `x is string`, `selectattr(..., 'equalto', y)`), with Python's notion of each
// type: a string is iterable and a sequence, a dict is a sequence too, undefined is iterable.

extension Renderer {
    func applyTest(_ name: String, to value: Value, _ arguments: CallArguments) throws -> Bool {
        func other() throws -> Value {
            guard let operand = arguments.positional.first ?? arguments.keywords.first?.1 else {
                throw TemplateError(.type, "test '\(name)' needs an argument")
            }
            return operand
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true":
            if case .bool(true) = value { return true }
            return false
        case "false":
            if case .bool(false) = value { return true }
            return false
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "number": return value.numeric != nil
        case "string": return value.text != nil
        case "mapping":
            if case .dict = value { return true }
            return false
        case "iterable":
            switch value {
            case .string, .markup, .list, .tuple, .dict, .generator, .undefined: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "callable":
            switch value {
            case .function, .macro, .undefined: return true
            default: return false
            }
        case "eq", "equalto", "==": return value.pythonEquals(try other())
        case "ne", "!=": return !value.pythonEquals(try other())
        case "lt", "lessthan", "<": return try compare(.less, value, try other())
        case "le", "<=": return try compare(.lessOrEqual, value, try other())
        case "gt", "greaterthan", ">": return try compare(.greater, value, try other())
        case "ge", ">=": return try compare(.greaterOrEqual, value, try other())
        case "in": return try contains(try other(), value)
        case "sameas":
            switch (value, try other()) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            default: return false
            }
        case "odd", "even":
            guard case .int(let remainder) = try binary(.modulo, value, .int(2)) else { return false }
            return (remainder == 1) == (name == "odd")
        case "divisibleby":
            guard case .int(let remainder) = try binary(.modulo, value, try other()) else { return false }
            return remainder == 0
        case "lower":
            let text = value.pythonString.unicodeScalars
            return text.contains { $0.properties.isCased } && !text.contains { $0.properties.isUppercase }
        case "upper":
            let text = value.pythonString.unicodeScalars
            return text.contains { $0.properties.isCased } && !text.contains { $0.properties.isLowercase }
        case "escaped": return value.isMarkup
        case "filter": return Renderer.knownFilters.contains(value.pythonString)
        case "test": return Renderer.knownTests.contains(value.pythonString)
        default:
            throw TemplateError(.unsupported, "No test named '\(name)' found.")
        }
    }

    static let knownTests: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
        "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "odd", "even", "divisibleby", "lower", "upper",
        "escaped", "filter", "test",
    ]

    static let knownFilters: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "length", "default", "d", "dictsort", "escape", "e",
        "first", "last", "float", "format", "indent", "int", "items", "join", "list", "lower", "upper", "map", "max",
        "min", "reject", "select", "rejectattr", "selectattr", "replace", "reverse", "round", "safe", "sort",
        "string", "sum", "title", "tojson", "trim", "unique", "wordcount",
    ]
}
