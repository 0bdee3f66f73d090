// Value: what expressions evaluate to while rendering — Python's objects as jinja2 templates see them, including
// Undefined, Markup, generators, namespaces and macros. Lives for one render; never shared across threads.

import Foundation

enum Value {
    /// jinja2's default Undefined: prints as "", is falsy, iterates empty; most other uses raise `message`.
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// markupsafe.Markup (from `|safe`): like a string, except `+` HTML-escapes the plain string it meets.
    case markup(String)
    case list([Value])
    case tuple([Value])
    case dict(OrderedDict)
    /// A one-shot iterator from filters like `map` or `selectattr`: iterable, but no `len` and not JSON.
    case generator([Value], kind: String)
    case namespace(Namespace)
    case loop(LoopState)
    case macro(Macro)
    case function(Function)
}

struct Undefined {
    /// What jinja2 would say on misuse, e.g. "'messages' is undefined".
    var message: String
    /// Set for a forbidden attribute (`list.append`): calling it is a sandbox violation, not an undefined error.
    var isUnsafe = false

    static func named(_ name: String) -> Value { .undefined(Undefined(message: "'\(name)' is undefined")) }
}

/// A Python dict: insertion-ordered, values replaced in place. Keys are strings almost always; numbers and None
/// occur in literals like `{0: 0, 512: 128}`.
struct OrderedDict {
    private(set) var keys: [DictKey] = []
    private(set) var values: [Value] = []
    /// Positions by key, built only for larger dicts: messages and tool schemas have a handful of keys, and a
    /// linear scan of those beats hashing them.
    private var index: [DictKey: Int]?
    private static let indexThreshold = 12

    init() {}

    /// From a TemplateDictionary's parallel arrays (keys already unique).
    init(keys: [String], values: [Value]) {
        self.keys = keys.map(DictKey.string)
        self.values = values
        if keys.count > OrderedDict.indexThreshold {
            index = Dictionary(uniqueKeysWithValues: zip(self.keys, self.keys.indices))
        }
    }

    init(_ pairs: [(String, Value)]) {
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[.string(key)] = value }
    }

    var count: Int { keys.count }

    private func position(of key: DictKey) -> Int? {
        if let index { return index[key] }
        return keys.firstIndex(of: key)
    }

    subscript(key: DictKey) -> Value? {
        get { position(of: key).map { values[$0] } }
        set {
            guard let newValue else { return }
            if let existing = position(of: key) {
                values[existing] = newValue
                return
            }
            keys.append(key)
            values.append(newValue)
            if index != nil {
                index![key] = keys.count - 1
            } else if keys.count > OrderedDict.indexThreshold {
                index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
            }
        }
    }

    subscript(key: String) -> Value? {
        get { self[.string(key)] }
        set { self[.string(key)] = newValue }
    }

    var pairs: [(DictKey, Value)] { Array(zip(keys, values)) }
}

/// A hashable dict key with Python's equalities: `True`, `1` and `1.0` are the same key.
enum DictKey: Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case none

    init?(_ value: Value) {
        switch value {
        case .string(let text), .markup(let text): self = .string(text)
        case .int(let number): self = .int(number)
        case .bool(let flag): self = .int(flag ? 1 : 0)
        case .double(let number):
            if number.rounded() == number, let exact = Int(exactly: number) { self = .int(exact) } else { self = .double(number) }
        case .none: self = .none
        default: return nil
        }
    }

    var value: Value {
        switch self {
        case .string(let text): return .string(text)
        case .int(let number): return .int(number)
        case .double(let number): return .double(number)
        case .none: return .none
        }
    }
}

final class Namespace {
    var attributes: OrderedDict
    init(_ attributes: OrderedDict) { self.attributes = attributes }
}

/// jinja2's LoopContext for one `for`, advanced in place as the loop runs. Loops are never recursive here, so
/// `depth` is always 1.
final class LoopState {
    let items: [Value]
    var index0 = 0
    private var lastChanged: [Value]?

    init(items: [Value]) { self.items = items }

    func attribute(_ name: String) -> Value? {
        let length = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(length - index0)
        case "revindex0": return .int(length - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == length - 1)
        case "length": return .int(length)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem":
            return index0 > 0 ? items[index0 - 1] : .undefined(Undefined(message: "there is no previous item"))
        case "nextitem":
            return index0 + 1 < length ? items[index0 + 1] : .undefined(Undefined(message: "there is no next item"))
        case "cycle":
            return .function(Function("cycle") { arguments in
                guard !arguments.positional.isEmpty else { throw TemplateError(.type, "no items for cycling given") }
                return arguments.positional[self.index0 % arguments.positional.count]
            })
        case "changed":
            return .function(Function("changed") { arguments in
                defer { self.lastChanged = arguments.positional }
                guard let last = self.lastChanged, last.count == arguments.positional.count else { return .bool(true) }
                return .bool(!zip(last, arguments.positional).allSatisfy { $0.0.pythonEquals($0.1) })
            })
        default: return nil
        }
    }
}

/// Arguments as they arrive at a call: evaluated positionals, then keywords in source order.
struct CallArguments {
    var positional: [Value] = []
    var keywords: [(String, Value)] = []

    func keyword(_ name: String) -> Value? { keywords.first { $0.0 == name }?.1 }

    /// The parameter at `position`, or passed by `name`, as Python binds it.
    func value(_ position: Int, _ name: String) -> Value? {
        position < positional.count ? positional[position] : keyword(name)
    }
}

final class Function {
    let name: String
    let body: (CallArguments) throws -> Value
    init(_ name: String, _ body: @escaping (CallArguments) throws -> Value) {
        self.name = name
        self.body = body
    }
}

final class Macro {
    let definition: MacroDefinition
    let scope: Scope
    init(_ definition: MacroDefinition, scope: Scope) {
        self.definition = definition
        self.scope = scope
    }
}

/// One level of variables: the template's top level, a loop iteration, a macro call or a scoped block.
/// Symbol ids sit in a plain array: scopes hold a few names each, and a scan of integers beats hashing.
final class Scope {
    // A render runs on one thread and never holds two accesses to a scope at once; dynamic exclusivity checks on
    // these two arrays cost more than the lookups themselves.
    @exclusivity(unchecked) private var ids: [Int] = []
    @exclusivity(unchecked) private var values: [Value] = []
    let parent: Scope?
    init(parent: Scope?) {
        self.parent = parent
        Self.adjustLiveOnThisThread(+1)
    }

    deinit { Self.adjustLiveOnThisThread(-1) }

    /// Scopes created on this thread and not yet freed (a render creates and frees its scopes on its own thread), so
    /// a test can check that renders free everything they made, whatever other threads render meanwhile.
    static var liveOnThisThread: Int { Int(bitPattern: pthread_getspecific(liveKey)) }

    private static let liveKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static func adjustLiveOnThisThread(_ delta: Int) {
        pthread_setspecific(liveKey, UnsafeRawPointer(bitPattern: liveOnThisThread + delta))
    }

    /// Empties the scope for the next loop iteration, keeping its storage.
    func reset() {
        ids.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    subscript(symbol: Symbol) -> Value? {
        get { ids.firstIndex(of: symbol.id).map { values[$0] } }
        set {
            guard let newValue else { return }
            if let existing = ids.firstIndex(of: symbol.id) {
                values[existing] = newValue
            } else {
                ids.append(symbol.id)
                values.append(newValue)
            }
        }
    }

    func lookup(_ symbol: Symbol) -> Value? {
        var scope: Scope? = self
        while let current = scope {
            if let existing = current.ids.firstIndex(of: symbol.id) { return current.values[existing] }
            scope = current.parent
        }
        return nil
    }
}

extension Value {
    init(_ value: TemplateValue) {
        switch value {
        case .none: self = .none
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .list(items.map(Value.init))
        case .dict(let dict): self = .dict(OrderedDict(keys: dict.keys, values: dict.values.map(Value.init)))
        }
    }

    /// Python's name for the type, as error messages print it.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .markup: return "Markup"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .generator(_, let kind): return kind
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .macro: return "Macro"
        case .function: return "function"
        }
    }

    /// jinja2's `object_type_repr`, used in undefined-attribute messages.
    var objectDescription: String {
        if case .none = self { return "None" }
        return "\(typeName) object"
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let flag): return flag
        case .int(let number): return number != 0
        case .double(let number): return number != 0
        case .string(let text), .markup(let text): return !text.isEmpty
        case .list(let items), .tuple(let items): return !items.isEmpty
        case .dict(let dict): return dict.count > 0
        case .generator, .namespace, .loop, .macro, .function: return true
        }
    }

    /// The string of `.string` or `.markup`.
    var text: String? {
        switch self {
        case .string(let text), .markup(let text): return text
        default: return nil
        }
    }
}
