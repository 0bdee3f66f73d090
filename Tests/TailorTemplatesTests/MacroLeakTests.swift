// Rendering a template that defines a macro frees the render's scopes (found with LeakSanitizer under
// Fuzz/FuzzTemplates: a macro holds its defining scope and that scope holds the macro, so every such render leaked
// its scopes and, through them, the whole context — every chat request's messages, for 31 of the 71 fixture families).
import Foundation
import Testing
import TailorTemplates

@Suite struct MacroLeakTests {
    /// Resident memory in bytes, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    @Test func rendersWithAMacroDoNotKeepTheirContext() throws {
        let template = try ChatTemplate(source: "{% macro show(m) %}{{ m.content | length }}{% endmacro %}{% for m in messages %}{{ show(m) }}{% endfor %}")
        func render(_ i: Int) throws {
            // A fresh 256 KB string each time: if the render's scopes leak, each one stays in memory.
            let content = String(repeating: "x", count: 256 * 1024) + String(i)
            _ = try template.render(ChatContext(messages: [.user(content)]))
        }
        try render(0)
        let before = Self.residentBytes()
        for i in 1...400 { try render(i) }
        let grown = Self.residentBytes() - before
        // Leaking would keep 400 × 256 KB = 100 MB.
        #expect(grown < 40 << 20, "resident memory grew by \(grown >> 20) MB over 400 renders")
    }
}
