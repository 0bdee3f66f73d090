// Chat templates, two ways (byte 0, low bit):
//  even: one of the real templates in Tests/TailorTemplatesTests/Fixtures/templates (byte 1 picks it) rendered with
//        hostile variables: the rest of the input is JSON; an array is the message list, an object is merged over
//        the usual variables (messages, tools, documents, add_generation_prompt, ...), anything else is the content
//        of one user message. Rendered as raw variables and, where the messages have string roles, through
//        ChatContext/ChatMessage as the server builds them.
//  odd:  the rest of the input is the template source: lexed and parsed; rendered only when it cannot loop
//        unboundedly (see FUZZING.md: rendering has no step budget, templates are operator-trusted input).
// Checks: no crash, errors are TemplateError, output of a fixture template stays under a size bound.
import FuzzSupport
import Foundation
@testable import TailorTemplates

let repositoryRoot: String = ProcessInfo.processInfo.environment["TAILOR_ROOT"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

struct Fixture { let name: String; let template: ChatTemplate; let bos: String; let eos: String }

let fixtures: [Fixture] = {
    let directory = repositoryRoot + "/Tests/TailorTemplatesTests/Fixtures/templates"
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    var out: [Fixture] = []
    for name in names {
        guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8),
              case .dict(let d)? = try? TemplateValue(json: text),
              case .string(let source)? = d["template"],
              let template = try? ChatTemplate(source: source) else { continue }
        out.append(Fixture(name: name, template: template, bos: d["bos_token"]?.stringValue ?? "", eos: d["eos_token"]?.stringValue ?? ""))
    }
    require(!out.isEmpty, "no chat template fixtures under \(directory); set TAILOR_ROOT to the repository")
    return out
}()

let clock = Date(timeIntervalSince1970: 1_733_000_000)
let utc = TimeZone(identifier: "UTC")!

let sampleMessages: TemplateValue = .array([
    .dict(["role": .string("system"), "content": .string("Be brief.")]),
    .dict(["role": .string("user"), "content": .string("Hi")]),
    .dict(["role": .string("assistant"), "content": .string("Hello")]),
    .dict(["role": .string("user"), "content": .string("Bye")]),
])

func check(_ body: () throws -> String, limit: Int) {
    do {
        let out = try body()
        require(out.utf8.count <= limit, "a template rendered \(out.utf8.count) bytes")
    } catch is TemplateError {
    } catch {
        fatalError("a render threw something other than TemplateError: \(error)")
    }
}

func renderFixture(_ fixture: Fixture, _ json: String) {
    guard let value = try? TemplateValue(json: json) else { return }
    var variables: [String: TemplateValue] = [
        "messages": sampleMessages, "tools": .none, "documents": .none, "add_generation_prompt": .bool(true),
        "bos_token": .string(fixture.bos), "eos_token": .string(fixture.eos),
    ]
    switch value {
    case .array: variables["messages"] = value
    case .dict(let d): for (k, v) in d { variables[k] = v }
    default: variables["messages"] = .array([.dict(["role": .string("user"), "content": value])])
    }
    // Fixture templates only iterate over what they are given, so output is bounded by the input's size.
    let limit = 1 << 22 + 64 * json.utf8.count
    check({ try fixture.template.render(variables, now: clock, timeZone: utc) }, limit: limit)

    // The server's path: ChatMessage values from role/content strings.
    if case .array(let list)? = variables["messages"] {
        var messages: [ChatMessage] = []
        for item in list {
            guard case .dict(let m) = item, case .string(let role)? = m["role"] else { continue }
            let content = m["content"] ?? .none
            messages.append(ChatMessage(role: role, content: content, toolCallID: m["tool_call_id"]?.stringValue, name: m["name"]?.stringValue))
        }
        let tools: [TemplateValue]? = { if case .array(let t)? = variables["tools"] { return t } else { return nil } }()
        let chat = ChatContext(messages: messages, tools: tools, addGenerationPrompt: true, bosToken: fixture.bos, eosToken: fixture.eos)
        check({ try fixture.template.render(chat, now: clock, timeZone: utc) }, limit: limit)
    }
}

/// Sources that can run for ever or build huge strings are parsed but not rendered.
func safeToRender(_ source: String) -> Bool {
    // `join` and `replace` on a string multiply its length by the separator's: chained, they reach gigabytes (the
    // first 10-minute run ran out of memory on `'…' | join('…') | join('…') | join(', ')`).
    let risky = ["range", "*", "macro", "call", "recursive", "center", "ljust", "rjust", "zfill", "indent", "format", "%", "repeat",
                 "join", "replace"]
    let source = source.replacingOccurrences(of: "{%", with: "").replacingOccurrences(of: "%}", with: "")
    if risky.contains(where: { source.contains($0) }) { return false }
    return source.components(separatedBy: "for").count <= 2
}

func fuzzSource(_ source: String) {
    do {
        let template = try ChatTemplate(source: source)
        guard safeToRender(source) else { return }
        check({ try template.render(["messages": sampleMessages, "add_generation_prompt": .bool(true), "bos_token": .string("<s>")],
                                    now: clock, timeZone: utc) }, limit: 1 << 22)
    } catch is TemplateError {
    } catch {
        fatalError("parsing threw something other than TemplateError: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 1, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if input[0] & 1 == 0 {
        renderFixture(fixtures[Int(input[1]) % fixtures.count], String(decoding: input[2...], as: UTF8.self))
    } else {
        fuzzSource(String(decoding: input[1...], as: UTF8.self))
    }
    return 0
}
