// A checked-in sample of MaskBench files (guidance-ai/jsonschemabench, maskbench/data): every schema either compiles
// and then decides every test instance right — above all, never accepts an invalid one — or is refused by name.
import Foundation
import Testing
@testable import TailorGrammar

@Suite struct MaskBenchSampleTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("maskbench")
    static let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()) ?? []

    struct Case { var schema: JSONValue; var tests: [(valid: Bool, text: String)] }

    static func load(_ name: String) throws -> Case {
        let doc = try JSONValue(parsing: Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        var tests: [(Bool, String)] = []
        if case .array(let ts)? = doc["tests"] {
            for t in ts { if case .bool(let v)? = t["valid"], let d = t["data"] { tests.append((v, d.pythonText)) } }
        }
        return Case(schema: doc["schema"]!, tests: tests)
    }

    @Test func sampleIsThere() { #expect(Self.files.count >= 30) }

    @Test(arguments: files)
    func fileDecidesEveryInstance(_ name: String) throws {
        let c = try Self.load(name)
        let g: CompiledGrammar
        do { g = try JSONSchemaGrammar.compile(schema: c.schema) } catch let e as GrammarError {
            // A refusal must say which keyword, and where.
            #expect(!e.keyword.isEmpty && e.pointer.hasPrefix("#"), "\(name): \(e)")
            return
        }
        for (valid, text) in c.tests {
            #expect(matches(g, text) == valid, "\(name): \(valid ? "valid instance refused" : "INVALID INSTANCE ACCEPTED"): \(text.prefix(200))")
        }
    }

    /// The same instances token by token over the hand-made vocabulary: the mask's bit for each chosen token agrees
    /// with the byte-level verdict.
    @Test(arguments: files)
    func tokenMasksAgreeWithBytes(_ name: String) throws {
        let c = try Self.load(name)
        guard let g = try? JSONSchemaGrammar.compile(schema: c.schema) else { return }
        let m = GrammarMatcher(grammar: g, vocabulary: handVocabulary)
        for (_, text) in c.tests {
            m.reset()
            var ok = true
            for id in greedyTokens(text, handVocabulary) {
                let mask = m.allowedTokens()
                guard mask[id >> 6] & (1 << UInt64(id & 63)) != 0 else { ok = false; break }
                #expect(m.accept(token: id))
            }
            #expect((ok && m.isAccepting) == matches(g, text), "\(name): \(text.prefix(200))")
        }
    }
}
