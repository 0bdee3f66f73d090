// A model the server answers with, of one of two kinds: a decoder (Llama family: a LanguageModel and perhaps a LoRA
// adapter applied row by row in the batched forward) or an encoder–decoder (T5 family: a T5Model, a fine-tuned one
// with its adapter merged into the weights). The handlers switch on the kind once; each kind has its own request
// type on the same generation thread (InferenceService) and the same events.
import TailorEngine

/// A served encoder–decoder model: a base as loaded, or a fine-tuned model or checkpoint as its base with the
/// adapter merged in.
public struct ResolvedEncoderDecoder: Sendable {
    public let id: String
    public let kind: ResolvedModel.Kind
    /// The base model's name (the directory's name).
    public let baseName: String
    public let model: T5Model
    public let created: Int
    public let ownedBy: String

    public init(id: String, kind: ResolvedModel.Kind, baseName: String, model: T5Model, created: Int, ownedBy: String) {
        self.id = id; self.kind = kind; self.baseName = baseName; self.model = model; self.created = created; self.ownedBy = ownedBy
    }
}

public enum ServedModel: Sendable {
    case decoder(ResolvedModel)
    case encoderDecoder(ResolvedEncoderDecoder)

    public var id: String {
        switch self {
        case .decoder(let m): m.id
        case .encoderDecoder(let m): m.id
        }
    }

    public var kind: ResolvedModel.Kind {
        switch self {
        case .decoder(let m): m.kind
        case .encoderDecoder(let m): m.kind
        }
    }

    public var created: Int {
        switch self {
        case .decoder(let m): m.created
        case .encoderDecoder(let m): m.created
        }
    }

    public var ownedBy: String {
        switch self {
        case .decoder(let m): m.ownedBy
        case .encoderDecoder(let m): m.ownedBy
        }
    }
}

/// One source for an encoder–decoder model: encoded once, then `n` choices decoded from it.
extension ResolvedEncoderDecoder {
    /// The source text a chat is to an encoder–decoder model, which reads one text and has no chat template: the
    /// system (or developer) messages' contents, then the last message's (the user's), one per line.
    public static func sourceText(system: [String], last: String) -> String { (system + [last]).joined(separator: "\n") }

    /// Without max_tokens an answer may run to this many tokens (relative positions set no context length).
    public static let defaultMaxTokens = 512
}

public struct EncoderDecoderRequest: Sendable {
    public var model: ResolvedEncoderDecoder
    /// Source token ids, EOS included as T5's tokenizer adds it.
    public var source: [Int]
    public var n: Int
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stop: [String]
    public var logprobs: Int?

    public init(model: ResolvedEncoderDecoder, source: [Int], n: Int = 1, maxTokens: Int, sampling: SamplingParameters,
                stop: [String] = [], logprobs: Int? = nil) {
        self.model = model; self.source = source; self.n = n; self.maxTokens = maxTokens; self.sampling = sampling
        self.stop = stop; self.logprobs = logprobs
    }

    /// The memory it reserves: every choice's decoder cache (the source's cross-attention keys and values, and
    /// max tokens + 1, the start token's included, of its own), and once the encoder's position bias and scores,
    /// which grow with the square of the source.
    public var memoryBytes: Int {
        let c = model.model.config, S = source.count
        return n * T5DecoderCache.bytes(c, sourceLength: S, capacity: maxTokens + 1) + 4 * (c.heads + 1) * S * S
    }
}
