// What a choice being generated sends its client, shared by the decoder batch (InferenceService) and the
// encoder–decoder batch: each sampled token's text is released through the choice's TextStream (stop sequences,
// whole UTF-8 characters) with the log-probabilities gathered since the last release, a choice ends once, and the
// request completes when its last choice has.

import TailorEngine

/// A request on the generation thread, as far as its client's events go.
protocol GeneratingRequest: AnyObject {
    var onEvent: @Sendable (InferenceEvent) -> Void { get }
    /// Choices not finished yet.
    var unfinished: Int { get set }
    var completionTokens: Int { get set }
    var promptTokenCount: Int { get }
    /// Of the prompt's tokens, those whose rows came from the prompt cache.
    var cachedPromptTokens: Int { get }
}

/// One choice of such a request.
protocol GeneratingChoice: AnyObject {
    associatedtype Request: GeneratingRequest
    var job: Request { get }
    var choice: Int { get }
    var stream: TextStream { get set }
    var generated: Int { get set }
    var pendingLogprobs: [GeneratedTokenInfo] { get set }
    var done: Bool { get set }
}

extension GeneratingChoice {
    /// Counts a sampled token and releases what of its text became final (`bytes`: nil when the token gives none);
    /// ends the choice at a stop sequence or once it has `maxTokens`.
    func emit(_ bytes: [UInt8]?, maxTokens: Int) {
        generated += 1
        job.completionTokens += 1
        let piece = bytes.map { stream.append($0) } ?? ""
        if !piece.isEmpty || stream.stopped {
            if !piece.isEmpty { job.onEvent(.text(choice: choice, text: piece, logprobs: pendingLogprobs)) }
            pendingLogprobs = []
        }
        if stream.stopped { finish(.stop); return }
        if generated >= maxTokens { finish(.length) }
    }

    /// Ends the choice (once): the text held back for a possible stop sequence, the finish reason, and the
    /// request's usage when this was its last choice.
    func finish(_ reason: FinishReason) {
        guard !done else { return }
        done = true
        let tail = stream.finish()
        if !tail.isEmpty || !pendingLogprobs.isEmpty {
            job.onEvent(.text(choice: choice, text: tail, logprobs: pendingLogprobs))
        }
        job.onEvent(.finished(choice: choice, reason: reason))
        job.unfinished -= 1
        if job.unfinished == 0 {
            job.onEvent(.completed(promptTokens: job.promptTokenCount, completionTokens: job.completionTokens,
                                   cachedTokens: job.cachedPromptTokens))
        }
    }
}
