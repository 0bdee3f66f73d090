// Exports of a fully fine-tuned model: tiny Qwen 3 and Gemma 3 GGUF bases (Fixtures/tiny_*/model.gguf, as llama.cpp's
// converter writes them) trained for two AdamW steps and checkpointed as a full job does; the checkpoint exported as
// GGUF (F32 and F16) and as a Hugging Face directory reloads with the trained logits, its base's tokenizer and chat
// template, and without the optimizer state. The tokenizer.json written from a GGUF vocabulary tokenizes the
// 112-text corpus as the GGUF does.
import Foundation
import Testing
@testable import TailorEngine

@Suite struct FullModelExportTests {
    static func tempDir() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-fullexport-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Two AdamW steps of full fine-tuning on `base`, written as a job's checkpoint (model files, moments, state).
    static func trainedCheckpoint(_ family: String, base: LanguageModel, to dir: String) throws {
        let batch = FamilyReferenceTests.trainingBatch(try FamilyReferenceTests.reference(family).training)
        let full = FullParameters(base.transformer)
        let tm = TrainingModel(full: full, maxTokens: 64, activationBudget: nil)
        var adam = AdamWConfig(); adam.weightDecay = 0.01
        for t in 1...2 {
            full.zeroGrad()
            _ = try #require(tm.forwardBackward(batch, gradScale: 1 / Float(batch.lossTokens), dropoutSeed: 0))
            AdamW.step(full, lr: 1e-2, t: t, config: adam)
        }
        var config = TrainingConfig(); config.trainingType = .full
        let state = TrainerState(step: 2, totalSteps: 2, epoch: 1, epochOffset: 0, tokensSoFar: 0, seed: 1, config: config,
                                 trainExamples: 2, bestValidLoss: nil, bestStep: nil, epochsWithoutImprovement: 0,
                                 baseModel: base.name, metrics: nil)
        try TrainingCheckpoint.write(full: full, files: try FullModelFiles.companions(of: base), state: state, to: dir)
    }

    static func largest(_ logits: [[Float]]) -> Double { Double(logits.flatMap { $0 }.map(abs).max()!) }

    @Test(arguments: ["qwen3", "gemma3"])
    func ggufExportReloadsAsTheTrainedModel(family: String) throws {
        let ggufPath = FamilyReferenceTests.ggufPath(family)
        let base = try LanguageModel(path: ggufPath)
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let checkpoint = dir + "/step-000002"
        try Self.trainedCheckpoint(family, base: base, to: checkpoint)
        #expect(FullModelFiles.isFullModel(checkpoint))

        let trained = try FullModelExport.load(directory: checkpoint, base: base)
        let tokens = try FamilyReferenceTests.reference(family).cases[1].tokens
        let expected = FamilyReferenceTests.prefill(trained, tokens)
        let moved = FamilyReferenceTests.maxDiff(FamilyReferenceTests.prefill(base.transformer, tokens), expected.map { $0.map(Double.init) })
        #expect(moved > 0.01 * Self.largest(expected), "\(family): training moved the logits by only \(moved)")

        // F32 is the same arithmetic on the same values (rows permuted and back); F16 rounds the matrices to 11 bits.
        for (type, tolerance) in [(GGUFWriter.TensorType.f32, 1e-5), (.f16, 3e-3)] {
            let file = dir + "/model-\(type).gguf"
            try FullModelExport.gguf(model: trained, base: base, type: type).write(to: URL(fileURLWithPath: file))
            let exported = try LanguageModel(path: file)
            #expect(exported.transformer.config == base.transformer.config)
            #expect(exported.chatTemplate.source == base.chatTemplate.source)
            #expect(exported.tokenizer.vocabularySize == base.tokenizer.vocabularySize && exported.tokenizer.eos == base.tokenizer.eos)
            let d = FamilyReferenceTests.maxDiff(FamilyReferenceTests.prefill(exported.transformer, tokens), expected.map { $0.map(Double.init) })
            print("\(family) GGUF \(type): max |Δ logit| \(d) (largest logit \(Self.largest(expected)))")
            #expect(d <= tolerance * Self.largest(expected), "\(family) \(type): max |Δ logit| \(d)")
        }
    }

    @Test(arguments: ["qwen3", "gemma3"])
    func huggingFaceExportIsACleanModelDirectory(family: String) throws {
        let base = try LanguageModel(path: FamilyReferenceTests.ggufPath(family))
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let checkpoint = dir + "/step-000002", output = dir + "/export"
        try Self.trainedCheckpoint(family, base: base, to: checkpoint)
        let trained = try FullModelExport.load(directory: checkpoint, base: base)
        try FullModelExport.writeHuggingFace(directory: checkpoint, model: trained, base: base, half: false, to: output)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: output))
        #expect(files == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"], "\(files)")

        // Loaded on its own — its own tokenizer.json and template, no base — it is the trained model.
        let exported = try LanguageModel(path: output)
        let tokens = try FamilyReferenceTests.reference(family).cases[1].tokens
        let expected = FamilyReferenceTests.prefill(trained, tokens)
        #expect(FamilyReferenceTests.prefill(exported.transformer, tokens) == expected)
        #expect(exported.chatTemplate.source == base.chatTemplate.source)
        let text = "Hello world! 1234 <|im_start|>user\nÇa va? 😀"
        #expect(exported.tokenizer.encode(text) == base.tokenizer.encode(text))

        try FullModelExport.writeHuggingFace(directory: checkpoint, model: trained, base: base, half: true, to: dir + "/half")
        let half = try ModelLoader.loadTransformer(path: dir + "/half")
        let d = FamilyReferenceTests.maxDiff(FamilyReferenceTests.prefill(half, tokens), expected.map { $0.map(Double.init) })
        print("\(family) BF16 safetensors: max |Δ logit| \(d) (largest logit \(Self.largest(expected)))")
        #expect(d <= 2e-2 * Self.largest(expected), "\(family) BF16: max |Δ logit| \(d)")
    }

    /// A model of another shape is refused, naming the base to pass.
    @Test func aCheckpointOfAnotherModelIsRefused() throws {
        let qwen = try LanguageModel(path: FamilyReferenceTests.ggufPath("qwen3"))
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.trainedCheckpoint("qwen3", base: qwen, to: dir + "/ckpt")
        let gemma = try LanguageModel(path: FamilyReferenceTests.ggufPath("gemma3"))
        #expect { try FullModelExport.load(directory: dir + "/ckpt", base: gemma) } throws: { error in
            "\(error)".contains("pass the base model it was trained from")
        }
    }

    @Test(arguments: ["gpt2", "smollm", "llama3", "qwen2", "default"])
    func tokenizerJSONFromAGGUFTokenizesAsTheGGUF(pre: String) throws {
        let gguf = try GGUFFile(path: VocabFixtures.path("tiny-bpe-\(pre).gguf"))
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, data) in try TokenizerJSONWriter.files(gguf: gguf, contextLength: 512) {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
        }
        let want = try Tokenizer(gguf: gguf), got = try Tokenizer(huggingFaceDirectory: dir)
        #expect(got.vocabularySize == want.vocabularySize)
        #expect(got.bos == want.bos && got.eos == want.eos && got.addBOS == want.addBOS && got.addEOS == want.addEOS)
        for (name, text) in VocabFixtures.corpus.sorted(by: { $0.key < $1.key }) {
            expectSameTokens(got.encode(text), want.encode(text), want, "\(pre) \(name)")
            expectSameTokens(got.encode(text, addSpecial: true, parseSpecial: false), want.encode(text, addSpecial: true, parseSpecial: false), want, "\(pre) \(name) plain")
        }
    }

    /// A SentencePiece vocabulary becomes the tokenizer.model such models ship: read back, it holds the GGUF's
    /// pieces, scores, types, special ids, byte fallback and space prefix (sentencepiece and transformers read it in
    /// Tests/reference/tokenizer_model_check.py).
    @Test(arguments: ["tiny-spm", "tiny-spm-no-prefix"])
    func aSentencePieceVocabularyIsWrittenAsTokenizerModel(name: String) throws {
        let gguf = try GGUFFile(path: VocabFixtures.path("\(name).gguf"))
        let files = try TokenizerJSONWriter.files(gguf: gguf, contextLength: 512)
        #expect(Set(files.keys) == ["tokenizer.model", "tokenizer_config.json"])
        let model = try SentencePieceModelFile(bytes: Array(try #require(files["tokenizer.model"])), source: name)
        let v = try Vocabulary(gguf: gguf)
        #expect(model.pieces.map(\.text) == v.tokens && model.pieces.map(\.score) == v.scores)
        #expect(model.pieces.map(\.type.rawValue) == v.attributes.map(\.tokenType))
        #expect(model.pieces.contains { $0.type == .byte } && model.pieces.contains { $0.type == .userDefined })
        #expect(model.modelType == 2 && model.byteFallback && !model.removeExtraWhitespaces && model.escapeWhitespaces)
        #expect(model.addDummyPrefix == v.addSpacePrefix && model.addDummyPrefix == (name == "tiny-spm"))
        #expect(model.unknownID == v.roles[.unknown] ?? -1 && model.bosID == v.roles[.bos] ?? -1
                && model.eosID == v.roles[.eos] ?? -1 && model.padID == v.roles[.padding] ?? -1)
        let configData = try #require(files["tokenizer_config.json"])
        let config = try #require(try JSONSerialization.jsonObject(with: configData) as? [String: Any])
        #expect(config["tokenizer_class"] as? String == "LlamaTokenizer" && config["add_bos_token"] as? Bool == v.addBOS)
    }
}
