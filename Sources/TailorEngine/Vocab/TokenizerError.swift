// Why a vocabulary could not be loaded. Each case names the file and ends with what to do about it.
// Encoding and decoding never fail: every string has a tokenization and every id list a text.

public enum TokenizerError: Error, CustomStringConvertible, Sendable {
    case unsupportedModel(source: String, model: String)
    case unsupportedPreTokenizer(source: String, name: String)
    case missing(source: String, what: String)
    case badFormat(source: String, detail: String)
    /// A tokenizer Tailor reads but cannot write in the form asked for.
    case cannotWrite(source: String, detail: String)

    public var description: String {
        switch self {
        case let .unsupportedModel(source, model):
            return "\(source) uses a '\(model)' tokenizer; Tailor reads byte-level BPE ('gpt2') and SentencePiece ('llama') "
                + "vocabularies: pick a model whose tokenizer is one of those"
        case let .unsupportedPreTokenizer(source, name):
            return "\(source) splits words with the pre-tokenizer \(name), which Tailor does not implement "
                + "(it has: \(PreTokenizer.supportedNames.joined(separator: ", ")), and Split/Digits/ByteLevel sequences of "
                + "those patterns in tokenizer.json); pick a model with one of these, or add the matcher to WordSplitter.swift"
        case let .missing(source, what):
            return "\(source) has no \(what); the tokenizer files are incomplete: fetch them again from the model's repository"
        case let .badFormat(source, detail):
            return "\(source) is not a tokenizer Tailor can read: \(detail); re-export it with a current converter"
        case let .cannotWrite(source, detail):
            return "\(source): \(detail)"
        }
    }
}
