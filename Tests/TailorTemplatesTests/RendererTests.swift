// Rendering behaviour that fixtures cannot show: error locations, the injected clock, recursion limits,
// concurrent renders of one parsed template, and speed.
import Foundation
import Testing
@testable import TailorTemplates

@Suite struct RendererTests {
    @Test func raiseExceptionCarriesMessageAndPlace() throws {
        let template = try ChatTemplate(source: """
            {%- if messages|length == 0 %}
              {{- raise_exception('No messages!') }}
            {%- endif %}
            """)
        let error = Result { try template.render(["messages": []]) }.failureError
        #expect(error?.kind == .raised)
        #expect(error?.message == "No messages!")
        #expect(error?.line == 2 && error?.column == 7, "\(String(describing: error))")
        #expect(error?.description.contains("send messages in the shape this model's template expects") == true)
    }

    @Test func undefinedAttributeErrorIsLocated() throws {
        let template = try ChatTemplate(source: "{{ message.content }}\n{{ missing.attr }}")
        let error = Result { try template.render(["message": ["content": "hi"]]) }.failureError
        #expect(error?.kind == .undefined)
        #expect(error?.message == "'missing' is undefined")
        #expect(error?.line == 2 && error?.column == 11)
    }

    @Test func strftimeNowUsesTheGivenClockAndZone() throws {
        let template = try ChatTemplate(source: "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y %%') }}")
        let instant = Date(timeIntervalSince1970: 1_709_211_909)  // 2024-02-29 13:05:09 UTC
        #expect(try template.render([:], now: instant, timeZone: TimeZone(identifier: "UTC")!)
                == "2024-02-29 13:05:09 Thu Thursday Feb February 060 PM 01 24 %")
        #expect(try template.render([:], now: instant, timeZone: TimeZone(identifier: "Asia/Tokyo")!)
                .hasPrefix("2024-02-29 22:05:09"))
    }

    @Test func runawayMacroRecursionStops() throws {
        let template = try ChatTemplate(source: "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        let error = try #require(Result { try template.render([:]) }.failureError)
        #expect(error.kind == .unsupported)
        #expect(error.message.contains("recursed deeper"))
    }

    @Test func hugeRepetitionIsRefused() throws {
        let error = Result { try ChatTemplate(source: "{{ 'xy' * 100000000000 }}").render([:]) }.failureError
        #expect(error?.kind == .unsupported)
        #expect(try ChatTemplate(source: "{{ 'ab' * 3 }}{{ [0] * 2 }}").render([:]) == "ababab[0, 0]")
    }

    @Test func concurrentRendersOfOneTemplateAgree() async throws {
        let template = try ChatTemplate(source: """
            {%- set ns = namespace(n=0) %}
            {%- for m in messages %}{% set ns.n = ns.n + 1 %}<{{ m.role }}:{{ m.content|trim }}>{% endfor %}
            {{- ns.n }}
            """)
        func context(_ i: Int) -> [String: TemplateValue] {
            ["messages": .array((0..<i % 7 + 1).map { ["role": "user", "content": .string(" turn \($0) ")] })]
        }
        let expected = try (0..<64).map { try template.render(context($0)) }
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<64 { group.addTask { (i, try template.render(context(i))) } }
            var results: [Int: String] = [:]
            for try await (i, text) in group { results[i] = text }
            return results
        }
        for i in 0..<64 { #expect(results[i] == expected[i]) }
        #expect(expected[2] == "<user:turn 0><user:turn 1><user:turn 2>3")
    }

    /// A 20-message conversation through Llama 3.1's real template. The bound is loose because tests build in
    /// debug on a shared machine; release numbers are measured separately and are far lower.
    @Test func twentyMessagesRenderQuickly() throws {
        guard case .dict(let fixture) = try Fixtures.json("templates/meta-llama-Llama-3.1-8B-Instruct.json"),
              let source = fixture["template"]?.stringValue else {
            Issue.record("missing Llama 3.1 fixture")
            return
        }
        let template = try ChatTemplate(source: source)
        var messages: [ChatMessage] = [.system("You are a concise assistant.")]
        for i in 0..<19 { messages.append(i % 2 == 0 ? .user("Question \(i)?") : .assistant("Answer \(i).")) }
        let chat = ChatContext(messages: messages, bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>")
        _ = try template.render(chat)
        let rounds = 50
        let start = ContinuousClock.now
        for _ in 0..<rounds { _ = try template.render(chat) }
        let each = (ContinuousClock.now - start) / rounds
        #expect(each < .milliseconds(20), "one render took \(each)")
    }
}
