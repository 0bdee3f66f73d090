// Rendering a template that defines a macro frees the render's scopes (found with LeakSanitizer under
// Fuzz/FuzzTemplates: a macro holds its defining scope and that scope holds the macro, so every such render leaked
// its scopes and, through them, the whole context — every chat request's messages, for 31 of the 71 fixture families).
import Foundation
import Testing
@testable import TailorTemplates

@Suite struct MacroLeakTests {
    @Test func rendersWithAMacroFreeEveryScopeTheyMade() throws {
        let template = try ChatTemplate(source: "{% macro show(m) %}{{ m.content | length }}{% endmacro %}{% for m in messages %}{{ show(m) }}{% endfor %}")
        let before = Scope.liveOnThisThread
        for i in 0..<50 {
            _ = try template.render(ChatContext(messages: [.user("message \(i)")]))
        }
        // Counted per thread, so renders on other threads (tests run in parallel) cannot blur it, as resident memory
        // did. Leaking, every render would keep its scopes and, through them, the messages.
        #expect(Scope.liveOnThisThread == before, "\(Scope.liveOnThisThread - before) scopes outlived their renders")
    }

    @Test func rendersWithoutAMacroFreeThemToo() throws {
        let template = try ChatTemplate(source: "{% for m in messages %}{{ m.content }}{% endfor %}")
        let before = Scope.liveOnThisThread
        _ = try template.render(ChatContext(messages: [.user("hi")]))
        #expect(Scope.liveOnThisThread == before)
    }
}
