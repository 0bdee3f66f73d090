// `tailor bench grammar`: MaskBench (guidance-ai/jsonschemabench) over TailorGrammar with a model's tokenizer —
// compile each schema, then for every test instance compute the mask before each token and check the token is in it.
// The llguidance side of the comparison is Tests/reference/bench_llguidance.py, which prints the same JSON line.
import ArgumentParser
import Foundation
import TailorEngine
import TailorGrammar

struct BenchGrammar: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grammar", abstract: "JSON Schema mask computation over MaskBench files.")
    @Option var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "A directory of MaskBench files ({\"schema\": …, \"tests\": [{\"valid\", \"data\"}]}).") var data: String
    @Option(help: "Only the first N files (sorted by name).") var limit: Int?
    @Flag var json = false
    @Option(help: "Also write one JSON line per file here: compiled (or the refusal), valid_rejected, invalid_accepted, the slowest mask and the text before it.")
    var perFile: String?

    func run() throws {
        let tokenizer = model.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUFFile(path: model)) : try Tokenizer(huggingFaceDirectory: model)
        let n = tokenizer.vocabularySize
        let special = Set((0..<n).filter { tokenizer.isSpecial($0) })
        let eog = Array(Set([tokenizer.eos].compactMap { $0 }).union(tokenizer.endOfTurnTokens)).sorted()
        let vocab = TokenVocabulary(tokens: (0..<n).map { special.contains($0) ? [] : tokenizer.tokenBytes($0) }, special: special, endOfGeneration: eog)

        BenchSupport.log("vocabulary: \(n) tokens, byte trie of \(vocab.trieNodeCount) nodes, \(vocab.restTrieNodeCount) outside string content")
        var files = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasSuffix(".json") }.sorted()
        if let limit { files = Array(files.prefix(limit)) }
        var compiled = 0, passing = 0, invalidAccepted = 0, validRejected = 0, tokens = 0
        var compileMs: [Double] = [], maskUs: [Double] = []
        var refusals: [String: Int] = [:]
        var perFileLines: [String] = []
        func note(_ fields: [String: JSONValue]) {
            if perFile != nil { perFileLines.append(JSONValue.object(fields.sorted { $0.key < $1.key }).pythonText) }
        }
        for f in files {
            let doc = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: data + "/" + f))))
            guard let schema = doc["schema"] else { continue }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let grammar: CompiledGrammar
            do { grammar = try JSONSchemaGrammar.compile(schema: schema) } catch let e as GrammarError {
                refusals[e.keyword, default: 0] += 1
                note(["file": .string(f), "compiled": .bool(false), "error": .string("\(e)")])
                continue
            }
            compileMs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            compiled += 1
            let matcher = GrammarMatcher(grammar: grammar, vocabulary: vocab)
            var allPass = true
            var fileRejected = 0, fileAccepted = 0, slowest = 0.0, slowestAt = ""
            for test in Self.tests(doc) {
                matcher.reset()
                let text = Self.pythonText(test.data)
                let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
                var accepted = true
                var before: [UInt8] = []
                for id in ids {
                    let s = DispatchTime.now().uptimeNanoseconds
                    let mask = matcher.allowedTokens()
                    let ok = mask[id >> 6] & (1 << UInt64(id & 63)) != 0
                    if ok { matcher.accept(token: id) }
                    let us = Double(DispatchTime.now().uptimeNanoseconds - s) / 1e3
                    maskUs.append(us)
                    tokens += 1
                    if perFile != nil {
                        if us > slowest { slowest = us; slowestAt = String(decoding: before.suffix(80), as: UTF8.self) }
                        before += tokenizer.tokenBytes(id)
                    }
                    if !ok { accepted = false; break }
                }
                if accepted && !matcher.isAccepting { accepted = false }
                if accepted != test.valid {
                    allPass = false
                    if test.valid { fileRejected += 1 } else { fileAccepted += 1 }
                    if test.valid { validRejected += 1 } else {
                        invalidAccepted += 1
                        BenchSupport.log("invalid instance accepted: \(f)")
                    }
                }
            }
            if allPass { passing += 1 }
            note(["file": .string(f), "compiled": .bool(true), "valid_rejected": .number("\(fileRejected)"),
                  "invalid_accepted": .number("\(fileAccepted)"), "slowest_us": .number("\(Int(slowest))"), "slowest_after": .string(slowestAt)])
        }
        if let perFile { try (perFileLines.map { $0 + "\n" }.joined()).write(toFile: perFile, atomically: true, encoding: .utf8) }
        maskUs.sort()
        BenchSupport.log("refused by keyword: " + refusals.sorted { $0.value > $1.value }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        BenchSupport.emit(["schemas": files.count, "compiled": compiled, "passing": passing, "invalid_accepted": invalidAccepted,
                           "valid_rejected": validRejected, "tokens": tokens,
                           "compile_ms_p50": BenchSupport.round(BenchSupport.median(compileMs), 3),
                           "mask_us_p50": BenchSupport.round(BenchSupport.median(maskUs)),
                           "mask_us_p99": BenchSupport.round(maskUs.isEmpty ? 0 : maskUs[min(maskUs.count - 1, Int(Double(maskUs.count) * 0.99))])],
                       json: json)
    }

    static func tests(_ doc: JSONValue) -> [(valid: Bool, data: JSONValue)] {
        guard case .array(let ts)? = doc["tests"] else { return [] }
        return ts.compactMap { t in
            guard case .bool(let v)? = t["valid"], let d = t["data"] else { return nil }
            return (v, d)
        }
    }

    /// The instance as MaskBench writes it: Python's json.dumps(data, ensure_ascii=False) after json.loads, so
    /// numbers are re-spelled the way Python prints an int or a float.
    static func pythonText(_ v: JSONValue) -> String {
        switch v {
        case .number(let n):
            if !n.contains(where: { ".eE".contains($0) }) { return n.allSatisfy { $0 == "-" || $0 == "0" } ? "0" : n }
            guard let d = Double(n), d.isFinite else { return n }
            return d.description
        case .array(let a): return "[" + a.map(pythonText).joined(separator: ", ") + "]"
        case .object(let m): return "{" + m.map { JSONValue.string($0.0).pythonText + ": " + pythonText($0.1) }.joined(separator: ", ") + "}"
        default: return v.pythonText
        }
    }
}
