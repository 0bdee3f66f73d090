// The tool-call grammar: calls to listed functions with their own parameters (their $refs resolved against their
// own schema), the text alternatives per tool_choice, the limit on parallel calls, and refusals naming the function.
import Testing
@testable import TailorGrammar

@Suite struct ToolCallGrammarTests {
    static let open = "<tool_call>\n", close = "\n</tool_call>"
    static let weather = ToolCallGrammar.Function(name: "get_weather", parameters: try! JSONValue(parsing: Array("""
        {"type": "object", "properties": {"city": {"$ref": "#/$defs/city"}, "unit": {"enum": ["c", "f"]}},
         "required": ["city", "unit"], "additionalProperties": false, "$defs": {"city": {"type": "string", "maxLength": 12}}}
        """.utf8)))
    static let time = ToolCallGrammar.Function(name: "get_time", parameters: nil)

    func compile(_ fs: [ToolCallGrammar.Function] = [weather, time], maxCalls: Int? = nil,
                 text: ToolCallGrammar.Text = .free) throws -> CompiledGrammar {
        try ToolCallGrammar.compile(functions: fs, open: Self.open, close: Self.close, separator: "\n", maxCalls: maxCalls, text: text)
    }

    func call(_ json: String) -> String { Self.open + json + Self.close }

    @Test func callsMatchTheirFunctionsParameters() throws {
        let g = try compile()
        #expect(matches(g, call(#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}"#)))
        #expect(matches(g, call(#"{"name":"get_weather","arguments":{"city":"Paris","unit":"f"}}"#)))
        #expect(matches(g, call(#"{"name": "get_time", "arguments": {"zone": "UTC", "n": [1, 2]}}"#)))   // not strict: any object
        #expect(!matches(g, call(#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}"#)))
        #expect(!matches(g, call(#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#)))
        #expect(!matches(g, call(#"{"name": "get_weather", "arguments": {"city": "A very long city name", "unit": "c"}}"#)))   // the $ref's maxLength
        #expect(!matches(g, call(#"{"name": "get_wether", "arguments": {}}"#)))
        #expect(!matches(g, call(#"{"name": "get_time", "arguments": [1]}"#)))
        // Arguments' objects are closed: listed properties only, unless additionalProperties says otherwise.
        let open = ToolCallGrammar.Function(name: "f", parameters: try JSONValue(parsing: Array(#"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "object", "properties": {"c": {"type": "null"}}}, "d": {"type": "object", "properties": {}, "additionalProperties": true}}}"#.utf8)))
        let closed = try compile([open])
        #expect(matches(closed, call(#"{"name": "f", "arguments": {"a": 1, "b": {"c": null}, "d": {"x": 2}}}"#)))
        #expect(!matches(closed, call(#"{"name": "f", "arguments": {"a": 1, "z": 2}}"#)))
        #expect(!matches(closed, call(#"{"name": "f", "arguments": {"b": {"c": null, "z": 2}}}"#)))
        #expect(!matches(g, call(#"{"arguments": {}, "name": "get_time"}"#)))
        #expect(!matches(g, Self.open + #"{"name": "get_time", "arguments": {}}"#))   // unclosed
    }

    @Test func parallelCallsUpToTheLimit() throws {
        let two = call(#"{"name": "get_time", "arguments": {}}"#) + "\n" + call(#"{"name": "get_time", "arguments": {}}"#)
        #expect(matches(try compile(), two))
        #expect(!matches(try compile(maxCalls: 1), two))
        #expect(matches(try compile(maxCalls: 1), call(#"{"name": "get_time", "arguments": {}}"#)))
    }

    @Test func textAlternativesFollowTheToolChoice() throws {
        let free = try compile(text: .free)
        #expect(matches(free, "It is sunny."))
        #expect(matches(free, ""))
        #expect(matches(free, "<tool"))              // a prefix of the tag that goes nowhere is text
        #expect(matches(free, "<tool_cal!l> and more"))
        #expect(!matches(free, "<tool_call>\nnot a call"))
        let none = try compile(text: .none)
        #expect(!matches(none, "It is sunny."))
        #expect(!matches(none, ""))
        let schema = try compile(text: .schema(try JSONValue(parsing: Array(#"{"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false}"#.utf8))))
        #expect(matches(schema, #"{"answer": 42}"#))
        #expect(!matches(schema, "It is sunny."))
        #expect(matches(schema, call(#"{"name": "get_time", "arguments": {}}"#)))
        let textOnly = try ToolCallGrammar.textOnly(notStartingWith: Self.open)
        #expect(matches(textOnly, "Any words."))
        #expect(!matches(textOnly, call(#"{"name": "get_time", "arguments": {}}"#)))
    }

    @Test func aRefusedSchemaNamesItsFunction() throws {
        let bad = ToolCallGrammar.Function(name: "f", parameters: try JSONValue(parsing: Array(#"{"type": "object", "properties": {"a": {"not": {"const": 1}}}}"#.utf8)))
        do {
            _ = try compile([Self.time, bad])
            Issue.record("compiled a schema with 'not'")
        } catch let r as ToolCallGrammar.Refusal {
            #expect(r.function == 1)
            #expect(r.error.keyword == "not")
        }
    }

    @Test func tokenMasksFollowTheGrammar() throws {
        // Token by token over the hand vocabulary, as decoding sees it.
        let g = try compile()
        #expect(matchesByTokens(g, call(#"{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}"#)))
        #expect(!matchesByTokens(g, call(#"{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "x"}}"#)))
    }
}
