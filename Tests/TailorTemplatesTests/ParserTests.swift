// Parsing: precedence as jinja2 has it (checked by rendering), and syntax errors that say where and what.
import Testing
@testable import TailorTemplates

@Suite struct ParserTests {
    private func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
        try ChatTemplate(source: source).render(context)
    }

    @Test func precedenceMatchesJinja2() throws {
        // Outputs from jinja2 3.1.6: filters bind tighter than any operator, unary minus binds before filters.
        #expect(try render("{{ -1|abs }}") == "1")
        #expect(try render("{{ 'a' ~ 'b'|upper }}") == "aB")
        #expect(try render("{{ not 1 in [1] }}") == "False")
        #expect(try render("{{ 2 * 3 ** 2 }}") == "18")
        #expect(try render("{{ 1 if false else 2 if true else 3 }}") == "2")
        #expect(try render("{{ [1,2,3][1:] | length }}") == "2")
    }

    @Test func parseOnceRenderMany() throws {
        let template = try ChatTemplate(source: "{% for m in messages %}[{{ m }}]{% endfor %}")
        #expect(try template.render(["messages": ["a", "b"]]) == "[a][b]")
        #expect(try template.render(["messages": []]) == "")
        #expect(try template.render([:]) == "", "an undefined iterable loops zero times")
    }

    @Test(arguments: [
        ("{% if true %}\n{{ 1 + }}", 2, 8, "unexpected '}}'"),
        ("{% for x in %}{% endfor %}", 1, 13, "Expected an expression"),
        ("{% if x %}never closed", 1, 23, "expected 'elif' or 'else' or 'endif'"),
        ("{% set 1 = 2 %}", 1, 8, "can't assign"),
        ("{{ f(a=1, 2) }}", 1, 5, "invalid syntax for function call expression"),
        ("{% macro m(a=1, b) %}{% endmacro %}", 1, 18, "non-default argument follows default argument"),
        ("{{ x is defined is defined }}", 1, 17, "You cannot chain multiple tests with is"),
        ("{% frobnicate %}", 1, 4, "Encountered unknown tag 'frobnicate'."),
        ("text\n  {% call foo() %}{% endcall %}", 2, 6, "the 'call' tag is not supported"),
        ("{% include 'other.jinja' %}", 1, 4, "the 'include' tag is not supported"),
    ])
    func syntaxErrorsAreLocated(_ source: String, _ line: Int, _ column: Int, _ message: String) {
        do {
            _ = try ChatTemplate(source: source)
            Issue.record("parsed \(source.debugDescription)")
        } catch let error as TemplateError {
            #expect(error.kind == .syntax)
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func unsupportedFeaturesSaySo() {
        for source in ["{% for x in y recursive %}{% endfor %}", "{{ f(*args) }}"] {
            #expect(Result { try ChatTemplate(source: source) }.failureError?.kind == .unsupported)
        }
    }

    @Test func deepNestingIsRefusedNotCrashed() throws {
        let nested = String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)
        let error = Result { try ChatTemplate(source: "{{ \(nested) }}") }.failureError
        #expect(error?.kind == .unsupported)
        let blocks = String(repeating: "{% if true %}", count: 200) + String(repeating: "{% endif %}", count: 200)
        #expect(Result { try ChatTemplate(source: blocks) }.failureError?.kind == .unsupported)
        let fine = String(repeating: "(", count: 20) + "1" + String(repeating: ")", count: 20)
        #expect(try ChatTemplate(source: "{{ \(fine) }}").render([:]) == "1")
    }
}

extension Result where Failure == any Error {
    var failureError: TemplateError? {
        if case .failure(let error) = self { return error as? TemplateError }
        return nil
    }
}
