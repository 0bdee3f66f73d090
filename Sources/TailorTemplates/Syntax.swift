// The parsed template: expressions and statements as jinja2's parser shapes them (filters bind tighter than
// arithmetic, `not` looser than comparisons). Immutable and Sendable, so one parse serves every render.

indirect enum Expr: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case name(String, SourceLocation)
    case list([Expr])
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)])
    case attribute(Expr, String, SourceLocation)
    case item(Expr, Expr, SourceLocation)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, SourceLocation)
    case call(Expr, Arguments, SourceLocation)
    case filter(Expr?, String, Arguments, SourceLocation)
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
    case name(String)
    case tuple([Target])
    case namespaceAttribute(String, String)
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
}

struct MacroDefinition: Sendable {
    var name: String
    var parameters: [(name: String, defaultValue: Expr?)]
    var body: [Node]
    var location: SourceLocation
}
