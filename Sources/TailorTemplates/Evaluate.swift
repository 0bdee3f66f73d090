// Expression evaluation with Python's operator semantics and the sandbox's attribute rules (attribute first, then
// item; a missing key is undefined). Not an optimiser: templates are small and each node is visited directly.
import Foundation

extension Renderer {
    func evaluate(_ expr: Expr, in scope: Scope) throws -> Value {
        switch expr {
        case .none: return .none
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(number)
        case .double(let number): return .double(number)
        case .string(let text): return .string(text)
        case .name(let name, _):
            return scope.lookup(name) ?? Undefined.named(name.name)
        case .list(let items):
            return .list(try items.map { try evaluate($0, in: scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, in: scope) })
        case .dict(let items):
            var dict = OrderedDict()
            for item in items {
                let key = try evaluate(item.key, in: scope)
                guard let dictKey = DictKey(key) else {
                    throw TemplateError(.unsupported, "dictionary keys must be strings, numbers or none in Tailor's templates, got \(key.typeName)")
                }
                dict[dictKey] = try evaluate(item.value, in: scope)
            }
            return .dict(dict)
        case .attribute(let object, let name, let location):
            return try located(location) { try attribute(of: try evaluate(object, in: scope), name) }
        case .item(let object, let key, let location):
            return try located(location) { try item(of: try evaluate(object, in: scope), try evaluate(key, in: scope)) }
        case .slice(let object, let start, let stop, let step, let location):
            return try located(location) {
                try slice(try evaluate(object, in: scope), start: try start.map { try evaluate($0, in: scope) },
                          stop: try stop.map { try evaluate($0, in: scope) }, step: try step.map { try evaluate($0, in: scope) })
            }
        case .call(let callee, let arguments, let location):
            return try located(location) { try evaluateCall(callee, arguments, in: scope) }
        case .filter(let input, let name, let arguments, let location):
            return try located(location) {
                let value = try evaluate(input, in: scope)
                return try applyFilter(name, to: value, try evaluate(arguments, in: scope))
            }
        case .test(let input, let name, let arguments, let location):
            return try located(location) {
                .bool(try applyTest(name, to: try evaluate(input, in: scope), try evaluate(arguments, in: scope)))
            }
        case .not(let operand):
            return .bool(!(try evaluate(operand, in: scope).isTruthy))
        case .negate(let operand, let location):
            return try located(location) { try negate(try evaluate(operand, in: scope)) }
        case .plus(let operand, let location):
            return try located(location) {
                let value = try evaluate(operand, in: scope)
                if case .bool(let flag) = value { return .int(flag ? 1 : 0) }
                guard value.numeric != nil else { throw unaryError("+", value) }
                return value
            }
        case .binary(.add, _, _, let location):
            return try located(location) { try evaluateSum(expr, in: scope) }
        case .binary(let op, let left, let right, let location):
            return try located(location) {
                try binary(op, try evaluate(left, in: scope), try evaluate(right, in: scope))
            }
        case .and(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? try evaluate(right, in: scope) : value
        case .or(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? value : try evaluate(right, in: scope)
        case .concat(let parts):
            var text = ""
            for part in parts { text += try evaluate(part, in: scope).pythonString }
            return .string(text)
        case .compare(let first, let operands, let location):
            return try located(location) {
                var left = try evaluate(first, in: scope)
                for (op, operandExpr) in operands {
                    let right = try evaluate(operandExpr, in: scope)
                    if !(try compare(op, left, right)) { return .bool(false) }
                    left = right
                }
                return .bool(true)
            }
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test, in: scope).isTruthy { return try evaluate(then, in: scope) }
            guard let otherwise else {
                return .undefined(Undefined(message: "the inline if-expression evaluated to false and no else section was defined."))
            }
            return try evaluate(otherwise, in: scope)
        }
    }

    /// `a + b + c + …` (parsed as `((a + b) + c) + …`), left to right as Python does, but appending to one string
    /// buffer while the operands are plain strings instead of copying every intermediate sum.
    private func evaluateSum(_ expr: Expr, in scope: Scope) throws -> Value {
        guard case .binary(.add, let left, let right, _) = expr else { return try evaluate(expr, in: scope) }
        var sum = try evaluateSum(left, in: scope)
        let next = try evaluate(right, in: scope)
        if case .string(var buffer) = sum, case .string(let text) = next {
            sum = .none  // drop the enum's reference so the buffer is uniquely owned and grows in place
            buffer += text
            return .string(buffer)
        }
        return try binary(.add, sum, next)
    }

    func evaluate(_ arguments: Arguments, in scope: Scope) throws -> CallArguments {
        var values = CallArguments()
        values.positional = try arguments.positional.map { try evaluate($0, in: scope) }
        values.keywords = try arguments.keywords.map { ($0.name, try evaluate($0.value, in: scope)) }
        return values
    }

    private func located(_ location: SourceLocation, _ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as TemplateError {
            throw error.located(location)
        }
    }

    // MARK: calls

    private func evaluateCall(_ callee: Expr, _ arguments: Arguments, in scope: Scope) throws -> Value {
        // `text.strip()` and friends are dispatched directly instead of building a bound-method value first.
        if case .attribute(let objectExpr, let name, _) = callee {
            let object = try evaluate(objectExpr, in: scope)
            if let result = try callMethod(object, name, try evaluate(arguments, in: scope)) { return result }
            return try call(try attribute(of: object, name), try evaluate(arguments, in: scope))
        }
        return try call(try evaluate(callee, in: scope), try evaluate(arguments, in: scope))
    }

    func call(_ callee: Value, _ arguments: CallArguments) throws -> Value {
        switch callee {
        case .function(let function): return try function.body(arguments)
        case .macro(let macro): return try callMacro(macro, arguments)
        case .undefined(let undefined):
            throw TemplateError(undefined.isUnsafe ? .security : .undefined, undefined.message)
        default:
            throw TemplateError(.type, "'\(callee.typeName)' object is not callable")
        }
    }

    // MARK: attribute and item access

    /// `object.name`: jinja2's sandboxed getattr (Python attribute first, then the item of that name).
    func attribute(of object: Value, _ name: String) throws -> Value {
        switch object {
        case .undefined(let undefined):
            throw TemplateError(undefined.isUnsafe ? .security : .undefined, undefined.message)
        case .dict(let dict):
            if let method = boundMethod(object, name) { return method }
            return dict[name] ?? missingAttribute(object, name)
        case .namespace(let namespace):
            return namespace.attributes[name] ?? missingAttribute(object, name)
        case .loop(let loop):
            return loop.attribute(name) ?? missingAttribute(object, name)
        default:
            return boundMethod(object, name) ?? missingAttribute(object, name)
        }
    }

    /// `object[key]`: the item first, then (for string keys) the attribute.
    func item(of object: Value, _ key: Value) throws -> Value {
        switch (object, key) {
        case (.undefined(let undefined), _):
            throw TemplateError(undefined.isUnsafe ? .security : .undefined, undefined.message)
        case (.dict(let dict), _):
            if let name = key.text { return dict[name] ?? boundMethod(object, name) ?? missingAttribute(object, name) }
            return DictKey(key).flatMap { dict[$0] } ?? missingElement(object, key)
        case (.list(let items), _), (.tuple(let items), _):
            if let index = integerIndex(key) {
                let position = index < 0 ? index + items.count : index
                return items.indices.contains(position) ? items[position] : missingElement(object, key)
            }
        case (.string(let text), _), (.markup(let text), _):
            if let index = integerIndex(key) {
                let scalars = Array(text.unicodeScalars)
                let position = index < 0 ? index + scalars.count : index
                return scalars.indices.contains(position) ? .string(String(scalars[position])) : missingElement(object, key)
            }
        default:
            break
        }
        if let name = key.text { return try attribute(of: object, name) }
        return missingElement(object, key)
    }

    private func integerIndex(_ key: Value) -> Int? {
        switch key {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    private func missingAttribute(_ object: Value, _ name: String) -> Value {
        .undefined(Undefined(message: "'\(object.objectDescription)' has no attribute '\(name)'"))
    }

    private func missingElement(_ object: Value, _ key: Value) -> Value {
        .undefined(Undefined(message: "\(object.objectDescription) has no element \(key.pythonRepr)"))
    }

    func slice(_ object: Value, start: Value?, stop: Value?, step: Value?) throws -> Value {
        func bound(_ value: Value?) throws -> Int? {
            switch value {
            case nil, .none?: return nil
            case .int(let number)?: return number
            case .bool(let flag)?: return flag ? 1 : 0
            case let other?: throw TemplateError(.type, "slice indices must be integers or None, not \(other.typeName)")
            }
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw TemplateError(.type, "slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ value: Int?, _ fallback: Int) -> Int {
                guard var value else { return fallback }
                if value < 0 { value += count }
                return stepValue > 0 ? min(max(value, 0), count) : min(max(value, -1), count - 1)
            }
            let from = clamp(try bound(start), stepValue > 0 ? 0 : count - 1)
            let to = clamp(try bound(stop), stepValue > 0 ? count : -1)
            return Array(stride(from: from, to: to, by: stepValue))
        }
        switch object {
        case .list(let items): return .list(try indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(try indices(items.count).map { items[$0] })
        case .string(let text), .markup(let text):
            let scalars = Array(text.unicodeScalars)
            var out = String.UnicodeScalarView()
            for index in try indices(scalars.count) { out.append(scalars[index]) }
            return .string(String(out))
        case .undefined(let undefined):
            throw TemplateError(.undefined, undefined.message)
        default:
            throw TemplateError(.type, "'\(object.typeName)' object is not subscriptable")
        }
    }

    // MARK: operators

    private func unaryError(_ op: String, _ value: Value) -> TemplateError {
        if case .undefined(let undefined) = value { return TemplateError(.undefined, undefined.message) }
        return TemplateError(.type, "bad operand type for unary \(op): '\(value.typeName)'")
    }

    private func negate(_ value: Value) throws -> Value {
        switch value {
        case .int(let number): return .int(-number)
        case .bool(let flag): return .int(flag ? -1 : 0)
        case .double(let number): return .double(-number)
        default: throw unaryError("-", value)
        }
    }

    func binary(_ op: BinaryOperator, _ left: Value, _ right: Value) throws -> Value {
        if case .undefined(let undefined) = left { throw TemplateError(.undefined, undefined.message) }
        if case .undefined(let undefined) = right { throw TemplateError(.undefined, undefined.message) }
        switch (op, left, right) {
        case (.add, .markup(let a), _):
            guard let b = right.text else { break }
            return .markup(a + (right.isMarkup ? b : htmlEscape(b)))
        case (.add, .string(let a), .markup(let b)):
            return .markup(htmlEscape(a) + b)
        case (.add, .string(let a), .string(let b)):
            return .string(a + b)
        case (.add, .string, _):
            throw TemplateError(.type, "can only concatenate str (not \"\(right.typeName)\") to str")
        case (.add, .list(let a), .list(let b)):
            return .list(a + b)
        case (.add, .list, _):
            throw TemplateError(.type, "can only concatenate list (not \"\(right.typeName)\") to list")
        case (.add, .tuple(let a), .tuple(let b)):
            return .tuple(a + b)
        case (.multiply, .string(let text), _), (.multiply, .markup(let text), _):
            if let count = integer(right) { return .string(String(repeating: text, count: try repeatCount(count, text.utf8.count))) }
        case (.multiply, _, .string(let text)):
            if let count = integer(left) { return .string(String(repeating: text, count: try repeatCount(count, text.utf8.count))) }
        case (.multiply, .list(let items), _):
            if let count = integer(right) {
                return .list(Array(repeating: items, count: try repeatCount(count, items.count)).flatMap { $0 })
            }
        case (.modulo, .string(let format), _):
            if case .tuple(let values) = right { return .string(try PythonString.percentFormat(format, values)) }
            return .string(try PythonString.percentFormat(format, [right]))
        default:
            break
        }
        if let a = integer(left), let b = integer(right) { return try integerArithmetic(op, a, b) }
        if let a = left.numeric, let b = right.numeric { return try floatArithmetic(op, a, b) }
        throw TemplateError(.type, "unsupported operand type(s) for \(op.rawValue): '\(left.typeName)' and '\(right.typeName)'")
    }

    /// Python would try to build `'x' * 10**12`; a server must not, since templates arrive inside model files.
    private func repeatCount(_ count: Int, _ unit: Int) throws -> Int {
        let limit = 1 << 24
        guard count <= 0 || unit == 0 || count <= limit / unit else {
            throw TemplateError(.unsupported, "repetition would build more than \(limit) items or bytes")
        }
        return max(count, 0)
    }

    private func integer(_ value: Value) -> Int? {
        switch value {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    private func integerArithmetic(_ op: BinaryOperator, _ a: Int, _ b: Int) throws -> Value {
        func overflow() -> TemplateError { TemplateError(.unsupported, "integer arithmetic beyond 64 bits is not supported") }
        switch op {
        case .add:
            let (result, overflowed) = a.addingReportingOverflow(b)
            if overflowed { throw overflow() }
            return .int(result)
        case .subtract:
            let (result, overflowed) = a.subtractingReportingOverflow(b)
            if overflowed { throw overflow() }
            return .int(result)
        case .multiply:
            let (result, overflowed) = a.multipliedReportingOverflow(by: b)
            if overflowed { throw overflow() }
            return .int(result)
        case .divide:
            guard b != 0 else { throw TemplateError(.type, "division by zero") }
            return .double(Double(a) / Double(b))
        case .floorDivide:
            guard b != 0 else { throw TemplateError(.type, "integer division or modulo by zero") }
            let quotient = a / b
            return .int((a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient)
        case .modulo:
            guard b != 0 else { throw TemplateError(.type, "integer division or modulo by zero") }
            let remainder = a % b
            return .int(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
        case .power:
            if b < 0 { return .double(Foundation.pow(Double(a), Double(b))) }
            var result = 1
            for _ in 0..<b {
                let (next, overflowed) = result.multipliedReportingOverflow(by: a)
                if overflowed { throw overflow() }
                result = next
            }
            return .int(result)
        }
    }

    private func floatArithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double) throws -> Value {
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw TemplateError(.type, "float division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw TemplateError(.type, "float floor division by zero") }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw TemplateError(.type, "float modulo") }
            let remainder = a.truncatingRemainder(dividingBy: b)
            return .double(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
        case .power: return .double(Foundation.pow(a, b))
        }
    }

    func compare(_ op: CompareOperator, _ left: Value, _ right: Value) throws -> Bool {
        switch op {
        case .equal: return left.pythonEquals(right)
        case .notEqual: return !left.pythonEquals(right)
        case .less: return try checkedOrder(left, right, "<") { try $0.pythonLess($1, "<") }
        case .greater: return try checkedOrder(left, right, ">") { try $1.pythonLess($0, ">") }
        case .lessOrEqual: return try checkedOrder(left, right, "<=") { try !$1.pythonLess($0, "<=") }
        case .greaterOrEqual: return try checkedOrder(left, right, ">=") { try !$0.pythonLess($1, ">=") }
        case .contains: return try contains(right, left)
        case .notContains: return !(try contains(right, left))
        }
    }

    private func checkedOrder(_ left: Value, _ right: Value, _ op: String, _ body: (Value, Value) throws -> Bool) throws -> Bool {
        if case .undefined(let undefined) = left { throw TemplateError(.undefined, undefined.message) }
        if case .undefined(let undefined) = right { throw TemplateError(.undefined, undefined.message) }
        return try body(left, right)
    }

    /// Python's `needle in container`.
    func contains(_ container: Value, _ needle: Value) throws -> Bool {
        switch container {
        case .string(let text), .markup(let text):
            guard let part = needle.text else {
                throw TemplateError(.type, "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return PythonString.contains(text, part)
        case .list(let items), .tuple(let items), .generator(let items, _):
            return items.contains { $0.pythonEquals(needle) }
        case .dict(let dict):
            return DictKey(needle).map { dict[$0] != nil } ?? false
        case .undefined:
            return false
        default:
            throw TemplateError(.type, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}

extension Value {
    var isMarkup: Bool {
        if case .markup = self { return true }
        return false
    }
}
