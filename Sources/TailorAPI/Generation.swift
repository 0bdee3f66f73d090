// One generation a handler submits, for either kind of served model: the response and streaming code of
// /v1/completions and /v1/chat/completions is written once against it, and only building the request knows the kind.
import Foundation
import TailorEngine
import TailorJobs
import TailorTemplates

enum Generation: Sendable {
    case decoder(InferenceRequest)
    case encoderDecoder(EncoderDecoderRequest)

    var n: Int {
        switch self {
        case .decoder(let r): r.n
        case .encoderDecoder(let r): r.n
        }
    }

    func submit(_ inference: InferenceService, onEvent: @escaping @Sendable (InferenceEvent) -> Void) -> InferenceHandle {
        switch self {
        case .decoder(let r): inference.submit(r, onEvent: onEvent)
        case .encoderDecoder(let r): inference.submit(r, onEvent: onEvent)
        }
    }

    /// Refuses a request whose caches alone would exceed what the server gives generation, naming the figures.
    func checkMemory(_ inference: InferenceService, param: String) throws {
        let (bytes, tokens): (Int, Int)
        switch self {
        case .decoder(let r): (bytes, tokens) = (r.memoryBytes, r.prompt.count + r.maxTokens)
        case .encoderDecoder(let r): (bytes, tokens) = (r.memoryBytes, r.source.count + r.maxTokens)
        }
        guard bytes > inference.memoryBudget else { return }
        throw APIError.invalid(param, "This request would hold \(bytes >> 20) MB of attention cache (\(n) choice(s) × \(tokens) tokens of prompt and max_tokens), more than the \(inference.memoryBudget >> 20) MB this server gives generation. Lower 'n' or 'max_tokens'.", code: "request_too_large")
    }
}

extension ResolvedEncoderDecoder {
    /// An encoder–decoder reads text only and has no chat template or grammar-constrained decoding: these are
    /// refused with the parameter that asked for them.
    static func refuseUnsupported(_ body: RequestBody, id: String) throws {
        for param in ["tools", "functions"] where body.raw(param).map({ !($0 is NSNull) }) == true {
            throw APIError.invalid(param, "\(id) is an encoder-decoder (T5) model: it has no chat template to call tools with. Send plain messages, or use a decoder model.", code: "unsupported_parameter")
        }
        if let format = try body.object("response_format"), try format.requiredString("type") != "text" {
            throw APIError.invalid("response_format", "\(id) is an encoder-decoder (T5) model: structured outputs (json_object, json_schema) are not supported for it; use 'text' or a decoder model.", code: "unsupported_parameter")
        }
    }
}

extension ResolvedEncoderDecoder {
    /// The source text a chat is to an encoder–decoder model, which reads one text and has no chat template: the
    /// system (or developer) messages' contents, then the last message's, which must be the user's, one per line.
    /// Earlier user and assistant turns are not read; a history with tool calls is refused.
    static func source(_ messages: [ChatMessage]) throws -> String {
        for (i, m) in messages.enumerated() where m.role == "tool" || !m.toolCalls.isEmpty {
            throw APIError.invalid("messages[\(i)]", "An encoder-decoder (T5) model reads plain text; messages with tool calls or tool results are not supported.", code: "unsupported_parameter")
        }
        guard let last = messages.last, last.role == "user" else {
            throw APIError.invalid("messages[\(messages.count - 1)].role", "An encoder-decoder (T5) model answers the last message, which must be a user message: its source text is the system messages then that message.", code: "invalid_messages")
        }
        func text(_ m: ChatMessage) -> String {
            if case .string(let s) = m.content { return s }
            return ""
        }
        return sourceText(system: messages.dropLast().filter { $0.role == "system" }.map(text), last: text(last))
    }
}
