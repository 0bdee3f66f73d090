// Decode batches of many sequences — each with its own cache and adapter — give every sequence exactly the logits it
// would get alone, so concurrent requests never change each other's answers.
import Testing
import TailorEngine

@Suite struct BatchingTests {
    static func adapter(_ c: LlamaConfig, seed: UInt64) -> LoRAAdapter {
        LoRAParameters.randomAdapter(LoRAConfig(rank: 4, alpha: 8), model: c, seed: seed, std: 0.1)
    }

    /// Prefills each prompt, then decodes `steps` tokens greedily: once all sequences together, once each alone.
    static func compare(_ model: Transformer, halfCache: Bool = false) {
        // The last sequence shares the first's adapter with others between them: a decode step groups rows by adapter.
        let prompts = [[1, 5, 9, 13, 2], [3, 4], [7, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15], [6, 2, 11]]
        let first = adapter(model.config, seed: 1)
        let adapters: [LoRAAdapter?] = [first, nil, adapter(model.config, seed: 2), first]
        func run(_ which: [Int]) -> [[Float]] {
            let ctx = InferenceContext(model: model, maxRows: 32)
            let caches = which.map { _ in KVCache(config: model.config, capacity: 32, halfPrecision: halfCache) }
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
        let together = run([0, 1, 2, 3])
        for s in 0..<4 {
            let same = run([s])[0] == together[s]   // outside #expect, which would diff the arrays on failure
            #expect(same, "sequence \(s) differs when batched")
        }
    }

    /// With f32 caches and with the f16 caches serving uses.
    @Test(arguments: [GGMLType.q4_1, .q8_0, .q4_0], [false, true])
    func quantizedModel(type: GGMLType, halfCache: Bool) { Self.compare(TinyModel.quantized(type), halfCache: halfCache) }

    @Test func f32Model() { Self.compare(TinyModel.make(seed: 9)) }

    /// Several prompts prefilled in one forward — one-row, short (the 8-bit product) and long (dequantised) chunks
    /// side by side, with and without adapters — give each prompt the bits it gets alone, then decode alike.
    static func comparePrefill(_ model: Transformer, lengths: [Int], adapters: [LoRAAdapter?], halfCache: Bool = false) {
        let V = model.config.vocabSize
        let prompts = lengths.enumerated().map { p, n in (0..<n).map { ($0 * 7 + p * 13 + 1) % min(V, 500) } }
        func run(_ which: [Int]) -> [[Float]] {
            let ctx = InferenceContext(model: model, maxRows: 256)
            let caches = which.map { KVCache(config: model.config, capacity: prompts[$0].count + 4, halfPrecision: halfCache) }
            var rows: [ForwardRow] = []
            for (i, s) in which.enumerated() {
                rows += prompts[s].enumerated().map {
                    ForwardRow(token: $1, position: $0, sequence: i, adapter: adapters[s], wantsLogits: $0 == prompts[s].count - 1)
                }
            }
            let first = Array(ctx.forward(rows, caches: caches))
            var out = which.indices.map { Array(first[($0 * V)..<(($0 + 1) * V)]) }
            // Two decode steps on the caches the batched prefill wrote.
            for step in 0..<2 {
                let rows = which.enumerated().map { i, s in
                    ForwardRow(token: (s + step) % V, position: caches[i].count, sequence: i, adapter: adapters[s], wantsLogits: true)
                }
                let logits = Array(ctx.forward(rows, caches: caches))
                for i in which.indices { out[i] += logits[(i * V)..<((i + 1) * V)] }
            }
            return out
        }
        let together = run(Array(lengths.indices))
        for s in lengths.indices {
            // Compared outside #expect: a failing #expect on two long arrays spends minutes diffing them.
            let alone = run([s])[0]
            let differing = zip(alone, together[s]).filter { $0 != $1 }.count
            #expect(differing == 0 && alone.count == together[s].count,
                    "prompt \(s) (\(lengths[s]) tokens): \(differing) of \(alone.count) logits differ when prefilled beside the others")
        }
    }

    @Test(arguments: [GGMLType.q4_1, .q8_0])
    func promptsPrefilledTogetherMatchEachAlone(type: GGMLType) {
        let model = TinyModel.quantized(type)
        Self.comparePrefill(model, lengths: [1, 2, 30, 48, 49, 70], adapters: [
            Self.adapter(model.config, seed: 3), nil, Self.adapter(model.config, seed: 3), Self.adapter(model.config, seed: 4), nil,
            Self.adapter(model.config, seed: 4),
        ])
    }

    @Test func f32PromptsPrefilledTogetherMatchEachAlone() {
        let model = TinyModel.make(seed: 9)
        Self.comparePrefill(model, lengths: [1, 5, 40, 60], adapters: [nil, Self.adapter(model.config, seed: 5), nil, Self.adapter(model.config, seed: 5)])
    }

    /// The same on the default model, where the products are large enough for OpenBLAS's threaded kernels, with
    /// f32 caches and with the f16 caches serving uses.
    @Test(arguments: [false, true]) func defaultModelPromptsPrefilledTogetherMatchEachAlone(halfCache: Bool) throws {
        guard let path = try TestModel.path() else { return }
        let model = try LanguageModel(path: path).transformer
        Self.comparePrefill(model, lengths: [3, 44, 47, 90], adapters: [
            nil, Self.adapter(model.config, seed: 6), Self.adapter(model.config, seed: 7), Self.adapter(model.config, seed: 6),
        ], halfCache: halfCache)
    }
}
