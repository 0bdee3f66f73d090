// The default model against llama.cpp and transformers on the same weights (fixtures from
// Tests/reference/model_outputs.py): first-step logits and greedy continuations.
import Foundation
import Testing
import TailorEngine

@Suite(.serialized) struct ReferenceModelTests {
    struct Case {
        let prompt: String
        let promptTokens: [Int]
        let llamaGreedy: [Int]
        let hfGreedy: [Int]
        let llamaTop: [Int], llamaTopLogits: [Double], llamaProbe: [Double]
        let hfTop: [Int], hfTopLogits: [Double], hfProbe: [Double]
    }

    static func cases() throws -> (probeIDs: [Int], cases: [Case]) {
        let j = try Fixtures.json("smollm2_reference.json") as! [String: Any]
        let cases = (j["cases"] as! [[String: Any]]).map { c -> Case in
            let l = c["llamacpp"] as! [String: Any], t = c["transformers"] as! [String: Any]
            return Case(prompt: c["prompt"] as! String, promptTokens: c["prompt_tokens"] as! [Int],
                        llamaGreedy: l["greedy_tokens"] as! [Int], hfGreedy: t["greedy_tokens"] as! [Int],
                        llamaTop: l["top_ids"] as! [Int], llamaTopLogits: l["top_logits"] as! [Double],
                        llamaProbe: l["probe_logits"] as! [Double],
                        hfTop: t["top_ids"] as! [Int], hfTopLogits: t["top_logits"] as! [Double],
                        hfProbe: t["probe_logits"] as! [Double])
        }
        return (j["probe_ids"] as! [Int], cases)
    }

    static let model: Transformer? = {
        guard let path = try? TestModel.path() else { return nil }
        return try? ModelLoader.loadTransformer(path: path)
    }()

    /// Greedy decoding with the engine, stopping at EOS (id 2) like the references.
    static func greedy(_ model: Transformer, prompt: [Int], count: Int, f32: Bool = false) -> (first: [Float], tokens: [Int]) {
        let ctx = InferenceContext(model: model, maxRows: 64)
        if f32 { ctx.quantizedRowsLimit = 0 }
        let cache = KVCache(config: model.config, capacity: prompt.count + count)
        let rows = prompt.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, wantsLogits: $0 == prompt.count - 1) }
        var logits = Array(ctx.forward(rows, caches: [cache]))
        let first = logits
        var out: [Int] = []
        for _ in 0..<count {
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            out.append(next)
            if next == 2 { break }
            logits = Array(ctx.forward([ForwardRow(token: next, position: cache.count, sequence: 0, wantsLogits: true)], caches: [cache]))
        }
        return (first, out)
    }

    @Test func firstStepLogitsMatchTransformersAndLlamaCpp() throws {
        guard try TestModel.path() != nil else { return }
        let model = try #require(Self.model)
        let (probeIDs, cases) = try Self.cases()
        for c in cases {
            let (first, _) = Self.greedy(model, prompt: c.promptTokens, count: 0)
            let (f32, _) = Self.greedy(model, prompt: c.promptTokens, count: 0, f32: true)
            var maxHF = 0.0, maxLlama = 0.0
            for (i, id) in probeIDs.enumerated() {
                maxHF = max(maxHF, abs(Double(f32[id]) - c.hfProbe[i]))
                maxLlama = max(maxLlama, abs(Double(first[id]) - c.llamaProbe[i]))
            }
            for (i, id) in c.hfTop.enumerated() { maxHF = max(maxHF, abs(Double(f32[id]) - c.hfTopLogits[i])) }
            for (i, id) in c.llamaTop.enumerated() { maxLlama = max(maxLlama, abs(Double(first[id]) - c.llamaTopLogits[i])) }
            print("prompt \(c.prompt.prefix(30).debugDescription): max |Δlogit| vs transformers (all-f32 mode) \(maxHF), vs llama.cpp (default mode) \(maxLlama)")
            // All-f32 mode does transformers' arithmetic on the same dequantised weights: only summation order differs
            // (observed ≤ 4e-5 on logits of magnitude ~30).
            #expect(maxHF < 1e-3, "vs transformers: \(maxHF)")
            // The default mode quantises activations to 8 bits for short chunks and decode as llama.cpp does, but
            // llama.cpp also keeps K/V in f16 and rounds q, the attention weights and the activation scales to f16.
            // Measured: the references differ from each other by up to 0.52; we differ from llama.cpp by up to 1.0,
            // on the 5-token prompt where every product is 8-bit (0.29 with f32 prefill and an 8-bit lm_head) — the
            // size of 8-bit rounding through 30 layers, not of a wrong weight or op (those show as > 5).
            #expect(maxLlama < 1.25, "vs llama.cpp: \(maxLlama)")
            // The most likely first token is llama.cpp's, or a near-tie with it (on "def fibonacci" the two
            // references themselves pick different first tokens).
            let top = first.indices.max { first[$0] < first[$1] }!
            #expect(top == c.llamaTop[0] || first[top] - first[c.llamaTop[0]] < 0.5,
                    "the most likely first token \(top) beats llama.cpp's \(c.llamaTop[0]) by \(first[top] - first[c.llamaTop[0]])")
        }
    }

    /// Follows llama.cpp's greedy continuation token by token (teacher forcing) and checks our choice at every
    /// step: the same token, or a near-tie where the logit of llama.cpp's token is within `nearTie` of our top one
    /// (0.5: about how far the two references' own logits lie apart).
    /// Free-running greedy decoding is also compared, for the record and for the prompts without near-ties.
    @Test func greedyMatchesLlamaCpp() throws {
        guard try TestModel.path() != nil else { return }
        let model = try #require(Self.model)
        let nearTie: Float = 0.5
        var steps = 0, exact = 0, longMatches = 0
        for c in try Self.cases().cases {
            let ctx = InferenceContext(model: model, maxRows: 64)
            let cache = KVCache(config: model.config, capacity: c.promptTokens.count + c.llamaGreedy.count + 1)
            let rows = c.promptTokens.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, wantsLogits: $0 == c.promptTokens.count - 1) }
            var logits = Array(ctx.forward(rows, caches: [cache]))
            for (step, expected) in c.llamaGreedy.enumerated() {
                let ours = logits.indices.max { logits[$0] < logits[$1] }!
                steps += 1
                if ours == expected { exact += 1 } else {
                    #expect(logits[ours] - logits[expected] < nearTie,
                            "prompt \(c.prompt.debugDescription) step \(step): we pick \(ours) by \(logits[ours] - logits[expected]) over llama.cpp's \(expected)")
                }
                if expected == 2 { break }
                logits = Array(ctx.forward([ForwardRow(token: expected, position: cache.count, sequence: 0, wantsLogits: true)], caches: [cache]))
            }
            let (_, tokens) = Self.greedy(model, prompt: c.promptTokens, count: c.llamaGreedy.count)
            let agreeLlama = zip(tokens, c.llamaGreedy).prefix { $0 == $1 }.count
            let agreeHF = zip(tokens, c.hfGreedy).prefix { $0 == $1 }.count
            let refsAgree = zip(c.llamaGreedy, c.hfGreedy).prefix { $0 == $1 }.count
            print("prompt \(c.prompt.prefix(30).debugDescription): free-running greedy agrees with llama.cpp for \(agreeLlama), transformers \(agreeHF) (references agree for \(refsAgree))")
            if agreeLlama >= 32 { longMatches += 1 }
        }
        print("teacher-forced: \(exact) of \(steps) steps pick llama.cpp's token; \(longMatches) prompts match for 32+ tokens free-running")
        // Every miss is a near-tie (checked above); measured 278–282 of 288 agree, depending only on summation order.
        // Free-running agreement is printed, not asserted: after the first near-tie the two runs continue different
        // texts, and the references themselves part after 0, 5 and 6 tokens on three of the prompts.
        #expect(Double(exact) >= 0.95 * Double(steps), "only \(exact) of \(steps) steps agree with llama.cpp")
    }
}
