// Qwen 3 and Gemma 3 against transformers, PEFT and llama.cpp on tiny random checkpoints (Fixtures/tiny_<family>,
// made by Tests/reference/tiny_families.py): the same weights from a Hugging Face directory and from GGUF, logits of
// every prompt position, greedy continuations through the KV cache (Gemma's 4-token sliding window is shorter than
// every prompt), tokenization, and LoRA training — gradients of one batch and the losses of five AdamW steps.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct FamilyReferenceTests {
    struct Case { let prompt: String; let tokens: [Int]; let logits: [[Double]]; let llamaLogits: [[Double]]
                  let greedy: [Int]; let greedyText: String }

    static func reference(_ family: String) throws -> (cases: [Case], training: [String: Any]) {
        let j = try #require(try Fixtures.json("tiny_\(family)/reference.json") as? [String: Any])
        let cases = (j["cases"] as! [[String: Any]]).map { c in
            Case(prompt: c["prompt"] as! String, tokens: c["prompt_tokens"] as! [Int], logits: c["logits"] as! [[Double]],
                 llamaLogits: c["llamacpp_logits"] as! [[Double]], greedy: c["greedy_tokens"] as! [Int],
                 greedyText: c["greedy_text"] as! String)
        }
        return (cases, j["training"] as! [String: Any])
    }

    static func hfPath(_ family: String) -> String { Fixtures.url("tiny_\(family)/hf").path }
    static func ggufPath(_ family: String) -> String { Fixtures.url("tiny_\(family)/model.gguf").path }

    /// Logits of every prompt position in one prefill.
    static func prefill(_ model: Transformer, _ tokens: [Int], adapter: LoRAAdapter? = nil) -> [[Float]] {
        let ctx = InferenceContext(model: model, maxRows: 64)
        ctx.quantizedRowsLimit = 0
        let cache = KVCache(config: model.config, capacity: tokens.count)
        let rows = tokens.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, adapter: adapter, wantsLogits: true) }
        let flat = Array(ctx.forward(rows, caches: [cache]))
        let V = model.config.vocabSize
        return (0..<tokens.count).map { Array(flat[($0 * V)..<(($0 + 1) * V)]) }
    }

    static func maxDiff(_ a: [[Float]], _ b: [[Double]]) -> Double {
        zip(a, b).map { zip($0, $1).map { abs(Double($0) - $1) }.max()! }.max()!
    }

    @Test(arguments: ["qwen3", "gemma3"])
    func configurationIsRead(family: String) throws {
        let hf = try ModelLoader.loadTransformer(path: Self.hfPath(family)).config
        let gguf = try ModelLoader.loadTransformer(path: Self.ggufPath(family)).config
        for c in [hf, gguf] {
            #expect(c.architecture == family)
            #expect(c.qkNorm && c.headDim == 16 && c.qDim == 64 && c.dim == 32)
            #expect(c.postNorms == (family == "gemma3"))
        }
        if family == "gemma3" {
            #expect(hf.slidingLayers == [true, true, true, true, true, false] && hf.slidingLayers == gguf.slidingLayers)
            #expect(hf.slidingWindow == 4 && gguf.slidingWindow == 4)
            #expect(hf.activation == .geluTanh && gguf.activation == .geluTanh && hf.tiedEmbeddings)
            #expect(hf.attentionScale == 1 / Float(8).squareRoot(), "query_pre_attn_scalar 8")
            #expect(gguf.attentionScale == 1 / Float(16).squareRoot(), "llama.cpp's gemma3 graph: 1/sqrt(head_dim)")
            #expect(abs(hf.embeddingScale - Float(32).squareRoot()) < 1e-6)
            // GGUF norms carry the 1 llama.cpp's converter added; the HF weights get it on loading: the same multipliers.
            let a = try ModelLoader.loadTransformer(path: Self.hfPath(family)).weights
            let b = try ModelLoader.loadTransformer(path: Self.ggufPath(family)).weights
            #expect(a.layers[2].postFfnNorm == b.layers[2].postFfnNorm && a.layers[0].qNorm == b.layers[0].qNorm)
            #expect(a.outputNorm == b.outputNorm && a.layers[5].ffnNorm == b.layers[5].ffnNorm)
        } else {
            #expect(!hf.tiedEmbeddings && hf.slidingLayers == nil && hf.activation == .silu)
        }
    }

    @Test(arguments: ["qwen3", "gemma3"])
    func logitsMatchTransformers(family: String) throws {
        let model = try ModelLoader.loadTransformer(path: Self.hfPath(family))
        for c in try Self.reference(family).cases {
            let d = Self.maxDiff(Self.prefill(model, c.tokens), c.logits)
            print("\(family) \(c.prompt.prefix(20).debugDescription) (\(c.tokens.count) tokens): max |Δlogit| vs transformers \(d)")
            // f32 on both sides; the fixture rounds to 1e-5 and logits reach ~17: measured ≤ 3e-5.
            #expect(d < 2e-4, "\(family): \(d)")
        }
    }

    @Test(arguments: ["qwen3", "gemma3"])
    func ggufLogitsMatchLlamaCpp(family: String) throws {
        let model = try ModelLoader.loadTransformer(path: Self.ggufPath(family))
        for c in try Self.reference(family).cases {
            let d = Self.maxDiff(Self.prefill(model, c.tokens), c.llamaLogits)
            print("\(family) GGUF \(c.prompt.prefix(20).debugDescription): max |Δlogit| vs llama.cpp \(d)")
            // Qwen 3: f32 everywhere, measured ~1e-5. Gemma 3: ggml's GELU reads an f16 table; transformers and
            // llama.cpp themselves differ by 4e-3 on this model with equal query scales.
            #expect(d < (family == "qwen3" ? 2e-4 : 2e-2), "\(family): \(d)")
        }
    }

    /// Greedy decoding token by token through the KV cache (decode steps, Gemma's windowed decode attention).
    @Test(arguments: ["qwen3", "gemma3"])
    func greedyMatchesTransformers(family: String) throws {
        let lm = try LanguageModel(path: Self.hfPath(family))
        let model = lm.transformer
        for c in try Self.reference(family).cases {
            #expect(lm.tokenizer.encode(c.prompt, addSpecial: false, parseSpecial: false) == c.tokens)
            let ctx = InferenceContext(model: model, maxRows: 64)
            ctx.quantizedRowsLimit = 0
            let cache = KVCache(config: model.config, capacity: c.tokens.count + c.greedy.count)
            let rows = c.tokens.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, wantsLogits: $0 == c.tokens.count - 1) }
            var logits = Array(ctx.forward(rows, caches: [cache]))
            var out: [Int] = []
            for _ in c.greedy {
                let next = logits.indices.max { logits[$0] < logits[$1] }!
                out.append(next)
                logits = Array(ctx.forward([ForwardRow(token: next, position: cache.count, sequence: 0, wantsLogits: true)], caches: [cache]))
            }
            #expect(out == c.greedy, "\(family) \(c.prompt.debugDescription)")
            #expect(lm.tokenizer.decode(out) == c.greedyText)
        }
    }

    /// Step-by-step decoding gives every position's prefill logits (the sliding window is applied alike in both).
    @Test(arguments: ["qwen3", "gemma3"])
    func decodeStepsMatchPrefill(family: String) throws {
        let model = try ModelLoader.loadTransformer(path: Self.hfPath(family))
        let c = try Self.reference(family).cases[1]
        let ctx = InferenceContext(model: model, maxRows: 64)
        ctx.quantizedRowsLimit = 0
        let cache = KVCache(config: model.config, capacity: c.tokens.count)
        var steps: [[Float]] = []
        for (p, t) in c.tokens.enumerated() {
            steps.append(Array(ctx.forward([ForwardRow(token: t, position: p, sequence: 0, wantsLogits: true)], caches: [cache])))
        }
        let d = Self.maxDiff(steps, c.logits)
        #expect(d < 2e-4, "\(family) decode vs transformers: \(d)")
    }

    static func trainingBatch(_ training: [String: Any]) -> PackedBatch {
        var b = PackedBatch()
        for e in training["examples"] as! [[String: [Int]]] {
            let p = e["prompt"]!, c = e["completion"]!
            b.append(tokens: p + c, lossMask: [Bool](repeating: false, count: p.count) + [Bool](repeating: true, count: c.count))
        }
        return b
    }

    @Test(arguments: ["qwen3", "gemma3"])
    func loraTrainingMatchesPEFT(family: String) throws {
        let training = try Self.reference(family).training
        let model = try ModelLoader.loadTransformer(path: Self.hfPath(family))
        let adapter = try PEFTAdapter.read(directory: Fixtures.url("tiny_\(family)/adapter").path, config: model.config)
        #expect(adapter.targets.count == 7)
        let lora = LoRAParameters(config: LoRAConfig(rank: adapter.rank, alpha: adapter.alpha, dropout: 0, targets: adapter.targets),
                                  model: model.config)
        try lora.load(adapter)
        let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 64, checkpointing: false)
        let batch = Self.trainingBatch(training)
        lora.zeroGrad()
        let r = try #require(tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0))
        let firstLoss = training["first_loss"] as! Double
        #expect(abs(r.lossSum / Double(r.tokens) - firstLoss) < 1e-4, "loss \(r.lossSum / Double(r.tokens)) vs PEFT \(firstLoss)")
        var checked = 0, worst = 0.0
        for (name, g) in training["grads"] as! [String: [Double]] {
            // model.layers.3.self_attn.q_proj.lora_A
            let parts = name.split(separator: ".")
            let target = try #require(LoRATarget(moduleName: String(parts[4])))
            let slot = try #require(lora.slot(layer: Int(parts[2])!, target: target))
            let isA = parts[5] == "lora_A"
            let mine = UnsafeBufferPointer(start: lora.grads + (isA ? slot.aOffset : slot.bOffset), count: g.count)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let err = zip(mine, g).map { abs(Double($0) - $1) }.max()!
            worst = max(worst, err / norm)
            // f32 on both sides: measured ≤ 1e-5 of each tensor's norm.
            #expect(err <= 1e-4 * norm + 1e-7, "\(family) \(name): max |Δ| \(err), |g| \(norm)")
            checked += 1
        }
        print("\(family): \(checked) LoRA gradient tensors, worst max |Δ| / |g| = \(worst)")
        #expect(checked == 2 * 7 * model.config.layers)

        var adam = AdamWConfig()
        adam.clipNorm = 0
        let lr = Float(training["learning_rate"] as! Double)
        for (i, expected) in (training["step_losses"] as! [Double]).enumerated() {
            lora.zeroGrad()
            let s = try #require(tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0))
            let loss = s.lossSum / Double(s.tokens)
            #expect(abs(loss - expected) < 1e-4 * max(1, expected), "\(family) step \(i + 1): loss \(loss) vs PEFT \(expected)")
            AdamW.step(lora, lr: lr, t: i + 1, config: adam)
        }
    }

    /// The whole training backward (q/k norms, post-norms, GeGLU, windowed attention) against finite differences.
    @Test(arguments: ["qwen3", "gemma3"])
    func loraGradientsMatchFiniteDifferences(family: String) throws {
        let training = try Self.reference(family).training
        let model = try ModelLoader.loadTransformer(path: Self.hfPath(family))
        let adapter = try PEFTAdapter.read(directory: Fixtures.url("tiny_\(family)/adapter").path, config: model.config)
        let lora = LoRAParameters(config: LoRAConfig(rank: adapter.rank, alpha: adapter.alpha, dropout: 0, targets: adapter.targets),
                                  model: model.config)
        try lora.load(adapter)
        for checkpointing in [false, true] {
            let tm = TrainingModel(base: FrozenBase(model), lora: lora, maxTokens: 64, checkpointing: checkpointing)
            let batch = Self.trainingBatch(training)
            lora.zeroGrad()
            _ = tm.forwardBackward(batch, gradScale: 1, dropoutSeed: 0)
            let analytic = Array(UnsafeBufferPointer(start: lora.grads, count: lora.count))
            func loss(_ values: [Float]) -> Double {
                lora.values.update(from: values, count: values.count)
                return tm.evaluate(batch).lossSum
            }
            var values = Array(UnsafeBufferPointer(start: lora.values, count: lora.count))
            var indices: [Int] = []
            for s in lora.slots { indices += [s.aOffset + 1, s.aOffset + 7, s.bOffset, s.bOffset + 5] }
            GradientCheck.check("\(family) lora (checkpointing \(checkpointing))", values: &values, analytic: analytic,
                                indices: indices, eps: 1e-2, rtol: 3e-2, atol: 2e-3, loss: loss)
            lora.values.update(from: values, count: values.count)
        }
    }

    /// Merged exports (W + s·B·A with every norm, in each format's convention) load back as the adapted model.
    @Test(arguments: ["qwen3", "gemma3"])
    func mergedExportsReloadAsTheAdaptedModel(family: String) throws {
        let tokens = try Self.reference(family).cases[1].tokens
        let lm = try LanguageModel(path: Self.hfPath(family))
        let adapter = try PEFTAdapter.read(directory: Fixtures.url("tiny_\(family)/adapter").path, config: lm.transformer.config)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-merged-\(family)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let expected = Self.prefill(lm.transformer, tokens, adapter: adapter)
        let base = Self.prefill(lm.transformer, tokens)
        try AdapterExport.mergedSafetensors(model: lm.transformer, adapter: adapter, dtype: .f32)
            .write(to: dir.appendingPathComponent("model.safetensors"))
        try AdapterExport.huggingFaceConfig(lm.transformer.config, tokenizer: lm.tokenizer).write(to: dir.appendingPathComponent("config.json"))
        let reloaded = try ModelLoader.loadTransformer(path: dir.path)
        #expect(reloaded.config == lm.transformer.config)
        let d = Self.maxDiff(Self.prefill(reloaded, tokens), expected.map { $0.map(Double.init) })
        #expect(d < 1e-4, "\(family) merged safetensors: \(d)")
        #expect(Self.maxDiff(base, expected.map { $0.map(Double.init) }) > 0.01, "the adapter changes the logits")

        let ggufModel = try ModelLoader.loadTransformer(path: Self.ggufPath(family))
        let ggufExpected = Self.prefill(ggufModel, tokens, adapter: adapter)
        let merged = AdapterExport.mergedGGUF(source: try GGUFFile(path: Self.ggufPath(family)), model: ggufModel, adapter: adapter, type: .f32)
        let file = dir.appendingPathComponent("merged.gguf")
        try merged.write(to: file)
        let g = Self.maxDiff(Self.prefill(try ModelLoader.loadTransformer(path: file.path), tokens), ggufExpected.map { $0.map(Double.init) })
        #expect(g < 1e-4, "\(family) merged GGUF: \(g)")
    }

    /// An architecture Tailor does not run is refused by name, with the list of those it does.
    @Test func unknownArchitecturesNameTheSupportedOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-arch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try JSONSerialization.data(withJSONObject: ["model_type": "phi3", "hidden_size": 32, "num_attention_heads": 4])
            .write(to: dir.appendingPathComponent("config.json"))
        var w = GGUFWriter()
        w.set("general.architecture", .string("mamba"))
        try w.serialized().write(to: dir.appendingPathComponent("m.gguf"))
        for (path, arch) in [(dir.path, "phi3"), (dir.appendingPathComponent("m.gguf").path, "mamba")] {
            do {
                _ = try ModelLoader.loadTransformer(path: path)
                Issue.record("\(arch) loaded")
            } catch {
                let text = "\(error)"
                #expect(text.contains(arch) && text.contains("gemma3, llama, mistral, qwen2, qwen3, smollm"), "\(text)")
            }
        }
    }

    /// Gemma 3 settings that would make the attention meaningless are refused when the model loads.
    @Test(arguments: [("sliding_window", 0), ("query_pre_attn_scalar", -4)])
    func badGemmaSettingsAreRefused(key: String, value: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-gemma-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.url("tiny_gemma3/hf"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        #expect { _ = try ModelLoader.loadTransformer(path: dir.path) } throws: { "\($0)".contains(key) }
    }

    /// Decode steps of two sequences in one batch, with an adapter on one of them, give each sequence's logits as
    /// when it runs alone (the window cut at each row's own position).
    @Test(arguments: ["qwen3", "gemma3"])
    func batchedDecodeStepsMatchSingleOnes(family: String) throws {
        let cases = try Self.reference(family).cases
        let model = try ModelLoader.loadTransformer(path: Self.hfPath(family))
        let adapter = try PEFTAdapter.read(directory: Fixtures.url("tiny_\(family)/adapter").path, config: model.config)
        let prompts = [cases[0].tokens, cases[1].tokens], adapters: [LoRAAdapter?] = [nil, adapter]
        func run(_ which: [Int]) -> [[Float]] {
            let ctx = InferenceContext(model: model, maxRows: 64)
            let caches = which.map { KVCache(config: model.config, capacity: prompts[$0].count + 6) }
            for (s, p) in which.enumerated() {
                let rows = prompts[p].enumerated().map { ForwardRow(token: $1, position: $0, sequence: s, adapter: adapters[p], wantsLogits: false) }
                _ = ctx.forward(rows, caches: caches)
            }
            var out: [[Float]] = []
            for step in 0..<6 {
                let rows = which.enumerated().map { s, p in
                    ForwardRow(token: (step * 7 + p * 13) % model.config.vocabSize, position: caches[s].count, sequence: s,
                               adapter: adapters[p], wantsLogits: true)
                }
                out.append(Array(ctx.forward(rows, caches: caches)))
            }
            return out
        }
        let together = run([0, 1]), first = run([0]), second = run([1])
        let V = model.config.vocabSize
        for step in 0..<6 {
            #expect(Array(together[step][0..<V]) == first[step], "\(family) step \(step), sequence 0")
            #expect(Array(together[step][V..<(2 * V)]) == second[step], "\(family) step \(step), sequence 1")
        }
    }
}
