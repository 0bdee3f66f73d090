// Renderer: runs the parsed statements for one render, with jinja2's scoping (a loop iteration, a macro call and
// a block body each get their own scope; `if` does not). Created per render, so it needs no locking.
import Foundation

final class Renderer {
    enum Flow { case normal, breakLoop, continueLoop }

    let clock: Date
    let timeZone: TimeZone
    private var macroDepth = 0
    private static let maxMacroDepth = 100
    /// Scopes that hold a macro: the macro holds the scope too, a reference cycle that render() breaks at the end
    /// (otherwise every render of a template with a macro leaked its scopes and the whole context).
    private var macroScopes: [Scope] = []

    init(clock: Date, timeZone: TimeZone) {
        self.clock = clock
        self.timeZone = timeZone
    }

    func render(_ program: Program, context: [String: TemplateValue]) throws -> String {
        // Only names the template mentions are bound: the rest of the context is never converted.
        let globals = Scope(parent: nil)
        for (name, symbol) in program.symbols {
            if let value = global(name) { globals[symbol] = value }
        }
        let contextScope = Scope(parent: globals)
        for (key, value) in context {
            if let symbol = program.symbols[key] { contextScope[symbol] = Value(value) }
        }
        defer {
            for scope in macroScopes { scope.reset() }
            macroScopes = []
        }
        var out = ""
        out.reserveCapacity(4096)
        _ = try render(program.nodes, in: Scope(parent: contextScope), into: &out)
        return out
    }

    func render(_ nodes: [Node], in scope: Scope, into out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .output(let expr, let location):
                do {
                    out += try evaluate(expr, in: scope).pythonString
                } catch let error as TemplateError {
                    throw error.located(location)
                }
            case .if(let branches, let elseBody):
                var taken = false
                for branch in branches where try evaluate(branch.test, in: scope).isTruthy {
                    taken = true
                    let flow = try render(branch.body, in: scope, into: &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try render(elseBody, in: scope, into: &out)
                    if flow != .normal { return flow }
                }
            case .for(let loop):
                try runLoop(loop, in: scope, into: &out)
            case .set(let target, let expr, let location):
                do {
                    try assign(target, try evaluate(expr, in: scope), in: scope)
                } catch let error as TemplateError {
                    throw error.located(location)
                }
            case .setBlock(let target, let filters, let body, let location):
                do {
                    var value = Value.string(try renderScoped(body, in: scope))
                    value = try applyFilters(filters, to: value, in: scope)
                    try assign(target, value, in: scope)
                } catch let error as TemplateError {
                    throw error.located(location)
                }
            case .macro(let definition):
                scope[definition.name] = .macro(Macro(definition, scope: scope))
                macroScopes.append(scope)
            case .filterBlock(let filters, let body, let location):
                do {
                    out += try applyFilters(filters, to: .string(try renderScoped(body, in: scope)), in: scope).pythonString
                } catch let error as TemplateError {
                    throw error.located(location)
                }
            case .scoped(let body):
                out += try renderScoped(body, in: scope)
            case .break:
                return .breakLoop
            case .continue:
                return .continueLoop
            }
        }
        return .normal
    }

    private func renderScoped(_ body: [Node], in scope: Scope) throws -> String {
        var text = ""
        _ = try render(body, in: Scope(parent: scope), into: &text)
        return text
    }

    private func applyFilters(_ filters: [FilterCall], to start: Value, in scope: Scope) throws -> Value {
        var value = start
        for filter in filters {
            value = try applyFilter(filter.name, to: value, try evaluate(filter.arguments, in: scope))
        }
        return value
    }

    private func runLoop(_ loop: ForLoop, in scope: Scope, into out: inout String) throws {
        var items: [Value]
        do {
            items = try iterate(try evaluate(loop.iterable, in: scope))
            if let condition = loop.condition {
                items = try items.filter { item in
                    let filterScope = Scope(parent: scope)
                    try assign(loop.target, item, in: filterScope)
                    return try evaluate(condition, in: filterScope).isTruthy
                }
            }
        } catch let error as TemplateError {
            throw error.located(loop.location)
        }
        if items.isEmpty {
            _ = try render(loop.elseBody, in: Scope(parent: scope), into: &out)
            return
        }
        let state = LoopState(items: items)
        // Each iteration starts with fresh variables (jinja2 does not carry `set` across iterations).
        var iteration = Scope(parent: scope)
        for (index, item) in items.enumerated() {
            state.index0 = index
            if index > 0 {
                if loop.bodyDefinesMacro { iteration = Scope(parent: scope) } else { iteration.reset() }
            }
            iteration[Symbol.loop] = .loop(state)
            do {
                try assign(loop.target, item, in: iteration)
            } catch let error as TemplateError {
                throw error.located(loop.location)
            }
            if try render(loop.body, in: iteration, into: &out) == .breakLoop { break }
        }
    }

    func assign(_ target: Target, _ value: Value, in scope: Scope) throws {
        switch target {
        case .name(let name):
            scope[name] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw TemplateError(.type, items.count > targets.count
                    ? "too many values to unpack (expected \(targets.count))"
                    : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (target, item) in zip(targets, items) { try assign(target, item, in: scope) }
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let namespace) = scope.lookup(name) ?? .none else {
                throw TemplateError(.type, "cannot assign attribute on non-namespace object")
            }
            try checkNamespaceName(attribute)
            namespace.attributes[attribute] = value
        }
    }

    /// transformers' TemplateNamespace refuses `_`-prefixed names so templates cannot reach Python internals.
    func checkNamespaceName(_ name: String) throws {
        if name.hasPrefix("_") {
            throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, "
                + "but got \(pythonStringRepr(name)). Please rename the attribute.")
        }
    }

    /// What `for` walks: list items, dict keys, string characters; undefined is empty.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .list(let items), .tuple(let items), .generator(let items, _): return items
        case .dict(let dict): return dict.keys.map(\.value)
        case .string(let text), .markup(let text): return text.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw TemplateError(.type, "'\(value.typeName)' object is not iterable")
        }
    }

    func callMacro(_ macro: Macro, _ arguments: CallArguments) throws -> Value {
        macroDepth += 1
        defer { macroDepth -= 1 }
        guard macroDepth <= Renderer.maxMacroDepth else {
            throw TemplateError(.unsupported, "macro '\(macro.definition.name.name)' recursed deeper than \(Renderer.maxMacroDepth) calls")
        }
        let scope = Scope(parent: macro.scope)
        let parameters = macro.definition.parameters
        for (position, parameter) in parameters.enumerated() {
            if let value = arguments.value(position, parameter.name.name) {
                scope[parameter.name] = value
            } else if let defaultValue = parameter.defaultValue {
                scope[parameter.name] = try evaluate(defaultValue, in: scope)
            } else {
                scope[parameter.name] = .undefined(Undefined(message: "parameter '\(parameter.name.name)' was not provided"))
            }
        }
        scope[Symbol.varargs] = .tuple(Array(arguments.positional.dropFirst(parameters.count)))
        scope[Symbol.kwargs] = .dict(OrderedDict(arguments.keywords.filter { keyword in
            !parameters.contains { $0.name.name == keyword.0 }
        }))
        var out = ""
        _ = try render(macro.definition.body, in: scope, into: &out)
        return .string(out)
    }
}
