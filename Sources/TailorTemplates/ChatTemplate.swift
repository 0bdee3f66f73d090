// ChatTemplate: a model's Jinja chat template, parsed once and rendered many times, behaving like Python jinja2 as
// Hugging Face transformers configures it. Not a general Jinja engine: no inheritance, includes or autoescape.
import Foundation

public struct ChatTemplate: Sendable {
    public let source: String
    private let program: Program

    /// Parses `source` (GGUF `tokenizer.chat_template`, or `chat_template` from tokenizer_config.json).
    /// Throws `TemplateError` of kind `.syntax` or `.unsupported` with the line and column.
    public init(source: String) throws {
        self.source = source
        program = try Parser.parse(source)
    }

    /// Renders with `context` as the template's variables. `now` and `timeZone` feed `strftime_now`, which is
    /// local time in transformers. Safe to call from many threads at once: each render has its own state.
    public func render(_ context: [String: TemplateValue], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        try Renderer(clock: now, timeZone: timeZone).render(program, context: context)
    }

    /// Renders a chat conversation with the variables transformers' `apply_chat_template` passes.
    public func render(_ chat: ChatContext, now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        try render(chat.variables, now: now, timeZone: timeZone)
    }
}
