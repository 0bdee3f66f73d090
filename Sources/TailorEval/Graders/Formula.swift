// The `calculate_output` language of the multi grader: numbers, grader names, + - * / ^, parentheses and the
// functions OpenAI lists (min, max, abs, floor, ceil, exp, sqrt, log). Parsed once; no other names, no assignment.

import Foundation

public struct Formula: Sendable, Hashable {
    indirect enum Node: Sendable, Hashable {
        case number(Double)
        case variable(String)
        case negate(Node)
        case binary(Character, Node, Node)
        case call(String, [Node])
    }

    public static let functions = ["abs", "ceil", "exp", "floor", "log", "max", "min", "sqrt"]

    let root: Node
    public let source: String

    /// Parses `source`; every name must be one of `variables` (the sub-graders' names), so a typo fails when the
    /// grader is created rather than when the first sample is scored.
    public init(_ source: String, variables: Set<String>) throws {
        var parser = Parser(source: source, variables: variables)
        root = try parser.parse()
        self.source = source
    }

    /// `^` is a power and binds tighter than unary minus (-2^2 is -4) and to the right (2^3^2 is 2^9); `log` is the
    /// natural logarithm. A result that is not a finite number (division by zero, log of 0, sqrt of a negative)
    /// is an error rather than a score.
    public func evaluate(_ values: [String: Double]) throws -> Double {
        let result = try Self.evaluate(root, values)
        guard result.isFinite else {
            throw GraderError.formula("calculate_output '\(source)' gave \(result) for \(values.sorted { $0.key < $1.key }); "
                                      + "guard divisions and logarithms, e.g. max(x, 0.000001)")
        }
        return result
    }

    private static func evaluate(_ node: Node, _ values: [String: Double]) throws -> Double {
        switch node {
        case .number(let x): return x
        case .variable(let name):
            guard let x = values[name] else { throw GraderError.formula("no score for grader '\(name)'") }
            return x
        case .negate(let x): return -(try evaluate(x, values))
        case .binary(let op, let l, let r):
            let a = try evaluate(l, values), b = try evaluate(r, values)
            switch op {
            case "+": return a + b
            case "-": return a - b
            case "*": return a * b
            case "/": return a / b
            default: return pow(a, b)
            }
        case .call(let name, let args):
            let x = try args.map { try evaluate($0, values) }
            switch name {
            case "min": return x.min()!
            case "max": return x.max()!
            case "abs": return Swift.abs(x[0])
            case "floor": return x[0].rounded(.down)
            case "ceil": return x[0].rounded(.up)
            case "exp": return Foundation.exp(x[0])
            case "sqrt": return x[0].squareRoot()
            default: return Foundation.log(x[0])
            }
        }
    }
}

/// Recursive descent over the grammar
///   sum := product (("+" | "-") product)*      product := unary (("*" | "/") unary)*
///   unary := ("-" | "+") unary | power         power := atom ("^" unary)?
///   atom := number | name | name "(" sum ("," sum)* ")" | "(" sum ")"
private struct Parser {
    let text: [Character]
    let source: String
    let variables: Set<String>
    var i = 0

    init(source: String, variables: Set<String>) {
        self.source = source
        self.text = Array(source)
        self.variables = variables
    }

    mutating func parse() throws -> Formula.Node {
        let node = try sum()
        skipSpaces()
        if i < text.count { throw error("unexpected '\(text[i])'") }
        return node
    }

    private func error(_ what: String) -> GraderError {
        .formula("calculate_output '\(source)': \(what) at character \(i + 1)")
    }

    private func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }

    private mutating func skipSpaces() { while i < text.count && text[i].isWhitespace { i += 1 } }

    private mutating func take(_ c: Character) -> Bool {
        skipSpaces()
        guard i < text.count && text[i] == c else { return false }
        i += 1
        return true
    }

    private mutating func sum() throws -> Formula.Node {
        var node = try product()
        while true {
            if take("+") { node = .binary("+", node, try product()) }
            else if take("-") { node = .binary("-", node, try product()) }
            else { return node }
        }
    }

    private mutating func product() throws -> Formula.Node {
        var node = try unary()
        while true {
            skipSpaces()
            if i + 1 < text.count && text[i] == "*" && text[i + 1] == "*" {
                throw error("'**' is not an operator here; write powers with '^'")
            }
            if take("*") { node = .binary("*", node, try unary()) }
            else if take("/") { node = .binary("/", node, try unary()) }
            else { return node }
        }
    }

    private mutating func unary() throws -> Formula.Node {
        if take("-") { return .negate(try unary()) }
        if take("+") { return try unary() }
        return try power()
    }

    private mutating func power() throws -> Formula.Node {
        let base = try atom()
        return take("^") ? .binary("^", base, try unary()) : base
    }

    private mutating func atom() throws -> Formula.Node {
        skipSpaces()
        guard i < text.count else { throw error("expression ends too early") }
        if take("(") {
            let node = try sum()
            guard take(")") else { throw error("missing ')'") }
            return node
        }
        let start = i
        if isDigit(text[i]) || text[i] == "." {
            while i < text.count && (isDigit(text[i]) || text[i] == ".") { i += 1 }
            if i < text.count && (text[i] == "e" || text[i] == "E") {
                i += 1
                if i < text.count && (text[i] == "+" || text[i] == "-") { i += 1 }
                while i < text.count && isDigit(text[i]) { i += 1 }
            }
            let literal = String(text[start..<i])
            guard let x = Double(literal) else {
                i = start
                throw error("'\(literal)' is not a number")
            }
            return .number(x)
        }
        guard text[i].isLetter || text[i] == "_" else { throw error("unexpected '\(text[i])'") }
        while i < text.count && (text[i].isLetter || text[i].isNumber || text[i] == "_") { i += 1 }
        let name = String(text[start..<i])
        if take("(") { return try call(name, at: start) }
        guard variables.contains(name) else {
            let known = variables.sorted().joined(separator: ", ")
            i = start
            throw error("unknown name '\(name)'; the graders here are \(known.isEmpty ? "none" : known)")
        }
        return .variable(name)
    }

    private mutating func call(_ name: String, at start: Int) throws -> Formula.Node {
        guard Formula.functions.contains(name) else {
            i = start
            throw error("unknown function '\(name)'; use one of \(Formula.functions.joined(separator: ", "))")
        }
        var args = [try sum()]
        while take(",") { args.append(try sum()) }
        guard take(")") else { throw error("missing ')' after the arguments of \(name)") }
        let variadic = name == "min" || name == "max"
        if !variadic && args.count != 1 {
            throw error("\(name) takes one argument, not \(args.count)")
        }
        return .call(name, args)
    }
}
