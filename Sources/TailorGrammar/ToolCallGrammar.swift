// The grammar of a tool-calling answer: one or more calls, each `open` + {"name": <a function's name>, "arguments":
// <that function's parameters>} + `close`, joined by `separator` — and, when the model may also answer in words,
// the alternative of an answer that does not begin with `open` (free text, or a JSON Schema's instance). Each
// function's parameters are compiled against their own root, so their "#/$defs/…" references stay theirs, and with
// closed objects (an object listing properties takes no others unless additionalProperties says so). The tag
// syntax itself belongs to the caller (the model's tool format); this file only composes.

public enum ToolCallGrammar {
    public struct Function: Sendable {
        public var name: String
        /// The parameters' JSON Schema; nil for any JSON object (a function that is not `strict`).
        public var parameters: JSONValue?
        public init(name: String, parameters: JSONValue?) { self.name = name; self.parameters = parameters }
    }

    /// What the answer may be instead of calls.
    public enum Text: Sendable {
        /// Calls only (`tool_choice` "required" or a named function).
        case none
        /// Any text that does not begin with `open`.
        case free
        /// An instance of this schema (a `response_format` beside the tools).
        case schema(JSONValue)
    }

    /// A refusal of one function's parameters (index into `functions`), or of the text schema (index nil).
    public struct Refusal: Error, Sendable {
        public let function: Int?
        public let error: GrammarError
    }

    public static func compile(functions: [Function], open: String, close: String, separator: String,
                               maxCalls: Int?, text: Text) throws -> CompiledGrammar {
        precondition(!functions.isEmpty && !open.isEmpty)
        var builder = GrammarBuilder()
        var calls: [Node] = []
        for (i, f) in functions.enumerated() {
            let schema = f.parameters ?? .object([("type", .string("object"))])
            let arguments: Node
            do { arguments = try compileInto(&builder, schema, closedObjects: true) } catch let e as GrammarError { throw Refusal(function: i, error: e) }
            calls.append(.seq([.lit("{\"name\""), JSONText.keySeparator, .lit("\"" + JSONText.canonical(f.name) + "\""),
                               JSONText.itemSeparator, .lit("\"arguments\""), JSONText.keySeparator, arguments, .lit("}")]))
        }
        let call = Node.call(builder.add(.seq([.lit(open), .alt(calls), .lit(close)])))
        let more = Node.seq([.lit(separator), call])
        let answer = Node.seq([call, .rep(more, min: 0, max: maxCalls.map { max($0 - 1, 0) })])
        var branches = [answer]
        switch text {
        case .none: break
        case .free: branches.append(notStartingWith(Array(open.utf8)))
        case .schema(let s):
            do { branches.append(try compileInto(&builder, s, closedObjects: false)) } catch let e as GrammarError { throw Refusal(function: nil, error: e) }
        }
        let root = builder.add(.alt(branches))
        do { return try builder.build(root: root) } catch let e as GrammarError {
            throw Refusal(function: nil, error: e.at(keyword: "(schema size)", pointer: "#"))
        }
    }

    /// Any text that does not begin with `open`: an answer that must not call a tool (`tool_choice` "none").
    public static func textOnly(notStartingWith open: String) throws -> CompiledGrammar {
        var builder = GrammarBuilder()
        let root = builder.add(notStartingWith(Array(open.utf8)))
        return try builder.build(root: root)
    }

    /// A schema compiled into `builder` with the schema as the root its references resolve against.
    private static func compileInto(_ builder: inout GrammarBuilder, _ schema: JSONValue, closedObjects: Bool) throws -> Node {
        var c = SchemaCompiler(root: schema)
        c.closedObjects = closedObjects
        c.builder = builder
        defer { builder = c.builder }
        let node = try c.compile(schema, "#")
        return .call(c.builder.add(node))
    }

    /// Any UTF-8 text that does not begin with `prefix` (an ASCII tag): a proper prefix of it, or text that leaves
    /// it at some byte and then goes on freely.
    static func notStartingWith(_ prefix: [UInt8]) -> Node {
        let anything = Node.star(.chars(.all))
        var branches: [Node] = []
        for i in 0..<prefix.count {
            let head = Node.literal(Array(prefix[..<i]))
            branches.append(head)
            let other = CodePointSet.all.subtracting(CodePointSet([UInt32(prefix[i])...UInt32(prefix[i])]))
            branches.append(.seq([head, .chars(other), anything]))
        }
        return .alt(branches)
    }
}
