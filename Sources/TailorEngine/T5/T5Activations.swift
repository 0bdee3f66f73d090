// What a T5 training pass keeps for its backward, and the gradient buffers it reuses, laid out once in one
// allocation for a T5PassSize (a batch's pairs packed end to end: S source rows, T target rows): one function (init)
// places every buffer, and floats(...) is that same function run over a counter, so the size and the layout cannot
// disagree. Attention probabilities are kept per pair (block by block), never for the packed rows' full square.

struct T5Activations {
    typealias P = UnsafeMutablePointer<Float>

    /// Hands out consecutive views of one allocation (or, with no base, only counts them).
    struct Carver {
        let base: P?
        private(set) var used = 0
        init(base: P?) { self.base = base }
        mutating func take(_ n: Int) -> P {
            defer { used += n }
            return base.map { $0 + used } ?? Self.nowhere
        }
        /// The views a counting pass hands out; never read or written (so shared without a lock).
        nonisolated(unsafe) private static let nowhere = P.allocate(capacity: 1)
    }

    /// One attention sublayer: Tq query rows over Tk key rows, in per-pair blocks whose areas add up to `scores`.
    struct Attention {
        let rstd: P    // (Tq)
        let h: P       // (Tq, C) normed input
        let q: P       // (Tq, I)
        let k, v: P    // (Tk, I)
        let att: P     // (Tq, I) attention output, o's input
        let probs: P   // per pair (NH, Tq_i, Tk_i), one after another: NH·scores
        let uq: P      // (Tq, r) LoRA's x·Aᵀ of q
        let uk, uv: P  // (Tk, r)
        let uo: P      // (Tq, r)
        init(_ c: T5Config, Tq: Int, Tk: Int, scores: Int, rank r: Int, take: (Int) -> P) {
            rstd = take(Tq); h = take(Tq * c.dim); q = take(Tq * c.inner); k = take(Tk * c.inner); v = take(Tk * c.inner)
            att = take(Tq * c.inner); probs = take(c.heads * scores)
            uq = take(Tq * r); uk = take(Tk * r); uv = take(Tk * r); uo = take(Tq * r)
        }
    }

    /// One feed-forward sublayer of T rows.
    struct FeedForward {
        let rstd: P          // (T)
        let h: P             // (T, C) normed input
        let pre: P           // (T, FF) wi (wi_0) output
        let act: P           // (T, FF) act(pre)
        let lin: P           // (T, FF) wi_1 output (gated only)
        let prod: P          // (T, FF) act ⊙ lin, wo's input (gated only)
        let ui, uiLinear, uo: P  // (T, r)
        init(_ c: T5Config, T: Int, rank r: Int, take: (Int) -> P) {
            let gatedRows = c.gated ? T : 0
            rstd = take(T); h = take(T * c.dim); pre = take(T * c.hiddenDim); act = take(T * c.hiddenDim)
            lin = take(gatedRows * c.hiddenDim); prod = take(gatedRows * c.hiddenDim)
            ui = take(T * r); uiLinear = take(gatedRows * r); uo = take(T * r)
        }
    }

    struct EncoderLayer {
        let attn: Attention
        let xa: P          // (S, C) residual after self-attention
        let ffn: FeedForward
    }

    struct DecoderLayer {
        let attn: Attention
        let xa: P          // (T, C) residual after self-attention
        let cross: Attention
        let xb: P          // (T, C) residual after cross-attention
        let ffn: FeedForward
    }

    let encRes: P      // (Le+1, S, C) residual stream between encoder blocks
    let decRes: P      // (Ld+1, T, C)
    let encoder: [EncoderLayer]
    let decoder: [DecoderLayer]
    let encOut: P      // (S, C) final-normed encoder output, the cross-attention's keys' input
    let encRstd: P     // (S)
    let decOut: P      // (T, C) final-normed decoder output (scaled by C^-½ when the head is tied)
    let decRstd: P     // (T)
    let logits: P      // (T, V), overwritten by ∂loss/∂logits (full fine-tuning; LoRA's head runs by slices)
    let bias: P        // per pair (NH, n_i, n_i): the position bias of the stack running, NH·max(Σ S², Σ T²)
    let dbias: P       // the same, its gradient gathered over the stack's layers (full fine-tuning only, else empty)
    let y: P           // (R, C) a sublayer's output before the residual add, R = max(S, T)
    // Gradients, reused by every layer.
    let dres: P        // (R, C) ∂loss/∂residual
    let dh: P          // (R, C) ∂loss/∂normed input
    let dEnc: P        // (S, C) ∂loss/∂encoder output, gathered over the decoder's cross-attentions
    let dq, dk, dv, datt: P  // (R, I)
    let dprobs: P      // (n, n), n the longest source or target: one pair's block
    let dhidden, dpre, dlin: P  // (R, FF)
    let du: P          // (R, r)
    let dropScratch: P // (R, max(C, I, FF)) LoRA dropout's masked input

    /// `full`: full fine-tuning, which also keeps the (rows, V) logits and the position bias's gradient.
    init(_ c: T5Config, _ size: T5PassSize, rank r: Int, full: Bool, take: (Int) -> P) {
        let C = c.dim, I = c.inner, FF = c.hiddenDim, S = size.sourceRows, T = size.targetRows, R = max(S, T)
        let n = max(size.longestSource, size.longestTarget), biasArea = c.heads * max(size.encoderScores, size.decoderScores)
        encRes = take((c.encoderLayers + 1) * S * C)
        decRes = take((c.decoderLayers + 1) * T * C)
        encoder = (0..<c.encoderLayers).map { _ in
            EncoderLayer(attn: Attention(c, Tq: S, Tk: S, scores: size.encoderScores, rank: r, take: take), xa: take(S * C),
                         ffn: FeedForward(c, T: S, rank: r, take: take))
        }
        decoder = (0..<c.decoderLayers).map { _ in
            DecoderLayer(attn: Attention(c, Tq: T, Tk: T, scores: size.decoderScores, rank: r, take: take), xa: take(T * C),
                         cross: Attention(c, Tq: T, Tk: S, scores: size.crossScores, rank: r, take: take), xb: take(T * C),
                         ffn: FeedForward(c, T: T, rank: r, take: take))
        }
        encOut = take(S * C); encRstd = take(S); decOut = take(T * C); decRstd = take(T)
        logits = take(full ? T * c.vocabSize : 0); bias = take(biasArea); y = take(R * C)
        dbias = take(full ? biasArea : 0)
        dres = take(R * C); dh = take(R * C); dEnc = take(S * C)
        dq = take(R * I); dk = take(R * I); dv = take(R * I); datt = take(R * I); dprobs = take(n * n)
        dhidden = take(R * FF); dpre = take(R * FF); dlin = take(R * FF); du = take(R * r)
        dropScratch = take(R * max(C, I, FF))
    }

    /// Floats of the layout above.
    static func floats(_ c: T5Config, _ size: T5PassSize, rank: Int, full: Bool) -> Int {
        var counter = Carver(base: nil)
        _ = T5Activations(c, size, rank: rank, full: full, take: { counter.take($0) })
        return counter.used
    }
}
