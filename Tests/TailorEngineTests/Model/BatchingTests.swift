// Decode batches of many sequences — each with its own cache and adapter — give every sequence exactly the logits it
// would get alone, so concurrent requests never change each other's answers.
import Testing
import TailorEngine

@Suite struct BatchingTests {
    static func adapter(_ c: LlamaConfig, seed: UInt64) -> LoRAAdapter {
        let p = LoRAParameters(config: LoRAConfig(rank: 4, alpha: 8), model: c)
        var rng = SeededRandom(seed: seed)
        for i in 0..<p.count { p.values[i] = rng.nextGaussian() * 0.1 }
        return p.snapshot()
    }

    /// Prefills each prompt, then decodes `steps` tokens greedily: once all sequences together, once each alone.
    static func compare(_ model: Transformer) {
        let prompts = [[1, 5, 9, 13, 2], [3, 4], [7, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15]]
        let adapters: [LoRAAdapter?] = [adapter(model.config, seed: 1), nil, adapter(model.config, seed: 2)]
        func run(_ which: [Int]) -> [[Float]] {
            let ctx = InferenceContext(model: model, maxRows: 32)
            let caches = which.map { _ in KVCache(config: model.config, capacity: 32) }
            let V = model.config.vocabSize
            func argmax(_ row: ArraySlice<Float>) -> Int { row.indices.max { row[$0] < row[$1] }! - row.startIndex }
            var last = [Int](repeating: 0, count: which.count)
            var out = [[Float]](repeating: [], count: which.count)
            for (i, s) in which.enumerated() {
                let rows = prompts[s].enumerated().map {
                    ForwardRow(token: $1, position: $0, sequence: i, adapter: adapters[s], wantsLogits: $0 == prompts[s].count - 1)
                }
                last[i] = argmax(Array(ctx.forward(rows, caches: caches))[...])
            }
            for _ in 0..<4 {
                let rows = which.enumerated().map { i, s in
                    ForwardRow(token: last[i], position: caches[i].count, sequence: i, adapter: adapters[s], wantsLogits: true)
                }
                let logits = Array(ctx.forward(rows, caches: caches))
                for i in which.indices {
                    let row = logits[(i * V)..<((i + 1) * V)]
                    out[i] += row
                    last[i] = argmax(row)
                }
            }
            return out
        }
        let together = run([0, 1, 2])
        for s in 0..<3 { #expect(run([s])[0] == together[s], "sequence \(s) differs when batched") }
    }

    @Test(arguments: [GGMLType.q4_1, .q8_0, .q4_0])
    func quantizedModel(type: GGMLType) { Self.compare(TinyModel.quantized(type)) }

    @Test func f32Model() { Self.compare(TinyModel.make(seed: 9)) }
}
