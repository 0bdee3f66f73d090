// A tiny random Llama written by the test as GGUF (q/k permuted as llama.cpp's converter does) and as a Hugging Face
// directory (config.json + safetensors): both loaders give the same model. Broken files fail naming file and tensor.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct LoaderTests {
    let scratch = Scratch()

    /// The tiny model's tensors in Hugging Face order and names.
    static func tensors(_ m: Transformer) -> [(role: String, layer: Int?, shape: [Int], values: [Float])] {
        let c = m.config
        var out: [(String, Int?, [Int], [Float])] = [("embed", nil, [c.vocabSize, c.dim], m.weights.tokenEmbedding.toFloats()),
                                                     ("norm", nil, [c.dim], m.weights.outputNorm)]
        for (l, w) in m.weights.layers.enumerated() {
            out += [("q", l, [c.qDim, c.dim], w.wq.toFloats()), ("k", l, [c.kvDim, c.dim], w.wk.toFloats()),
                    ("v", l, [c.kvDim, c.dim], w.wv.toFloats()), ("o", l, [c.dim, c.qDim], w.wo.toFloats()),
                    ("gate", l, [c.hiddenDim, c.dim], w.wGate.toFloats()), ("up", l, [c.hiddenDim, c.dim], w.wUp.toFloats()),
                    ("down", l, [c.dim, c.hiddenDim], w.wDown.toFloats()),
                    ("attn_norm", l, [c.dim], w.attnNorm), ("ffn_norm", l, [c.dim], w.ffnNorm)]
            if let b = w.bq { out.append(("bq", l, [c.qDim], b)) }
            if let b = w.bk { out.append(("bk", l, [c.kvDim], b)) }
            if let b = w.bv { out.append(("bv", l, [c.kvDim], b)) }
        }
        return out
    }

    static let hfNames: [String: String] = [
        "embed": "model.embed_tokens.weight", "norm": "model.norm.weight", "q": "self_attn.q_proj.weight",
        "k": "self_attn.k_proj.weight", "v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight",
        "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight", "down": "mlp.down_proj.weight",
        "attn_norm": "input_layernorm.weight", "ffn_norm": "post_attention_layernorm.weight",
        "bq": "self_attn.q_proj.bias", "bk": "self_attn.k_proj.bias", "bv": "self_attn.v_proj.bias"]
    static let ggufNames: [String: String] = [
        "embed": "token_embd.weight", "norm": "output_norm.weight", "q": "attn_q.weight", "k": "attn_k.weight",
        "v": "attn_v.weight", "o": "attn_output.weight", "gate": "ffn_gate.weight", "up": "ffn_up.weight",
        "down": "ffn_down.weight", "attn_norm": "attn_norm.weight", "ffn_norm": "ffn_norm.weight",
        "bq": "attn_q.bias", "bk": "attn_k.bias", "bv": "attn_v.bias"]

    /// llama.cpp's convert_hf_to_gguf `permute`: per head, interleave the two rotary halves of the rows.
    static func permute(_ w: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        let hd = rows / heads, half = hd / 2
        var out = w
        for h in 0..<heads { for j in 0..<half { for s in 0..<2 {
            let dst = h * hd + 2 * j + s, src = h * hd + s * half + j
            for c in 0..<cols { out[dst * cols + c] = w[src * cols + c] }
        } } }
        return out
    }

    static func writeHF(_ m: Transformer, to dir: String, dtype: SafeTensorsWriter.DType = .f32, shards: Int = 1) throws {
        let c = m.config
        let all = tensors(m)
        var index: [String: String] = [:]
        for s in 0..<shards {
            var w = SafeTensorsWriter()
            for (i, t) in all.enumerated() where i % shards == s {
                let name = t.layer.map { "model.layers.\($0).\(hfNames[t.role]!)" } ?? hfNames[t.role]!
                w.add(name, shape: t.shape, values: t.values, as: dtype)
                index[name] = "model-\(s).safetensors"
            }
            try w.serialized().write(to: URL(fileURLWithPath: dir + "/model-\(s).safetensors"))
        }
        if shards > 1 {
            try JSONSerialization.data(withJSONObject: ["weight_map": index]).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        }
        let config: [String: Any] = ["model_type": c.qkvBias ? "qwen2" : "llama", "hidden_size": c.dim, "intermediate_size": c.hiddenDim,
                                     "num_hidden_layers": c.layers, "num_attention_heads": c.heads, "num_key_value_heads": c.kvHeads,
                                     "vocab_size": c.vocabSize, "max_position_embeddings": c.contextLength, "rope_theta": 10000.0,
                                     "rms_norm_eps": 1e-5, "tie_word_embeddings": true]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
    }

    static func writeGGUF(_ m: Transformer, to path: String, type: GGUFWriter.TensorType = .f32, drop: String? = nil) throws {
        let c = m.config
        var w = GGUFWriter()
        let arch = c.qkvBias ? "qwen2" : "llama"
        w.set("general.architecture", .string(arch))
        for (k, v) in [("block_count", c.layers), ("context_length", c.contextLength), ("embedding_length", c.dim),
                       ("feed_forward_length", c.hiddenDim), ("attention.head_count", c.heads), ("attention.head_count_kv", c.kvHeads)] {
            w.set("\(arch).\(k)", .uint(UInt64(v)))
        }
        w.set("\(arch).rope.freq_base", .float(10000))
        w.set("\(arch).attention.layer_norm_rms_epsilon", .float(1e-5))
        for t in tensors(m) {
            let name = t.layer.map { "blk.\($0).\(ggufNames[t.role]!)" } ?? ggufNames[t.role]!
            guard name != drop else { continue }
            var values = t.values
            // Only llama's converter permutes q and k; qwen2 keeps Hugging Face order.
            if arch == "llama" && (t.role == "q" || t.role == "k" || t.role == "bq" || t.role == "bk") {
                values = permute(values, rows: t.shape[0], cols: t.shape.count == 2 ? t.shape[1] : 1,
                                 heads: t.role.hasSuffix("q") ? c.heads : c.kvHeads)
            }
            w.addTensor(name, shape: t.shape, values: values, type: t.shape.count == 2 ? type : .f32)
        }
        try w.serialized().write(to: URL(fileURLWithPath: path))
    }

    static func logits(_ m: Transformer, _ tokens: [Int]) -> [Float] {
        let ctx = InferenceContext(model: m, maxRows: 16)
        ctx.quantizedRowsLimit = 0
        let cache = KVCache(config: m.config, capacity: tokens.count)
        let rows = tokens.enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, wantsLogits: true) }
        return Array(ctx.forward(rows, caches: [cache]))
    }

    @Test(arguments: [false, true])
    func ggufAndSafetensorsGiveTheSameLogits(qkvBias: Bool) throws {
        let model = TinyModel.make(seed: 21, qkvBias: qkvBias)
        let dir = scratch.directory("tailor-loader-")
        try Self.writeGGUF(model, to: dir + "/tiny.gguf")
        try Self.writeHF(model, to: dir, shards: 2)
        let fromGGUF = try ModelLoader.loadTransformer(path: dir + "/tiny.gguf")
        let fromHF = try ModelLoader.loadTransformer(path: dir)
        #expect(fromGGUF.config.qkvBias == qkvBias && fromHF.config.qkvBias == qkvBias)
        let tokens = [1, 7, 30, 4, 59, 12]
        let reference = Self.logits(model, tokens)
        #expect(Self.logits(fromGGUF, tokens) == reference)
        #expect(Self.logits(fromHF, tokens) == reference)
    }

    /// Loading packs nothing (a process that only trains never holds the packed copies, and GGUF's permuted q/k
    /// views are not packed before being discarded); the first 8-bit product or prepareForInference packs, and the
    /// logits are the same bits either way.
    @Test func packedCopiesAreBuiltOnFirstUse() throws {
        guard let path = try TestModel.path() else { return }
        func matrices(_ m: Transformer) -> [WeightMatrix] {
            m.weights.layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.wGate, $0.wUp, $0.wDown] } + [m.weights.output]
        }
        func logits(_ m: Transformer) -> [Float] {
            let ctx = InferenceContext(model: m, maxRows: 8)
            let cache = KVCache(config: m.config, capacity: 8)
            let rows = [1, 504, 3326, 28, 9].enumerated().map { ForwardRow(token: $1, position: $0, sequence: 0, wantsLogits: true) }
            return Array(ctx.forward(rows, caches: [cache]))
        }
        let lazy = try ModelLoader.loadTransformer(path: path)
        let all = matrices(lazy)
        #expect(all.allSatisfy { $0.packs }, "the default model's matrices are all Q4_1 / Q8_0")
        #expect(!all.contains { $0.isPacked })
        let first = logits(lazy)
        #expect(all.allSatisfy { $0.isPacked })
        let prepared = try ModelLoader.loadTransformer(path: path)
        prepared.prepareForInference()
        #expect(matrices(prepared).allSatisfy { $0.isPacked })
        let second = logits(prepared)
        #expect(first.count == second.count && first == second)
    }

    @Test func halfPrecisionFilesLoad() throws {
        let model = TinyModel.make(seed: 22)
        let dir = scratch.directory("tailor-loader-")
        try Self.writeGGUF(model, to: dir + "/tiny16.gguf", type: .f16)
        try Self.writeHF(model, to: dir, dtype: .bf16)
        let a = Self.logits(try ModelLoader.loadTransformer(path: dir + "/tiny16.gguf"), [1, 2, 3])
        let b = Self.logits(try ModelLoader.loadTransformer(path: dir), [1, 2, 3])
        let ref = Self.logits(model, [1, 2, 3])
        for i in ref.indices {
            #expect(abs(a[i] - ref[i]) < 2e-2)
            #expect(abs(b[i] - ref[i]) < 5e-2)
        }
    }

    @Test func brokenFilesNameTheFileAndTensor() throws {
        let model = TinyModel.make(seed: 23)
        let dir = scratch.directory("tailor-loader-")
        let path = dir + "/tiny.gguf"
        try Self.writeGGUF(model, to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))

        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: dir + "/cut.gguf"))
        #expect { _ = try ModelLoader.loadTransformer(path: dir + "/cut.gguf") } throws: { e in
            "\(e)".contains("cut.gguf is truncated") && "\(e)".contains("tensor") }

        try Self.writeGGUF(model, to: dir + "/missing.gguf", drop: "blk.1.ffn_up.weight")
        #expect { _ = try ModelLoader.loadTransformer(path: dir + "/missing.gguf") } throws: { e in
            "\(e)".contains("missing.gguf has no tensor blk.1.ffn_up.weight") }

        try Self.writeHF(model, to: dir)
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
        cfg["intermediate_size"] = 32
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect { _ = try ModelLoader.loadTransformer(path: dir) } throws: { e in
            "\(e)".contains("model.layers.0.mlp.gate_proj.weight has shape [24, 16]") }

        var bad = data
        bad[0] = 0x58
        try bad.write(to: URL(fileURLWithPath: dir + "/magic.gguf"))
        #expect { _ = try ModelLoader.loadTransformer(path: dir + "/magic.gguf") } throws: { e in "\(e)".contains("GGUF magic") }
    }

    @Test func unknownTensorTypesAreNamed() throws {
        // A GGUF whose only tensor claims type 10 (Q2_K), which Tailor does not read.
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.addTensor("token_embd.weight", shape: [1, 256], values: [Float](repeating: 0, count: 256))
        var data = w.serialized()
        let marker = Data("token_embd.weight".utf8)
        let at = data.range(of: marker)!.upperBound + 4 + 16     // n_dims, two dims
        data[at] = 10
        let path = scratch.directory("tailor-loader-") + "/q2k.gguf"
        try data.write(to: URL(fileURLWithPath: path))
        #expect { _ = try GGUFFile(path: path) } throws: { e in "\(e)".contains("token_embd.weight is Q2_K") }
    }
}
