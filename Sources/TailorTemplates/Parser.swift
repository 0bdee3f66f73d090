// Parser: tokens to statements and expressions, following jinja2/parser.py rule by rule so precedence and
// tuple/slice quirks match. Not extensible: tags outside the chat-template subset are syntax errors.

struct Parser {
    private let tokens: [Token]
    private var index = 0
    private var symbols = Dictionary(uniqueKeysWithValues: Symbol.predefined.map { ($0.name, $0) })
    /// Nesting of blocks and sub-expressions. Real templates nest a handful of levels; a cap keeps a hostile
    /// template (model files come from users) from exhausting the stack of the thread that parses or renders it.
    private var depth = 0
    static let maxDepth = 64

    static func parse(_ source: String) throws -> Program {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let body = try parser.subparse(until: [])
        return Program(nodes: body, symbols: parser.symbols)
    }

    private mutating func symbol(_ name: String) -> Symbol {
        if let known = symbols[name] { return known }
        let new = Symbol(id: symbols.count, name: name)
        symbols[name] = new
        return new
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    // MARK: token stream

    private var current: Token { tokens[index] }
    private var next: Token { tokens[min(index + 1, tokens.count - 1)] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func isName(_ word: String, _ token: Token? = nil) -> Bool {
        if case .name(word) = (token ?? current).kind { return true }
        return false
    }

    private func isOp(_ op: String, _ token: Token? = nil) -> Bool {
        if case .op(op) = (token ?? current).kind { return true }
        return false
    }

    private mutating func skip(op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    private mutating func skip(name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    private mutating func expect(op: String) throws {
        guard skip(op: op) else { throw failure("expected '\(op)', got \(describe(current))") }
    }

    private mutating func expectName() throws -> String {
        guard case .name(let word) = current.kind else { throw failure("expected a name, got \(describe(current))") }
        advance()
        return word
    }

    private mutating func expect(name: String) throws {
        guard skip(name: name) else { throw failure("expected '\(name)', got \(describe(current))") }
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw failure("expected end of statement block, got \(describe(current))") }
        advance()
    }

    private mutating func nest() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw TemplateError(.unsupported, "blocks or expressions nested more than \(Parser.maxDepth) levels deep",
                                line: current.location.line, column: current.location.column)
        }
    }

    private func failure(_ message: String, at token: Token? = nil) -> TemplateError {
        let place = (token ?? current).location
        return TemplateError(.syntax, message, line: place.line, column: place.column)
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "end of statement block"
        case .name(let word): return "'\(word)'"
        case .string(let text): return "string '\(text)'"
        case .integer(let number): return "integer \(number)"
        case .float(let number): return "float \(number)"
        case .op(let op): return "'\(op)'"
        case .eof: return "end of template"
        }
    }

    // MARK: statements

    /// Parses until a `{%` whose tag name is in `endTags` (left unconsumed, at the name) or the end.
    private mutating func subparse(until endTags: Set<String>) throws -> [Node] {
        try nest()
        defer { depth -= 1 }
        var body: [Node] = []
        while true {
            switch current.kind {
            case .text(let text):
                body.append(.text(text))
                advance()
            case .variableBegin:
                let location = current.location
                advance()
                let expr = try parseTuple()
                guard current.kind == .variableEnd else { throw failure("expected end of print statement, got \(describe(current))") }
                advance()
                body.append(.output(expr, location))
            case .blockBegin:
                advance()
                if case .name(let word) = current.kind, endTags.contains(word) { return body }
                body.append(try parseStatement())
                try expectBlockEnd()
            case .eof:
                if endTags.isEmpty { return body }
                throw failure("unexpected end of template; expected " + endTags.sorted().map { "'\($0)'" }.joined(separator: " or "))
            default:
                throw failure("unexpected \(describe(current))")
            }
        }
    }

    /// `parse_statements`: the block tag's end, then a body up to one of `endTags`.
    private mutating func parseBody(until endTags: Set<String>, dropNeedle: Bool = false) throws -> [Node] {
        _ = skip(op: ":")
        try expectBlockEnd()
        let body = try subparse(until: endTags)
        if dropNeedle { advance() }
        return body
    }

    private mutating func parseStatement() throws -> Node {
        let token = current
        guard case .name(let tag) = token.kind else { throw failure("tag name expected") }
        switch tag {
        case "for": return try parseFor()
        case "if": return try parseIf()
        case "set": return try parseSet()
        case "macro": return try parseMacro()
        case "filter":
            advance()
            let filters = try parseFilterChain(startInline: true)
            return .filterBlock(filters, body: try parseBody(until: ["endfilter"], dropNeedle: true), token.location)
        case "generation":
            advance()
            return .scoped(try parseBody(until: ["endgeneration"], dropNeedle: true))
        case "break":
            advance()
            return .break
        case "continue":
            advance()
            return .continue
        case "call", "with", "block", "extends", "include", "import", "from", "autoescape":
            throw failure("the '\(tag)' tag is not supported by Tailor's chat templates")
        default:
            throw failure("Encountered unknown tag '\(tag)'.")
        }
    }

    private mutating func parseFor() throws -> Node {
        let location = current.location
        advance()
        let target = try parseAssignTarget(extraEnd: ["in"])
        try expect(name: "in")
        let iterable = try parseTuple(withCondition: false, extraEnd: ["recursive"])
        var condition: Expr?
        if skip(name: "if") { condition = try parseExpression() }
        if isName("recursive") {
            throw TemplateError(.unsupported, "recursive loops are not supported", line: current.location.line, column: current.location.column)
        }
        let body = try parseBody(until: ["endfor", "else"])
        var elseBody: [Node] = []
        if skip(name: "else") {
            elseBody = try parseBody(until: ["endfor"], dropNeedle: true)
        } else {
            advance()
        }
        return .for(ForLoop(target: target, iterable: iterable, condition: condition, body: body,
                            elseBody: elseBody, location: location, bodyDefinesMacro: body.definesMacro))
    }

    private mutating func parseIf() throws -> Node {
        advance()
        var branches: [(test: Expr, body: [Node])] = []
        var elseBody: [Node] = []
        while true {
            let test = try parseTuple(withCondition: false)
            branches.append((test, try parseBody(until: ["elif", "else", "endif"])))
            if skip(name: "elif") { continue }
            if skip(name: "else") { elseBody = try parseBody(until: ["endif"], dropNeedle: true) } else { advance() }
            return .if(branches, else: elseBody)
        }
    }

    private mutating func parseSet() throws -> Node {
        let location = current.location
        advance()
        let target = try parseAssignTarget(withNamespace: true)
        if skip(op: "=") { return .set(target, try parseTuple(), location) }
        let filters = isOp("|") ? try parseFilterChain(startInline: false) : []
        return .setBlock(target, filters: filters, body: try parseBody(until: ["endset"], dropNeedle: true), location)
    }

    private mutating func parseMacro() throws -> Node {
        let location = current.location
        advance()
        let name = try expectName()
        try expect(op: "(")
        var parameters: [(name: Symbol, defaultValue: Expr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expect(op: ",") }
            let parameter = symbol(try expectName())
            if skip(op: "=") {
                parameters.append((parameter, try parseExpression()))
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw failure("non-default argument follows default argument")
            } else {
                parameters.append((parameter, nil))
            }
        }
        try expect(op: ")")
        let body = try parseBody(until: ["endmacro"], dropNeedle: true)
        return .macro(MacroDefinition(name: symbol(name), parameters: parameters, body: body, location: location))
    }

    private mutating func parseAssignTarget(withNamespace: Bool = false, extraEnd: Set<String> = []) throws -> Target {
        if withNamespace, case .name(let object) = current.kind, isOp(".", next) {
            advance()
            advance()
            return .namespaceAttribute(symbol(object), try expectName())
        }
        let start = current
        let expr = try parseTuple(simplified: true, extraEnd: extraEnd)
        func target(_ expr: Expr) throws -> Target {
            switch expr {
            case .name(let name, _):
                return .name(name)
            case .tuple(let items): return .tuple(try items.map(target))
            default: break
            }
            throw failure("can't assign to this expression", at: start)
        }
        return try target(expr)
    }

    // MARK: expressions

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd: return true
        case .op(")"): return true
        case .name(let word): return extraEnd.contains(word)
        default: return false
        }
    }

    private mutating func parseTuple(simplified: Bool = false, withCondition: Bool = true,
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

    private mutating func parseExpression(withCondition: Bool = true) throws -> Expr {
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

    private mutating func parsePrimary() throws -> Expr {
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

    private mutating func parseCallArguments() throws -> Arguments {
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

    private mutating func parseFilterChain(startInline: Bool) throws -> [FilterCall] {
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
