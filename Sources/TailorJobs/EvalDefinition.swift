// An eval and its runs as stored rows, built from requests that have already been checked: the one way they are
// made, whether a client creates them (TailorAPI's EvalHandlers and EvalRunHandlers) or a fine-tuning job does
// (JobEvaluation). Not the checking itself, which names request parameters and stays with the callers.
import Foundation
import TailorStore

public enum EvalDefinition {
    /// The sample namespace a completions run fills, as OpenAI's `include_sample_schema` describes it.
    public static var sampleSchema: [String: Any] { [
        "type": "object",
        "properties": ["model": ["type": "string"], "choices": ["type": "array"], "output_text": ["type": "string"],
                       "output_json": ["type": "object"]],
        "required": ["output_text"],
    ] }

    /// The testing criteria as stored: as given, plus OpenAI's `id` (`name-uuid`).
    public static func criteriaWithIDs(_ criteria: [[String: Any]]) -> [[String: Any]] {
        criteria.map { c in
            var c = c
            c["id"] = "\(c["name"] as? String ?? "criterion")-\(UUID().uuidString.lowercased())"
            return c
        }
    }

    /// A `custom` eval: the served data_source_config wraps `itemSchema` (and the sample schema when asked).
    public static func eval(id: String = IDGenerator.make(prefix: "eval_"), project: String, name: String,
                            itemSchema: [String: Any], includeSample: Bool, criteria: [[String: Any]],
                            metadata: String?) throws -> EvalRecord {
        var properties: [String: Any] = ["item": itemSchema]
        var required = ["item"]
        if includeSample { properties["sample"] = sampleSchema; required.append("sample") }
        let config: [String: Any] = ["type": "custom", "schema": ["type": "object", "properties": properties, "required": required]]
        return EvalRecord(id: id, projectID: project, name: name, dataSourceConfig: try json(config),
                          testingCriteria: try json(criteria), metadata: metadata, createdAt: Int(Date().timeIntervalSince1970))
    }

    /// A queued run of `eval` over `items` (`{"item": …, "sample": …}` each), its counts started at zero for
    /// every criterion. `model` is "" for a jsonl run.
    public static func run(id: String = IDGenerator.make(prefix: "evalrun_"), eval: EvalRecord, name: String?, model: String,
                           dataSource: [String: Any], items: [[String: Any]], metadata: String?) throws -> EvalRunRecord {
        let criteria = (try? JSONSerialization.jsonObject(with: Data(eval.testingCriteria.utf8)) as? [[String: Any]]) ?? []
        return EvalRunRecord(id: id, evalID: eval.id, projectID: eval.projectID,
                             name: name ?? (model.isEmpty ? "jsonl" : model), model: model,
                             dataSource: try json(dataSource), items: try json(items), metadata: metadata,
                             tally: EvalTally(criteria: criteria.compactMap { $0["id"] as? String }).json,
                             createdAt: Int(Date().timeIntervalSince1970))
    }

    public static func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }
}
