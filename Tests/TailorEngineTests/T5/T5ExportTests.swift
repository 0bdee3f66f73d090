// `tailor export` of a T5 model: a merged adapter (or a full checkpoint) written as a Hugging Face T5 directory loads
// back with every tensor's bits, the same head tying, and — merged — PEFT's loss for that adapter on the fixtures'
// batch; in bf16 each weight is its nearest bf16.
import Foundation
import Testing
@testable import TailorEngine

struct T5ExportTests {
    /// config.json from the fixture checkpoint and the tokenizer files T5ModelTests.load gives it.
    static func companions(_ name: String) throws -> [String: Data] {
        let tokenizer = name == "tiny-t5" ? ["tokenizer.json", "tokenizer_config.json"] : ["spiece.model", "tokenizer_config.json"]
        var files = ["config.json": try Data(contentsOf: Fixtures.url("t5/\(name)/config.json"))]
        for f in tokenizer { files[f] = try Data(contentsOf: Fixtures.url("t5/unigram/\(f)")) }
        return files
    }

    static func tensors(_ m: T5Model) -> [String: [Float]] {
        var all: [String: [Float]] = [:]
        _ = m.weights.map(m.config) { name, values, _, _ in all[name] = values }
        return all
    }

    @Test(arguments: ["tiny-t5", "tiny-flan"])
    func aMergedAdapterExportsAsAHuggingFaceDirectory(_ name: String) throws {
        let base = try T5ModelTests.load(name)
        let ref = try T5TrainingTests.reference(name)
        let merged = try base.merging(adapterDirectory: Fixtures.url("t5/lora-\(name)").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-t5-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }

        try merged.writeHuggingFace(to: dir, companions: try Self.companions(name))
        let back = try T5Model(directory: dir)
        #expect(back.config.tiedEmbeddings == base.config.tiedEmbeddings)
        let want = Self.tensors(merged), got = Self.tensors(back)
        #expect(Set(got.keys) == Set(want.keys))
        for (tensor, values) in want { #expect(got[tensor] == values, "\(name): \(tensor) differs after the round trip") }
        #expect(got != Self.tensors(base), "\(name): the export holds the base's weights, not the merged ones")
        let loss = T5MergedAdapterTests.loss(back, ref.examples)
        #expect(abs(loss - ref.loss) <= 1e-4 * ref.loss, "\(name): exported model's loss \(loss), PEFT \(ref.loss)")
        #expect(back.tokenizer.encode("Hello world") == base.tokenizer.encode("Hello world"))

        // bf16 halves the file, each weight rounded to its nearest bf16 (within half a unit in the last of 8 bits).
        let half = dir + "-bf16"
        defer { try? FileManager.default.removeItem(atPath: half) }
        try merged.writeHuggingFace(to: half, companions: try Self.companions(name), dtype: .bf16)
        let size = { (d: String) in try FileManager.default.attributesOfItem(atPath: d + "/model.safetensors")[.size] as! Int }
        let halfBytes = try size(half), fullBytes = try size(dir)
        #expect(halfBytes < fullBytes / 2 + 4096)
        let rounded = Self.tensors(try T5Model(directory: half))
        for (tensor, values) in want {
            let r = try #require(rounded[tensor])
            let worst = zip(values, r).map { abs($0 - $1) / max(abs($0), 1e-30) }.max() ?? 0
            #expect(worst <= 1.0 / 256 && r != values, "\(name): \(tensor) in bf16 off by \(worst) relative")
        }
    }
}
