// score_model and label_model graders without a model: parsing OpenAI's shapes (and the errors naming the parameter),
// the schema the grading model answers under, the rendered request, and reading answers back into scores.
import Foundation
import Testing
@testable import TailorEval

@Suite struct ModelGraderTests {
    /// Answers with a fixed text and records what it was asked.
    final class Canned: GradingModel {
        let text: String
        var asked: [GradingRequest] = []
        init(_ text: String) { self.text = text }
        func answer(_ request: GradingRequest) throws -> GradingAnswer {
            asked.append(request)
            return GradingAnswer(text: text, promptTokens: 12, completionTokens: 5)
        }
    }

    let scoreJSON: [String: Any] = [
        "type": "score_model", "name": "helpful", "model": "SmolLM2-135M-Instruct", "range": [1, 5], "pass_threshold": 3,
        "input": [["role": "developer", "content": "Rate the answer from 1 to 5."],
                  ["role": "user", "content": [["type": "input_text", "text": "Q: {{item.question}} A: {{sample.output_text}}"]]]],
        "sampling_params": ["temperature": 0.5, "max_completions_tokens": 20, "seed": 7],
    ]

    let labelJSON: [String: Any] = [
        "type": "label_model", "name": "tone", "model": "SmolLM2-135M-Instruct",
        "input": [["role": "user", "content": "Is '{{sample.output_text}}' polite?"]],
        "labels": ["polite", "rude", "neutral"], "passing_labels": ["polite", "neutral"],
    ]

    func context(_ output: String) -> TemplateContext {
        TemplateContext(item: ["question": "2+2?"], sample: TemplateContext.sample(outputText: output))
    }

    @Test func scoreModelRendersItsInputAndReadsTheScore() throws {
        let g = try EvalGrader.parse(scoreJSON, param: "testing_criteria[0]", requireThreshold: true)
        #expect(g.type == "score_model" && g.name == "helpful" && g.gradingModel == "SmolLM2-135M-Instruct")
        let model = Canned(#"{"score": 4}"#)
        let r = try g.grade(context("4"), model: model)
        #expect(r.score == 4 && r.passed == true)
        #expect(r.answer?.promptTokens == 12)
        let asked = try #require(model.asked.first)
        #expect(asked.messages.map(\.role) == ["system", "user"])
        #expect(asked.messages[1].content == "Q: 2+2? A: 4")
        #expect(asked.temperature == 0.5 && asked.maxTokens == 20 && asked.seed == 7)
        let schema = try JSONSerialization.jsonObject(with: Data(asked.schema.utf8)) as! [String: Any]
        let score = (schema["properties"] as! [String: Any])["score"] as! [String: Any]
        #expect(score["minimum"] as? Int == 1 && score["maximum"] as? Int == 5)
        #expect(schema["required"] as? [String] == ["score"])

        #expect(try g.grade(context("4"), model: Canned(#"{"score": 2.5}"#)).passed == false)
        #expect(try g.grade(context("4"), model: Canned(#"{"score": 3}"#)).passed == true, "at the threshold passes")
    }

    @Test func scoreOutsideTheRangeOrUnreadableIsAnError() throws {
        let g = try EvalGrader.parse(scoreJSON, param: "grader", requireThreshold: false)
        #expect(throws: GraderError.self) { try g.grade(context("x"), model: Canned(#"{"score": 9}"#)) }
        #expect(throws: GraderError.self) { try g.grade(context("x"), model: Canned(#"{"score": "#)) }
        #expect(throws: GraderError.self) { try g.grade(context("x"), model: Canned(#"{"other": 1}"#)) }
        #expect(throws: GraderError.self) { try g.grade(context("x")) }
    }

    @Test func scoreModelDefaults() throws {
        var json = scoreJSON
        json.removeValue(forKey: "range"); json.removeValue(forKey: "sampling_params"); json.removeValue(forKey: "pass_threshold")
        guard case .model(let g, _) = try EvalGrader.parse(json, param: "grader", requireThreshold: false) else {
            Issue.record("not a model grader"); return
        }
        #expect(g.kind == .score(range: 0...1, passThreshold: nil))
        #expect(g.temperature == 0 && g.maxTokens == 64)
        // A criterion has no pass without a threshold.
        #expect(throws: EvalParameterError.self) { try EvalGrader.parse(json, param: "testing_criteria[0]", requireThreshold: true) }
        // Bounds that are not integers are not put in the grammar, but still checked.
        json["range"] = [0, 0.5]
        guard case .model(let half, _) = try EvalGrader.parse(json, param: "grader", requireThreshold: false) else { return }
        #expect(!half.schema.contains("maximum"))
        #expect(throws: GraderError.self) { try half.grade(answer: #"{"score": 0.75}"#) }
    }

    @Test func labelModelPassesOnPassingLabels() throws {
        let g = try EvalGrader.parse(labelJSON, param: "testing_criteria[1]", requireThreshold: true)
        let polite = try g.grade(context("please"), model: Canned(#"{"label": "polite"}"#))
        #expect(polite.score == 1 && polite.passed == true)
        let rude = try g.grade(context("no"), model: Canned(#"{"label": "rude"}"#))
        #expect(rude.score == 0 && rude.passed == false)
        #expect(throws: GraderError.self) { try g.grade(context("x"), model: Canned(#"{"label": "angry"}"#)) }
        guard case .model(let m, _) = g else { return }
        let schema = try JSONSerialization.jsonObject(with: Data(m.schema.utf8)) as! [String: Any]
        let label = (schema["properties"] as! [String: Any])["label"] as! [String: Any]
        #expect(label["enum"] as? [String] == ["polite", "rude", "neutral"])
    }

    @Test func badShapesNameTheParameter() throws {
        func param(_ json: [String: Any]) -> String? {
            do { _ = try EvalGrader.parse(json, param: "testing_criteria[0]", requireThreshold: true); return nil }
            catch let e as EvalParameterError { return e.param } catch { return "other" }
        }
        var j = labelJSON; j["passing_labels"] = ["angry"]
        #expect(param(j) == "testing_criteria[0].passing_labels")
        j = labelJSON; j.removeValue(forKey: "labels")
        #expect(param(j) == "testing_criteria[0].labels")
        j = labelJSON; j.removeValue(forKey: "model")
        #expect(param(j) == "testing_criteria[0].model")
        j = labelJSON; j["input"] = [["role": "robot", "content": "x"]]
        #expect(param(j) == "testing_criteria[0].input[0].role")
        j = scoreJSON; j["range"] = [5, 1]
        #expect(param(j) == "testing_criteria[0].range")
        j = scoreJSON; j["sampling_params"] = ["temperature": 3]
        #expect(param(j) == "testing_criteria[0].sampling_params.temperature")
        j = scoreJSON; j["input"] = [["role": "user", "content": "{{nothing.here}}"]]
        #expect(param(j) == "testing_criteria[0].input[0].content")
        // A model grader inside a multi grader is refused by name.
        let multi: [String: Any] = ["type": "multi", "name": "m", "calculate_output": "a", "pass_threshold": 0.5,
                                    "graders": ["a": scoreJSON]]
        #expect(param(multi) == "testing_criteria[0].graders.a.type")
        // python stays a clear refusal.
        #expect(param(["type": "python", "name": "p", "source": "def grade(s, i): return 1"]) == "testing_criteria[0].type")
    }

    @Test func theSampleSaysWhetherItIsJSON() {
        #expect(TemplateContext.sample(outputText: #"{"a": 1}"#)["output_json_valid"] as? Bool == true)
        #expect(TemplateContext.sample(outputText: "plain")["output_json_valid"] as? Bool == false)
        let check = StringCheck(name: "json", input: "{{sample.output_json_valid}}", reference: "true", operation: .eq)
        let g = EvalGrader.stringCheck(check, templates: [])
        #expect((try? g.grade(TemplateContext(item: [:], sample: TemplateContext.sample(outputText: "[1]"))))?.score == 1)
        #expect((try? g.grade(TemplateContext(item: [:], sample: TemplateContext.sample(outputText: "nope"))))?.score == 0)
    }
}
