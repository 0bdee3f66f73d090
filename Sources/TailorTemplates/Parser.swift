// Parser: tokens to statements, following jinja2/parser.py rule by rule (expressions are in
// Parser+Expressions.swift). Not extensible: tags outside the chat-template subset are syntax errors.

struct Parser {
    private let tokens: [Token]
    private var index = 0
    private var symbols = Dictionary(uniqueKeysWithValues: Symbol.predefined.map { ($0.name, $0) })
    /// Nesting of blocks and sub-expressions. Real templates nest a handful of levels; a cap keeps a hostile
    /// template (model files come from users) from exhausting the stack of the thread that parses or renders it.
    var depth = 0
    static let maxDepth = 64

    static func parse(_ source: String) throws -> Program {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let body = try parser.subparse(until: [])
        return Program(nodes: body, symbols: parser.symbols)
    }

    mutating func symbol(_ name: String) -> Symbol {
        if let known = symbols[name] { return known }
        let new = Symbol(id: symbols.count, name: name)
        symbols[name] = new
        return new
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    // MARK: token stream

    var current: Token { tokens[index] }
    var next: Token { tokens[min(index + 1, tokens.count - 1)] }
    mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    func isName(_ word: String, _ token: Token? = nil) -> Bool {
        if case .name(word) = (token ?? current).kind { return true }
        return false
    }

    func isOp(_ op: String, _ token: Token? = nil) -> Bool {
        if case .op(op) = (token ?? current).kind { return true }
        return false
    }

    mutating func skip(op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    mutating func skip(name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    mutating func expect(op: String) throws {
        guard skip(op: op) else { throw failure("expected '\(op)', got \(describe(current))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let word) = current.kind else { throw failure("expected a name, got \(describe(current))") }
        advance()
        return word
    }

    mutating func expect(name: String) throws {
        guard skip(name: name) else { throw failure("expected '\(name)', got \(describe(current))") }
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw failure("expected end of statement block, got \(describe(current))") }
        advance()
    }

    mutating func nest() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw TemplateError(.unsupported, "blocks or expressions nested more than \(Parser.maxDepth) levels deep",
                                line: current.location.line, column: current.location.column)
        }
    }

    func failure(_ message: String, at token: Token? = nil) -> TemplateError {
        let place = (token ?? current).location
        return TemplateError(.syntax, message, line: place.line, column: place.column)
    }

    func describe(_ token: Token) -> String {
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
}
