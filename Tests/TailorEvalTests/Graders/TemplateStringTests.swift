// Template strings ({{item.x}}, {{sample.output_text}}, {{sample.output_json.k}}) and graders parsed from the
// Evals API's JSON: what renders, what is refused, and which parameter each refusal names.
import Foundation
import Testing
@testable import TailorEval

@Suite struct TemplateStringTests {
    private func json(_ text: String) -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    @Test func substitutesItemAndSampleFields() throws {
        let context = TemplateContext(item: json(#"{"q": "2+2?", "n": 3, "ok": true, "nested": {"a": [10, 20]}}"#),
                                      sample: TemplateContext.sample(outputText: #"{"answer": "4"}"#))
        #expect(try TemplateString("Q: {{item.q}} ({{ item.n }}, {{item.ok}})").render(context) == "Q: 2+2? (3, true)")
        #expect(try TemplateString("{{item.nested.a.1}}").render(context) == "20")
        #expect(try TemplateString("{{item.nested}}").render(context) == #"{"a":[10,20]}"#)
        #expect(try TemplateString("{{sample.output_json.answer}}").render(context) == "4")
        #expect(try TemplateString("{{sample.output_text}}").render(context) == #"{"answer": "4"}"#)
        #expect(try TemplateString("no braces {here}").render(context) == "no braces {here}")
    }

    @Test func plainTextHasNoOutputJSON() {
        #expect(TemplateContext.sample(outputText: "Paris")["output_json"] == nil)
        #expect(TemplateContext.sample(outputText: "42")["output_json"] == nil, "a bare number is not an object or array")
    }

    @Test func missingAndMalformedReferences() throws {
        let context = TemplateContext(item: ["q": "x"])
        #expect(throws: TemplateStringError.missing(reference: "item.answer", template: "{{item.answer}}")) {
            try TemplateString("{{item.answer}}").render(context)
        }
        #expect(throws: TemplateStringError.self) { try TemplateString("{{sample.output_text}}").render(context) }
        #expect(throws: TemplateStringError.malformed(reference: "answer", template: "{{answer}}")) { try TemplateString("{{answer}}") }
        #expect(throws: TemplateStringError.self) { try TemplateString("{{item.}}") }
        #expect(try TemplateString("{{item.a}} {{sample.output_text}}").references.map(\.text) == ["item.a", "sample.output_text"])
    }
}

@Suite struct EvalGraderParsingTests {
    private func parse(_ text: String, threshold: Bool = true) throws -> EvalGrader {
        try EvalGrader.parse(JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any],
                             param: "testing_criteria[0]", requireThreshold: threshold)
    }

    private func refusal(_ text: String, threshold: Bool = true) -> EvalParameterError? {
        do { _ = try parse(text, threshold: threshold); return nil } catch { return error as? EvalParameterError }
    }

    @Test func gradesStringCheckAndTextSimilarity() throws {
        let context = TemplateContext(item: ["label": "Paris"], sample: TemplateContext.sample(outputText: "paris"))
        let eq = try parse(#"{"type":"string_check","name":"eq","input":"{{sample.output_text}}","reference":"{{item.label}}","operation":"eq"}"#)
        #expect(try eq.grade(context).score == 0)
        let ilike = try parse(#"{"type":"string_check","name":"i","input":"{{sample.output_text}}","reference":"{{item.label}}","operation":"ilike"}"#)
        #expect(try ilike.grade(context).passed == true)
        let fuzzy = try parse(#"{"type":"text_similarity","name":"f","input":"{{sample.output_text}}","reference":"{{item.label}}","evaluation_metric":"fuzzy_match","pass_threshold":0.5}"#)
        let r = try fuzzy.grade(context)
        #expect(r.score == 0.8, "rapidfuzz WRatio('paris', 'Paris') is 80")
        #expect(r.passed == true)
    }

    @Test func multiCombinesNamedGraders() throws {
        let g = try parse(#"""
            {"type":"multi","name":"m","pass_threshold":0.5,"calculate_output":"0.5 * a + 0.5 * b",
             "graders":{"a":{"type":"string_check","name":"a","input":"{{sample.output_text}}","reference":"yes","operation":"eq"},
                        "b":{"type":"string_check","name":"b","input":"{{sample.output_text}}","reference":"no","operation":"eq"}}}
            """#)
        let r = try g.grade(TemplateContext(item: [:], sample: TemplateContext.sample(outputText: "yes")))
        #expect(r.score == 0.5 && r.passed == true && r.subScores == ["a": 1, "b": 0])
        #expect(g.templates.count == 4)
    }

    @Test func refusalsNameTheParameter() {
        let python = refusal(#"{"type":"python","name":"p","source":"def grade(s, i): return 1"}"#)
        #expect(python?.param == "testing_criteria[0].type" && python?.code == "unsupported_grader")
        #expect(python?.message.contains("'python'") == true)
        // Model graders are supported: one without its model is refused for that.
        #expect(refusal(#"{"type":"score_model","name":"s"}"#)?.param == "testing_criteria[0].model")
        #expect(refusal(#"{"type":"label_model","name":"l","model":"m"}"#)?.param == "testing_criteria[0].input")
        #expect(refusal(#"{"type":"regex","name":"r"}"#)?.message.contains("not a grader type") == true)
        let cosine = refusal(#"{"type":"text_similarity","name":"c","input":"a","reference":"b","evaluation_metric":"cosine","pass_threshold":1}"#)
        #expect(cosine?.param == "testing_criteria[0].evaluation_metric" && cosine?.message.contains("cosine") == true)
        #expect(refusal(#"{"type":"text_similarity","name":"c","input":"a","reference":"b","evaluation_metric":"rouge_9","pass_threshold":1}"#)?.param
                == "testing_criteria[0].evaluation_metric")
        #expect(refusal(#"{"type":"text_similarity","name":"c","input":"a","reference":"b","evaluation_metric":"bleu"}"#)?.param
                == "testing_criteria[0].pass_threshold")
        #expect(refusal(#"{"type":"text_similarity","name":"c","input":"a","reference":"b","evaluation_metric":"bleu"}"#, threshold: false) == nil)
        #expect(refusal(#"{"type":"string_check","name":"s","input":"{{answer}}","reference":"b","operation":"eq"}"#)?.param
                == "testing_criteria[0].input")
        #expect(refusal(#"{"type":"string_check","name":"s","input":"a","reference":"b","operation":"regex"}"#)?.param
                == "testing_criteria[0].operation")
        #expect(refusal(#"{"type":"multi","name":"m","pass_threshold":1,"calculate_output":"a + z","graders":{"a":{"type":"string_check","name":"a","input":"x","reference":"x","operation":"eq"}}}"#)?.param
                == "testing_criteria[0].calculate_output")
    }
}
