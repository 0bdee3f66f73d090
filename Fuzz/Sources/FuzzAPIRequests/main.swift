// The request-body validation of every TailorAPI endpoint that reads a body, without a model or a database: the
// same internal functions the handlers call, in the handlers' order, up to the first call into the registry, store or
// inference service. Checks: no crash; every rejection is an APIError whose OpenAI error body is valid JSON; what is
// accepted is within the documented ranges; JSONValue round-trips what JSONSerialization reads.
//
// Input layout: byte 0 picks the endpoint (mod 5); the rest is the request body.
import FuzzSupport
import Foundation
@testable import TailorAPI
import enum TailorGrammar.JSONSchemaGrammar
import enum TailorGrammar.GrammarError
import TailorHTTP
@testable import TailorJobs

func request(_ target: String, _ body: [UInt8]) -> HTTPRequest {
    HTTPRequest(head: HTTPRequestHead(method: "POST", target: target, requestID: "req_fuzz"), body: body.isEmpty ? .empty : .bytes(body))
}

func checkErrorBody(_ error: Error) {
    guard let apiError = error as? APIError else {
        // Handlers map anything else to a 500; JSONSerialization writing errors are the only other kind expected here.
        return
    }
    let response = apiError.response
    require((400...599).contains(response.status), "error status \(response.status)")
    guard case .bytes(let bytes) = response.body else { fatalError("an error body that is not bytes") }
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
          let inner = object["error"] as? [String: Any], inner["message"] is String else {
        fatalError("the error body is not OpenAI's JSON error: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
    }
}

func sampling(_ body: RequestBody, keys: [String]) throws -> SamplingRequest {
    let s = try SamplingRequest(body, maxTokensKeys: keys)
    require((1...128).contains(s.n))
    require(s.maxTokens.map { (1...1_000_000).contains($0) } ?? true)
    require((0...2).contains(s.sampling.temperature) && (0...1).contains(s.sampling.topP))
    require(s.stop.count <= 4)
    require(!s.includeUsage || s.stream)
    _ = try? s.budget(prompt: 10, context: 2048, param: "messages", defaultMax: 16)
    return s
}

func chat(_ bytes: [UInt8]) throws {
    let httpRequest = request("/v1/chat/completions", bytes)
    let body = try RequestBody(httpRequest)
    _ = try body.requiredString("model")
    let messages = try ChatHandlers.parseMessages(body)
    require(!messages.isEmpty)
    // Structured outputs and tools as the handler reads them, then the grammar it would compile (no vocabulary
    // needed for that): every accepted request compiles or is refused with an APIError.
    let ordered = StructuredOutput.orderedBody(httpRequest)
    let format = try StructuredOutput.format(body, ordered: ordered, messagesText: nil)
    if let tools = try ToolRequest.parse(body, ordered: ordered) {
        require(!tools.tools.isEmpty && tools.tools.count == tools.names.count)
        _ = try tools.grammar(format: format)
    } else if let format {
        do { _ = try JSONSchemaGrammar.compile(schema: format.schema) } catch let e as GrammarError { throw StructuredOutput.refusal(format, e) }
    }
    _ = try sampling(body, keys: ["max_completion_tokens", "max_tokens"])
    let wantLogprobs = try body.bool("logprobs") ?? false
    let top = try body.integer("top_logprobs", in: 0...20)
    if top != nil && !wantLogprobs { throw APIError.invalid("top_logprobs", "needs logprobs") }
    // What the handler renders: the messages as template values.
    _ = messages.map(\.templateValue)
}

func completion(_ bytes: [UInt8]) throws {
    let body = try RequestBody(request("/v1/completions", bytes))
    _ = try body.requiredString("model")
    let vocabSize = 49152
    let prompt: [Int]
    switch body.raw("prompt") {
    case let s as String: prompt = Array(s.utf8).map(Int.init)
    case let a as [Any] where a.count == 1 && a[0] is String: prompt = Array((a[0] as! String).utf8).map(Int.init)
    case let ids as [Any] where !ids.isEmpty && ids.allSatisfy({ ($0 as? NSNumber).map { String(cString: $0.objCType) != "d" } ?? false }):
        prompt = ids.map { ($0 as! NSNumber).intValue }
        guard prompt.allSatisfy({ (0..<vocabSize).contains($0) }) else { throw APIError.invalid("prompt", "ids") }
    case nil: throw APIError.missing("prompt")
    default: throw APIError.invalid("prompt", "'prompt' must be ...")
    }
    guard !prompt.isEmpty else { throw APIError.invalid("prompt", "empty") }
    if let suffix = try body.string("suffix"), !suffix.isEmpty { throw APIError.invalid("suffix", "no") }
    if try body.bool("echo") == true { throw APIError.invalid("echo", "no") }
    let s = try sampling(body, keys: ["max_tokens"])
    _ = try body.integer("logprobs", in: 0...5)
    _ = try s.budget(prompt: prompt.count, context: 2048, param: "prompt", defaultMax: 16)
}

func fineTuningJob(_ bytes: [UInt8]) throws {
    let body = try RequestBody(request("/v1/fine_tuning/jobs", bytes))
    _ = try body.requiredString("model")
    _ = try body.requiredString("training_file")
    _ = try body.string("validation_file")
    var hyper = HyperparameterRequest()
    if let method = try body.object("method") {
        let methodType = try method.requiredString("type").lowercased()
        guard methodType == "supervised" else { throw APIError.invalid("method.type", "unsupported") }
        if let h = try method.object("supervised")?.object("hyperparameters") {
            hyper = try JobHandlers.parseHyper(h, prefix: "method.supervised.hyperparameters.")
        }
    }
    if let h = try body.object("hyperparameters") {
        let legacy = try JobHandlers.parseHyper(h, prefix: "hyperparameters.")
        if body.has("method") && legacy != hyper && legacy != HyperparameterRequest() { throw APIError.invalid("hyperparameters", "conflict") }
        if !body.has("method") { hyper = legacy }
    }
    if let suffix = try body.string("suffix") {
        guard (1...64).contains(suffix.count), suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw APIError.invalid("suffix", "bad suffix")
        }
    }
    _ = try body.integer("seed", in: 0...2_147_483_647)
    _ = try JobHandlers.parseMetadata(body)
    if let i = body.raw("integrations") {
        guard i is [Any] else { throw APIError.invalid("integrations", "array") }
        _ = try JSONSerialization.data(withJSONObject: i, options: [.sortedKeys])
    }
    var options = JobOptions()
    if let t = body.raw("tailor") {
        let data = try JSONSerialization.data(withJSONObject: t)
        guard let o = try? JSONDecoder().decode(JobOptions.self, from: data) else { throw APIError.invalid("tailor", "type") }
        if let problem = o.validate() { throw APIError.invalid("tailor", problem) }
        options = o
    }
    // What the handler stores, and what the job runner reads back.
    let storedHyper = try JSONEncoder().encode(hyper)
    let readHyper = try JSONDecoder().decode(HyperparameterRequest.self, from: storedHyper)
    require(readHyper == hyper, "hyperparameters do not round-trip")
    let storedOptions = try JSONEncoder().encode(options)
    let readOptions = try JSONDecoder().decode(JobOptions.self, from: storedOptions)
    require(readOptions == options, "options do not round-trip")
}

let uploadPath = NSTemporaryDirectory() + "/tailor-fuzz-upload-\(getpid()).jsonl"

func fileUpload(_ bytes: [UInt8]) throws {
    // The fields of a multipart upload (the reader itself is FuzzMultipart's): purpose and expiry are text fields,
    // then a fine-tune file is checked line by line. First line = purpose, second = expiry seconds, rest = the file.
    let lines = bytes.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
    let purpose = String(decoding: lines.first ?? [], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard FileHandlers.purposes.contains(purpose) else { throw APIError.invalid("purpose", "'\(purpose)' is not one of ...") }
    if lines.count > 1 {
        let seconds = String(decoding: lines[1], as: UTF8.self)
        guard let s = Int(seconds.trimmingCharacters(in: .whitespaces)), (3600...2_592_000).contains(s) else {
            throw APIError.invalid("expires_after[seconds]", "range")
        }
        _ = Int(Date().timeIntervalSince1970) + s
    }
    let content = lines.count > 2 ? Array(lines[2]) : []
    FileManager.default.createFile(atPath: uploadPath, contents: Data(content))
    defer { unlink(uploadPath) }
    if let problem = try JSONLCheck.firstProblem(path: uploadPath) {
        throw APIError(.badRequest, "Invalid file format for Fine-Tuning API. \(problem)", param: "file", code: "invalid_file_format")
    }
}

func similar(_ a: JSONValue, _ b: JSONValue) -> Bool {
    func number(_ v: JSONValue) -> Double? {
        switch v { case .int(let i): return Double(i); case .double(let d): return d; default: return nil }
    }
    switch (a, b) {
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(similar)
    case (.object(let x), .object(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && similar($0.1, $1.1) }
    default:
        if let x = number(a), let y = number(b) { return x == y || abs(x - y) <= 1e-15 * max(abs(x), abs(y)) }
        return a.serialized == b.serialized
    }
}

func jsonRoundTrip(_ bytes: [UInt8]) throws {
    guard let any = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return }
    let value = JSONValue(any: any)
    let text = value.serialized
    guard let again = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
        fatalError("JSONValue wrote JSON that JSONSerialization cannot read: \(text.prefix(200))")
    }
    // Not textual equality: JSONSerialization (swift-corelibs-foundation) reads some long numbers one ulp off
    // (e.g. 100303113811303113811138 and its own shortest spelling 1.0030311381130311e+24 differ), see FUZZING.md.
    require(similar(value, JSONValue(any: again)), "JSONValue is not stable: \(text.prefix(200)) vs \(JSONValue(any: again).serialized.prefix(200))")
    _ = jsonString(String(decoding: bytes, as: UTF8.self))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let body = Array(input[1...])
    do {
        switch input[0] % 5 {
        case 0: try chat(body)
        case 1: try completion(body)
        case 2: try fineTuningJob(body)
        case 3: try fileUpload(body)
        default: try jsonRoundTrip(body)
        }
    } catch {
        checkErrorBody(error)
    }
    return 0
}
