// Reading `tools`/`tool_choice` and building their grammar, without a model: a strict function's schema is
// enforced or refused naming it; a non-strict one Tailor cannot enforce becomes any object; a response_format beside
// tools is the text branch.
import Foundation
import Testing
import TailorGrammar
import TailorHTTP
@testable import TailorAPI

@Suite struct ToolRequestTests {
    func parse(_ json: String) throws -> (ToolRequest?, StructuredOutput.Format?) {
        let request = HTTPRequest(head: HTTPRequestHead(method: "POST", target: "/v1/chat/completions", requestID: "req_t"), body: .bytes(Array(json.utf8)))
        let body = try RequestBody(request)
        let ordered = StructuredOutput.orderedBody(request)
        return (try ToolRequest.parse(body, ordered: ordered), try StructuredOutput.format(body, ordered: ordered, messagesText: nil))
    }

    func matches(_ g: CompiledGrammar, _ text: String) -> Bool {
        let m = GrammarMatcher(grammar: g, vocabulary: TokenVocabulary(tokens: (0..<256).map { [UInt8($0)] }, endOfGeneration: []))
        return m.accept(bytes: Array(text.utf8)) && m.isAccepting
    }

    static let unenforceable = #"{"type": "object", "properties": {"a": {"type": "string", "not": {"const": "x"}}}}"#
    func call(_ name: String, _ args: String) -> String { "<tool_call>\n{\"name\": \"\(name)\", \"arguments\": \(args)}\n</tool_call>" }

    @Test func aNonStrictSchemaTailorCannotEnforceIsAnyObject() throws {
        let (tools, _) = try parse(#"{"tools": [{"type": "function", "function": {"name": "f", "parameters": \#(Self.unenforceable)}}, {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}], "tool_choice": "required"}"#)
        let g = try #require(tools).grammar(format: nil)
        #expect(matches(g, call("f", #"{"a": "x", "b": [1]}"#)))       // any object
        #expect(matches(g, call("g", #"{"n": 3}"#)))                    // still enforced
        #expect(!matches(g, call("g", #"{"n": "3"}"#)))
        #expect(!matches(g, "Hello"))                                    // required: calls only
    }

    @Test func aStrictSchemaTailorCannotEnforceIsRefusedByName() throws {
        let (tools, _) = try parse(#"{"tools": [{"type": "function", "function": {"name": "g"}}, {"type": "function", "function": {"name": "f", "strict": true, "parameters": \#(Self.unenforceable)}}]}"#)
        do {
            _ = try #require(tools).grammar(format: nil)
            Issue.record("compiled")
        } catch let e as APIError {
            #expect(e.param == "tools[1].function.parameters" && e.code == "invalid_function_parameters")
            #expect(e.message.contains("'not'"))
        }
    }

    @Test func choicesShapeTheGrammar() throws {
        let tools = #"[{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "g"}}]"#
        let (auto, _) = try parse(#"{"tools": \#(tools)}"#)
        let a = try #require(auto).grammar(format: nil)
        #expect(matches(a, "Hello") && matches(a, call("f", "{}") + "\n" + call("g", "{}")))
        let (named, _) = try parse(#"{"tools": \#(tools), "tool_choice": {"type": "function", "function": {"name": "g"}}, "parallel_tool_calls": false}"#)
        let n = try #require(named).grammar(format: nil)
        #expect(matches(n, call("g", "{}")) && !matches(n, call("f", "{}")) && !matches(n, call("g", "{}") + "\n" + call("g", "{}")))
        let (none, _) = try parse(#"{"tools": \#(tools), "tool_choice": "none"}"#)
        let x = try #require(none).grammar(format: nil)
        #expect(matches(x, "Hello") && !matches(x, call("f", "{}")))
        // auto beside a response_format: a call, or an instance of the format's schema (not free text).
        let (withFormat, format) = try parse(#"{"tools": \#(tools), "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}}}}"#)
        let w = try #require(withFormat).grammar(format: format)
        #expect(matches(w, #"{"ok": true}"#) && matches(w, call("f", "{}")) && !matches(w, "Hello"))
    }

    @Test func noToolsMeansNoToolOptions() throws {
        #expect(try parse(#"{"tools": []}"#).0 == nil)
        for body in [#"{"tool_choice": "auto"}"#, #"{"parallel_tool_calls": true}"#, #"{"tools": {}}"#] {
            #expect(throws: APIError.self) { try parse(body) }
        }
    }
}
