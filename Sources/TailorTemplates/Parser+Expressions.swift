// Parser, expressions: jinja2's precedence ladder from conditional expressions down to primaries, postfix
// subscripts and calls, filters and tests. Statements are in Parser.swift.

extension Parser {
    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd: return true
        case .op(")"): return true
        case .name(let word): return extraEnd.contains(word)
        default: return false
        }
    }

    mutating func parseTuple(simplified: Bool = false, withCondition: Bool = true,
                                     extraEnd: Set<String> = [], explicitParentheses: Bool = false) throws -> Expr {
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expect(op: ",") }
            if isTupleEnd(extraEnd) { break }
            if simplified {
                items.append(try parsePrimary())
            } else {
                items.append(try parseExpression(withCondition: withCondition))
            }
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw failure("Expected an expression, got \(describe(current))") }
        }
        return .tuple(items)
    }

    mutating func parseExpression(withCondition: Bool = true) throws -> Expr {
        try nest()
        defer { depth -= 1 }
        guard withCondition else { return try parseOr() }
        var expr = try parseOr()
        while skip(name: "if") {
            let test = try parseOr()
            let otherwise = skip(name: "else") ? try parseExpression() : nil
            expr = .conditional(test: test, then: expr, else: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while skip(name: "or") { left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while skip(name: "and") { left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        try nest()
        defer { depth -= 1 }
        if skip(name: "not") { return .not(try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let location = current.location
        let left = try parseMath1()
        var operands: [(op: CompareOperator, operand: Expr)] = []
        while true {
            if case .op(let op) = current.kind, let compare = CompareOperator(rawValue: op), compare != .contains {
                advance()
                operands.append((compare, try parseMath1()))
            } else if skip(name: "in") {
                operands.append((.contains, try parseMath1()))
            } else if isName("not"), isName("in", next) {
                advance()
                advance()
                operands.append((.notContains, try parseMath1()))
            } else {
                break
            }
        }
        return operands.isEmpty ? left : .compare(left, operands, location)
    }

    private mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            let location = current.location
            advance()
            left = .binary(BinaryOperator(rawValue: op)!, left, try parseConcat(), location)
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        var parts = [try parseMath2()]
        while skip(op: "~") { parts.append(try parseMath2()) }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    private mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            let location = current.location
            advance()
            left = .binary(BinaryOperator(rawValue: op)!, left, try parsePow(), location)
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            let location = current.location
            advance()
            left = .binary(.power, left, try parseUnary(), location)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try nest()
        defer { depth -= 1 }
        let location = current.location
        var node: Expr
        if skip(op: "-") {
            node = .negate(try parseUnary(withFilter: false), location)
        } else if skip(op: "+") {
            node = .plus(try parseUnary(withFilter: false), location)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node, start: location)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let word):
            advance()
            switch word {
            case "true", "True": return .bool(true)
            case "false", "False": return .bool(false)
            case "none", "None": return .none
            default: return .name(symbol(word), token.location)
            }
        case .string(let text):
            advance()
            var joined = text
            while case .string(let more) = current.kind {
                joined += more
                advance()
            }
            return .string(joined)
        case .integer(let number):
            advance()
            return .int(number)
        case .float(let number):
            advance()
            return .double(number)
        case .op("("):
            advance()
            let expr = try parseTuple(explicitParentheses: true)
            try expect(op: ")")
            return expr
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expect(op: ",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expect(op: "]")
            return .list(items)
        case .op("{"):
            advance()
            var items: [(key: Expr, value: Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expect(op: ",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expect(op: ":")
                items.append((key, try parseExpression()))
            }
            try expect(op: "}")
            return .dict(items)
        default:
            throw failure("unexpected \(describe(token))")
        }
    }

    /// Attribute, item and call suffixes; a call is located at the start of what it calls (`raise_exception(`).
    private mutating func parsePostfix(_ primary: Expr, start: SourceLocation) throws -> Expr {
        var node = primary
        while true {
            if isOp(".") || isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), start)
            } else {
                return node
            }
        }
    }

    private mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") {
                for filter in try parseFilterChain(startInline: false) {
                    node = .filter(node, filter.name, filter.arguments, filter.location)
                }
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), current.location)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let token = current
        advance()
        if isOp(".", token) {
            let attribute = current
            advance()
            switch attribute.kind {
            case .name(let word): return .attribute(node, word, token.location)
            case .integer(let number): return .item(node, .int(number), token.location)
            default: throw failure("expected name or number", at: attribute)
            }
        }
        var arguments: [Expr] = []
        while !isOp("]") {
            if !arguments.isEmpty { try expect(op: ",") }
            arguments.append(try parseSubscribed(node, location: token.location))
        }
        try expect(op: "]")
        if arguments.count == 1, case .slice(_, let start, let stop, let step, _) = arguments[0] {
            return .slice(node, start: start, stop: stop, step: step, token.location)
        }
        return .item(node, arguments.count == 1 ? arguments[0] : .tuple(arguments), token.location)
    }

    /// One subscript: an expression or a slice (`.slice` with a placeholder base, unwrapped by the caller).
    private mutating func parseSubscribed(_ node: Expr, location: SourceLocation) throws -> Expr {
        var parts: [Expr?] = []
        if skip(op: ":") {
            parts = [nil]
        } else {
            let expr = try parseExpression()
            guard skip(op: ":") else { return expr }
            parts = [expr]
        }
        if isOp(":") {
            parts.append(nil)
        } else if !isOp("]") && !isOp(",") {
            parts.append(try parseExpression())
        } else {
            parts.append(nil)
        }
        if skip(op: ":") {
            parts.append(!isOp("]") && !isOp(",") ? try parseExpression() : nil)
        } else {
            parts.append(nil)
        }
        return .slice(node, start: parts[0], stop: parts[1], step: parts[2], location)
    }

    mutating func parseCallArguments() throws -> Arguments {
        let open = current
        try expect(op: "(")
        var arguments = Arguments()
        var requireComma = false
        while !isOp(")") {
            if requireComma {
                try expect(op: ",")
                if isOp(")") { break }
            }
            if isOp("*") || isOp("**") {
                throw TemplateError(.unsupported, "*args and **kwargs in calls are not supported",
                                    line: current.location.line, column: current.location.column)
            }
            if case .name(let key) = current.kind, isOp("=", next) {
                advance()
                advance()
                arguments.keywords.append((key, try parseExpression()))
            } else {
                guard arguments.keywords.isEmpty else {
                    throw failure("invalid syntax for function call expression", at: open)
                }
                arguments.positional.append(try parseExpression())
            }
            requireComma = true
        }
        try expect(op: ")")
        return arguments
    }

    mutating func parseFilterChain(startInline: Bool) throws -> [FilterCall] {
        var filters: [FilterCall] = []
        var inline = startInline
        while isOp("|") || inline {
            if !inline { advance() }
            inline = false
            let location = current.location
            var name = try expectName()
            while isOp(".") {
                advance()
                name += "." + (try expectName())
            }
            let arguments = isOp("(") ? try parseCallArguments() : .empty
            filters.append(FilterCall(name: name, arguments: arguments, location: location))
        }
        return filters
    }

    private mutating func parseTest(_ node: Expr) throws -> Expr {
        let location = current.location
        advance()
        let negated = skip(name: "not")
        var name = try expectName()
        while isOp(".") {
            advance()
            name += "." + (try expectName())
        }
        var arguments = Arguments()
        if isOp("(") {
            arguments = try parseCallArguments()
        } else if startsTestArgument() {
            if isName("is") { throw failure("You cannot chain multiple tests with is") }
            let start = current.location
            arguments.positional = [try parsePostfix(try parsePrimary(), start: start)]
        }
        let test = Expr.test(node, name, arguments, location)
        return negated ? .not(test) : test
    }

    private func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let word): return !["else", "or", "and"].contains(word)
        case .string, .integer, .float: return true
        case .op(let op): return op == "(" || op == "[" || op == "{"
        default: return false
        }
    }
}
