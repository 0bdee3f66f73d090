// The parsed template: expressions and statements as jinja2's parser shapes them (filters bind tighter than
// arithmetic, `not` looser than comparisons). Immutable and Sendable, so one parse serves every render.

/// A parsed template: its statements and the variable names it mentions, each interned once as a `Symbol`.
struct Program: Sendable {
    var nodes: [Node]
    var symbols: [String: Symbol]
}

/// A variable name resolved at parse time, so scopes compare integers instead of strings while rendering.
struct Symbol: Sendable, Equatable {
    let id: Int
    let name: String

    static let loop = Symbol(id: 0, name: "loop")
    static let varargs = Symbol(id: 1, name: "varargs")
    static let kwargs = Symbol(id: 2, name: "kwargs")
    static let predefined = [loop, varargs, kwargs]

    static func == (lhs: Symbol, rhs: Symbol) -> Bool { lhs.id == rhs.id }
}

indirect enum Expr: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case name(Symbol, SourceLocation)
    case list([Expr])
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)])
    case attribute(Expr, String, SourceLocation)
    case item(Expr, Expr, SourceLocation)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, SourceLocation)
    case call(Expr, Arguments, SourceLocation)
    case filter(Expr, String, Arguments, SourceLocation)
    case test(Expr, String, Arguments, SourceLocation)
    case not(Expr)
    case negate(Expr, SourceLocation)
    case plus(Expr, SourceLocation)
    case binary(BinaryOperator, Expr, Expr, SourceLocation)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case concat([Expr])
    case compare(Expr, [(op: CompareOperator, operand: Expr)], SourceLocation)
    case conditional(test: Expr, then: Expr, else: Expr?)
}

struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(name: String, value: Expr)] = []
    static let empty = Arguments()
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
}

enum CompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case contains = "in", notContains = "not in"
}

/// Where `set` and `for` store values.
indirect enum Target: Sendable {
    case name(Symbol)
    case tuple([Target])
    case namespaceAttribute(Symbol, String)
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr, SourceLocation)
    case `if`([(test: Expr, body: [Node])], else: [Node])
    case `for`(ForLoop)
    case set(Target, Expr, SourceLocation)
    case setBlock(Target, filters: [FilterCall], body: [Node], SourceLocation)
    case macro(MacroDefinition)
    case filterBlock([FilterCall], body: [Node], SourceLocation)
    /// A body rendered in its own scope: `{% generation %}` (transformers renders it through a macro call).
    case scoped([Node])
    case `break`
    case `continue`
}

struct FilterCall: Sendable {
    var name: String
    var arguments: Arguments
    var location: SourceLocation
}

struct ForLoop: Sendable {
    var target: Target
    var iterable: Expr
    var condition: Expr?
    var body: [Node]
    var elseBody: [Node]
    var location: SourceLocation
    /// A macro defined in the body keeps its iteration's scope alive, so iterations cannot share one scope.
    var bodyDefinesMacro: Bool
}

extension [Node] {
    var definesMacro: Bool {
        contains { node in
            switch node {
            case .macro: return true
            case .if(let branches, let elseBody): return branches.contains { $0.body.definesMacro } || elseBody.definesMacro
            case .for(let loop): return loop.body.definesMacro || loop.elseBody.definesMacro
            case .setBlock(_, _, let body, _), .filterBlock(_, let body, _), .scoped(let body): return body.definesMacro
            default: return false
            }
        }
    }
}

struct MacroDefinition: Sendable {
    var name: Symbol
    var parameters: [(name: Symbol, defaultValue: Expr?)]
    var body: [Node]
    var location: SourceLocation
}
