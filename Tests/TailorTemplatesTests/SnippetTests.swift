// One-feature templates (whitespace control, expressions, filters, tests, statements, errors) checked against
// jinja2's output for the same source and context, from Fixtures/snippets.json.
import Foundation
import Testing
@testable import TailorTemplates

@Suite struct SnippetTests {
    struct Snippet: Sendable, CustomTestStringConvertible {
        let name: String
        let template: String
        let output: String?
        let errorType: String?
        let errorMessage: String?
        var testDescription: String { name }
    }

    static let file = try! Fixtures.json("snippets.json")

    static var snippets: [Snippet] {
        guard case .dict(let file) = file, case .array(let entries)? = file["snippets"] else { return [] }
        return entries.compactMap { entry in
            guard case .dict(let entry) = entry, let name = entry["name"]?.stringValue,
                  let template = entry["template"]?.stringValue else { return nil }
            var errorType: String?, errorMessage: String?
            if case .dict(let error)? = entry["error"] {
                errorType = error["type"]?.stringValue
                errorMessage = error["message"]?.stringValue
            }
            return Snippet(name: name, template: template, output: entry["output"]?.stringValue,
                           errorType: errorType, errorMessage: errorMessage)
        }
    }

    @Test func snippetsArePresent() {
        #expect(SnippetTests.snippets.count >= 80)
    }

    @Test(arguments: SnippetTests.snippets)
    func rendersLikeJinja2(_ snippet: Snippet) throws {
        guard case .dict(let file) = SnippetTests.file, case .dict(let contextDict)? = file["context"],
              let now = file["now"]?.stringValue else {
            Issue.record("malformed snippets.json")
            return
        }
        var context: [String: TemplateValue] = [:]
        for (key, value) in contextDict { context[key] = value }
        let result = Result {
            try ChatTemplate(source: snippet.template)
                .render(context, now: Fixtures.frozenNow(now), timeZone: TimeZone(identifier: "UTC")!)
        }
        switch result {
        case .success(let actual):
            if let expected = snippet.output {
                #expect(actual == expected, "\(firstDifference(expected, actual))")
            } else {
                Issue.record("jinja2 raised \(snippet.errorType ?? "") \(snippet.errorMessage ?? ""), Tailor rendered \(actual.debugDescription)")
            }
        case .failure(let error):
            guard snippet.output == nil else {
                Issue.record("jinja2 rendered \(snippet.output!.debugDescription), Tailor threw \(error)")
                return
            }
            let templateError = try #require(error as? TemplateError)
            if let kind = expectedKind(snippet.errorType) {
                #expect(templateError.kind == kind, "jinja2 raised \(snippet.errorType!): \(snippet.errorMessage!); Tailor threw \(error)")
            }
            if snippet.errorType != "TemplateSyntaxError" {
                // Runtime messages follow Python's wording, so users see what transformers would have said.
                #expect(templateError.message == snippet.errorMessage)
            }
            #expect(templateError.line > 0, "errors carry a location: \(templateError)")
        }
    }
}
