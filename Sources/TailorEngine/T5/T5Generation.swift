// Generation with a T5 model: encode the source once, then decode from decoder_start_token_id one token at a
// time over the decoder cache, greedy or sampled through the shared Sampler chain, until EOS or the token limit.

public struct T5GenerationResult: Sendable {
    /// The generated tokens, without the start token and without the EOS that ended them.
    public var tokens: [Int]
    public var text: String
    public var finishReason: FinishReason
}

extension T5Model {
    public func generate(source: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy) -> T5GenerationResult {
        precondition(maxTokens >= 0, "maxTokens is negative")
        let cache = T5DecoderCache(model: self, encoderStates: encode(source), capacity: maxTokens + 1)
        var sampler = Sampler(sampling)
        var tokens: [Int] = []
        var finish = FinishReason.length
        var next = config.decoderStartToken
        while tokens.count < maxTokens {
            let logits = decode([next], cache: cache)
            next = logits.withUnsafeBufferPointer { sampler.sample($0) }
            if next == config.eos { finish = .stop; break }
            tokens.append(next)
        }
        return T5GenerationResult(tokens: tokens, text: tokenizer.decode(tokens, skipSpecial: true), finishReason: finish)
    }

    /// Generates from a source text, tokenized with EOS as T5's tokenizers add it.
    public func generate(_ source: String, maxTokens: Int, sampling: SamplingParameters = .greedy) -> T5GenerationResult {
        generate(source: tokenizer.encode(source, addSpecial: true), maxTokens: maxTokens, sampling: sampling)
    }
}
