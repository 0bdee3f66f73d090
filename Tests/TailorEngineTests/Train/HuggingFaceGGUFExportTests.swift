// GGUF exports of models whose base is a Hugging Face directory (HuggingFaceGGUFMetadata): the architecture,
// hyperparameters, tokenizer and chat template written as llama.cpp's converter writes them, so the file reloads as
// the same model — the Llama layout's permuted q/k rows included — and tokenizes as the directory does. Qwen 3's
// tokenizer keys are checked against Fixtures/tiny_qwen3/model.gguf (written by Tests/reference/tiny_families.py the
// way convert_hf_to_gguf.py does, and read by llama.cpp for the reference logits). llama.cpp itself reads the
// exports in Tests/reference/gguf_export_check.py.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct HuggingFaceGGUFExportTests {
    static let bases = ["tiny_qwen3/hf", "tiny_full/llama", "tiny_full/qwen2"]

    static func export(_ base: LanguageModel, model: Transformer? = nil, adapter: LoRAAdapter? = nil,
                       type: GGUFWriter.TensorType = .f32) throws -> (LanguageModel, String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-hfgguf-\(UUID().uuidString).gguf").path
        let data = AdapterExport.mergedGGUF(metadata: try FullModelExport.ggufMetadata(of: base), model: model ?? base.transformer,
                                            adapter: adapter, type: type)
        try data.write(to: URL(fileURLWithPath: file))
        return (try LanguageModel(path: file), file)
    }

    static let texts = ["Hello world! 1234 <|im_start|>user\nÇa va? 😀", "  two  spaces, tabs\tand\nnew lines 3.14159",
                        "naïve café — ünïcödé ½ ⅔ ١٢٣", "<|im_end|><|endoftext|> specials inside text"]

    @Test(arguments: bases)
    func aHuggingFaceBaseExportsAsTheSameModel(path: String) throws {
        let base = try LanguageModel(path: Fixtures.url(path).path)
        let (exported, file) = try Self.export(base)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var want = base.transformer.config
        want.architecture = HuggingFaceGGUFMetadata.ggufArchitecture(want.architecture)
        #expect(exported.transformer.config == want)
        #expect(exported.chatTemplate.source == base.chatTemplate.source)
        #expect(exported.tokenizer.vocabularySize == base.tokenizer.vocabularySize)
        #expect(exported.tokenizer.eos == base.tokenizer.eos)
        #expect(exported.tokenizer.addBOS == base.tokenizer.addBOS && exported.tokenizer.addEOS == base.tokenizer.addEOS)
        // Without a BOS in the directory, llama.cpp (and Tailor's GGUF reader) take its default for 'gpt2' files.
        #expect(exported.tokenizer.bos == base.tokenizer.bos || base.tokenizer.bos == nil)
        #expect(exported.tokenizer.endOfTurnTokens == base.tokenizer.endOfTurnTokens)
        for text in Self.texts { #expect(exported.tokenizer.encode(text) == base.tokenizer.encode(text), "\(path): \(text)") }
        // F32 holds the same values (Llama's q/k rows permuted on writing and back on reading): the same logits.
        let tokens = base.tokenizer.encode(Self.texts[0]).map { Int($0) }
        let got = FamilyReferenceTests.prefill(exported.transformer, tokens)
        let expected = FamilyReferenceTests.prefill(base.transformer, tokens)
        #expect(got == expected, "\(path): max |Δ logit| \(FamilyReferenceTests.maxDiff(got, expected.map { $0.map(Double.init) }))")
    }

    /// Qwen 3's directory exports the vocabulary, token types, merges and special ids the converter wrote, and the
    /// export gives llama.cpp's logits of the reference prompts (as the converted file does, FamilyReferenceTests).
    @Test func qwen3TokenizerKeysAreTheConvertersAndTheLogitsLlamaCpps() throws {
        let base = try LanguageModel(path: FamilyReferenceTests.hfPath("qwen3"))
        let (exported, file) = try Self.export(base)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let ours = try GGUFFile(path: file), converted = try GGUFFile(path: FamilyReferenceTests.ggufPath("qwen3"))
        for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"] {
            #expect(ours.metadata[key] == converted.metadata[key], "\(key)")
        }
        // The tiny tokenizer splits words with ByteLevel's own regex: GPT-2's list.
        #expect(ours.metadata["tokenizer.ggml.pre"]?.stringValue == "gpt-2")
        for c in try FamilyReferenceTests.reference("qwen3").cases {
            #expect(exported.tokenizer.encode(c.prompt).map { Int($0) } == c.tokens)
            let d = FamilyReferenceTests.maxDiff(FamilyReferenceTests.prefill(exported.transformer, c.tokens), c.llamaLogits)
            #expect(d < 2e-3, "max |Δ logit| against llama.cpp \(d)")
        }
    }

    /// A LoRA adapter trained on the directory merges into the export (merged-gguf); a full fine-tune exports too.
    @Test func anAdapterMergesIntoTheExport() throws {
        let base = try LanguageModel(path: FamilyReferenceTests.hfPath("qwen3"))
        let adapter = try PEFTAdapter.read(directory: Fixtures.url("tiny_qwen3/adapter").path, config: base.transformer.config)
        let (exported, file) = try Self.export(base, adapter: adapter)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let tokens = try FamilyReferenceTests.reference("qwen3").cases[1].tokens
        let adapted = FamilyReferenceTests.prefill(base.transformer, tokens, adapter: adapter)
        let plain = FamilyReferenceTests.prefill(base.transformer, tokens)
        let got = FamilyReferenceTests.prefill(exported.transformer, tokens)
        let d = FamilyReferenceTests.maxDiff(got, adapted.map { $0.map(Double.init) })
        let moved = FamilyReferenceTests.maxDiff(plain, adapted.map { $0.map(Double.init) })
        #expect(d < 1e-4 && moved > 100 * d, "merged vs served adapter \(d); the adapter moves the logits by \(moved)")
    }

    @Test func aFullFineTuneOfAHuggingFaceBaseExportsAsGGUF() throws {
        let base = try LanguageModel(path: FamilyReferenceTests.hfPath("qwen3"))
        let dir = FullModelExportTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FullModelExportTests.trainedCheckpoint("qwen3", base: base, to: dir + "/ckpt")
        let trained = try FullModelExport.load(directory: dir + "/ckpt", base: base)
        let file = dir + "/model.gguf"
        try FullModelExport.gguf(model: trained, base: base, type: .f32).write(to: URL(fileURLWithPath: file))
        let tokens = try FamilyReferenceTests.reference("qwen3").cases[1].tokens
        #expect(FamilyReferenceTests.prefill(try ModelLoader.loadTransformer(path: file), tokens)
                == FamilyReferenceTests.prefill(trained, tokens))
    }

    /// Qwen's own tokenizer.json normalizes to NFC, which no GGUF key says: the export leaves it out, as llama.cpp's
    /// converter does, and text already in NFC tokenizes alike.
    @Test func anNFCNormalizerIsLeftOutAsTheConverterDoes() throws {
        let dir = FullModelExportTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = FamilyReferenceTests.hfPath("qwen3")
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))) as? [String: Any])
        json["normalizer"] = ["type": "NFC"]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let base = try LanguageModel(path: dir)
        let (exported, file) = try Self.export(base)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for text in Self.texts { #expect(exported.tokenizer.encode(text) == base.tokenizer.encode(text), "\(text)") }
        // Decomposed text is where the two part: the directory composes "é" first, GGUF (and llama.cpp) do not.
        let decomposed = "cafe\u{301}"
        #expect(base.tokenizer.encode(decomposed) == base.tokenizer.encode("caf\u{e9}"))
    }

    /// llama.cpp's gemma3 graph scales queries by 1/sqrt(head_dim); the tiny Gemma's query_pre_attn_scalar is 8 with
    /// head_dim 16, so its export would be another model: refused, naming the reason and the way out.
    @Test func aModelLlamaCppCannotExpressIsRefused() throws {
        let base = try LanguageModel(path: FamilyReferenceTests.hfPath("gemma3"))
        #expect { try FullModelExport.ggufMetadata(of: base) } throws: { error in
            "\(error)".contains("query_pre_attn_scalar") && "\(error)".contains("--format safetensors")
        }
    }

    /// The tokenizer round trip GGUF → tokenizer.json (TokenizerJSONWriter) → GGUF keys gives the first GGUF's
    /// tokenization on the 112-text corpus, for every pre-tokenizer the writer covers.
    @Test(arguments: ["gpt2", "smollm", "llama3", "qwen2", "default"])
    func tokenizerKeysFromTokenizerJSONTokenizeAsTheGGUF(pre: String) throws {
        let gguf = try GGUFFile(path: VocabFixtures.path("tiny-bpe-\(pre).gguf"))
        let dir = FullModelExportTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, data) in try TokenizerJSONWriter.files(gguf: gguf, contextLength: 512) {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
        }
        var w = GGUFWriter()
        for (key, value) in try HuggingFaceGGUFMetadata.tokenizer(directory: dir) { w.set(key, value) }
        let file = dir + "/tokenizer.gguf"
        try w.serialized().write(to: URL(fileURLWithPath: file))
        let want = try Tokenizer(gguf: gguf), got = try Tokenizer(gguf: try GGUFFile(path: file))
        #expect(got.vocabularySize == want.vocabularySize)
        #expect(got.bos == want.bos && got.eos == want.eos && got.addBOS == want.addBOS && got.addEOS == want.addEOS)
        for (name, text) in VocabFixtures.corpus.sorted(by: { $0.key < $1.key }) {
            expectSameTokens(got.encode(text), want.encode(text), want, "\(pre) \(name)")
        }
    }
}
