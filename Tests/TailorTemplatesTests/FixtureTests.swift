// Real chat templates rendered by TailorTemplates against Python jinja2's output for the same conversations
// (fixtures from Tests/reference/templates/make_fixtures.py). Exact string equality, errors included.
import Foundation
import Testing
@testable import TailorTemplates

struct Fixtures {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func json(_ relativePath: String) throws -> TemplateValue {
        try TemplateValue(json: String(contentsOf: directory.appendingPathComponent(relativePath), encoding: .utf8))
    }

    static var templateNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("templates").path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// The frozen clock the fixtures were rendered with, read as UTC wall-clock time.
    static func frozenNow(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.date(from: text)!
    }
}

/// The TemplateError kind Tailor should raise where Python raised `pythonType`; nil when any failure will do.
func expectedKind(_ pythonType: String?) -> TemplateError.Kind? {
    switch pythonType {
    case "TemplateError": return .raised
    case "UndefinedError": return .undefined
    case "SecurityError": return .security
    case "TypeError", "ZeroDivisionError", "ValueError": return .type
    case "TemplateSyntaxError": return .syntax
    default: return nil
    }
}

/// Where two strings first differ, with some context on both sides, for a readable failure.
func firstDifference(_ expected: String, _ actual: String) -> String {
    let e = Array(expected.unicodeScalars), a = Array(actual.unicodeScalars)
    var index = 0
    while index < min(e.count, a.count) && e[index] == a[index] { index += 1 }
    func window(_ scalars: [Unicode.Scalar]) -> String {
        let start = max(0, index - 80), end = min(scalars.count, index + 80)
        return String(String.UnicodeScalarView(scalars[start..<end])).debugDescription
    }
    return "first difference at scalar \(index) (expected length \(e.count), got \(a.count))\n"
        + "  expected: …\(window(e))…\n  actual:   …\(window(a))…"
}

@Suite struct FixtureTests {
    static let shared = try! Fixtures.json("conversations.json")

    @Test func fixturesArePresent() {
        #expect(Fixtures.templateNames.count >= 60)
        for family in ["HuggingFaceTB-SmolLM2-135M-Instruct", "meta-llama-Llama-3.1-8B-Instruct",
                       "mistralai-Mistral-Nemo-Instruct-2407", "Qwen-Qwen2.5-7B-Instruct", "google-gemma-2-2b-it"] {
            #expect(Fixtures.templateNames.contains(family), "missing fixture for \(family)")
        }
    }

    @Test(arguments: Fixtures.templateNames)
    func rendersLikeJinja2(_ name: String) throws {
        guard case .dict(let fixture) = try Fixtures.json("templates/\(name).json"),
              case .dict(let shared) = FixtureTests.shared,
              case .dict(let conversations)? = shared["conversations"],
              case .string(let now)? = shared["now"],
              case .string(let source)? = fixture["template"],
              case .dict(let cases)? = fixture["cases"] else {
            Issue.record("malformed fixture \(name)")
            return
        }
        let template = try ChatTemplate(source: source)
        let clock = Fixtures.frozenNow(now)
        for (caseName, result) in cases {
            guard case .dict(let conversation)? = conversations[caseName], case .dict(let result) = result else {
                Issue.record("\(name)/\(caseName): no conversation")
                continue
            }
            var context: [String: TemplateValue] = [:]
            for (key, value) in conversation { context[key] = value }
            context["bos_token"] = fixture["bos_token"]
            context["eos_token"] = fixture["eos_token"]
            let rendered = Result { try template.render(context, now: clock, timeZone: TimeZone(identifier: "UTC")!) }
            switch (rendered, result["output"], result["error"]) {
            case (.success(let actual), .string(let expected)?, _):
                #expect(actual == expected, "\(name)/\(caseName): \(firstDifference(expected, actual))")
            case (.failure(let error), .string?, _):
                Issue.record("\(name)/\(caseName): jinja2 rendered it, Tailor threw \(error)")
            case (.success(let actual), _, .dict(let expected)?):
                Issue.record("\(name)/\(caseName): jinja2 raised \(expected), Tailor rendered \(actual.prefix(200).debugDescription)")
            case (.failure(let error), _, .dict(let expected)?):
                // Same kind of failure, and the same words: users see what transformers would have told them.
                let templateError = error as? TemplateError
                if let kind = expectedKind(expected["type"]?.stringValue) {
                    #expect(templateError?.kind == kind, "\(name)/\(caseName): jinja2 raised \(expected), Tailor threw \(error)")
                }
                #expect(templateError?.message == expected["message"]?.stringValue, "\(name)/\(caseName)")
            default:
                Issue.record("\(name)/\(caseName): malformed case")
            }
        }
    }
}
