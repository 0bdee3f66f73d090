// Constrained decoding as a request carries it: the compiled grammar its output must match (response_format
// json_object or json_schema) and the model's vocabulary as the grammar engine reads it. Vocabularies and compiled
// grammars are built once and cached here; the parse state is per sequence (InferenceService). Not here: turning a
// request's response_format into a schema (TailorAPI).
import Foundation
import TailorEngine
import TailorGrammar

public struct OutputConstraint: Sendable {
    public let grammar: CompiledGrammar
    public let vocabulary: TokenVocabulary
}

public final class GrammarCache: @unchecked Sendable {
    // @unchecked Sendable: both dictionaries are guarded by `lock`; their values are immutable and Sendable.
    private let lock = NSLock()
    private var vocabularies: [String: TokenVocabulary] = [:]
    private var grammars: [String: CompiledGrammar] = [:]
    /// Distinct schemas kept compiled; past it the cache starts over (a client sending a new schema every time gains
    /// nothing from caching, and memory stays bounded).
    static let capacity = 256

    public init() {}

    /// The constraint for `key` (a canonical text of what `compile` builds) on `model`'s vocabulary.
    public func constraint(key: String, model: LanguageModel, compile: () throws -> CompiledGrammar) throws -> OutputConstraint {
        let cached = lock.withLock { grammars[key] }
        let grammar = try cached ?? compile()
        if cached == nil {
            lock.withLock {
                if grammars.count >= Self.capacity { grammars.removeAll(keepingCapacity: true) }
                grammars[key] = grammar
            }
        }
        return OutputConstraint(grammar: grammar, vocabulary: vocabulary(for: model))
    }

    /// Every token's bytes, which ids are control tokens (never text; user-defined tokens are their text, so a
    /// model whose vocabulary has "<tool_call>" may write it as one token) and which end a turn.
    public func vocabulary(for model: LanguageModel) -> TokenVocabulary {
        if let v = lock.withLock({ vocabularies[model.name] }) { return v }
        let t = model.tokenizer
        let v = TokenVocabulary(tokens: (0..<t.vocabularySize).map(t.tokenBytes),
                                special: Set((0..<t.vocabularySize).filter(t.isControl)),
                                endOfGeneration: t.endOfTurnTokens.sorted())
        lock.withLock { vocabularies[model.name] = v }
        return v
    }
}
