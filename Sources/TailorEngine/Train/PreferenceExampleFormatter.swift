// One line of a DPO training file, in OpenAI's preference format — {"input": {"messages": [...], "tools": [...]},
// "preferred_output": [assistant message], "non_preferred_output": [assistant message]} — → two examples, the
// conversation with each answer. Loss covers the answer alone (its tokens through the end-of-turn token), never the
// assistant turns of the shared input. Not here: the chat rendering itself (ChatExampleFormatter).
import Foundation
import TailorTemplates

enum PreferenceExampleFormatter {
    static let keys: Set<String> = ["input", "preferred_output", "non_preferred_output"]

    /// (chosen, rejected): the same conversation, ending in the preferred and in the non-preferred answer.
    static func format(_ o: [String: Any], tools: [TemplateValue]?, line: Int, model: LanguageModel,
                       specials: [String]) throws -> (TrainingExample, TrainingExample) {
        if let unknown = o.keys.sorted().first(where: { !keys.contains($0) }) {
            throw DatasetIssue(.badField, line: line, "unexpected key \"\(unknown)\"; a preference example has \"input\", \"preferred_output\" and \"non_preferred_output\"")
        }
        guard let input = o["input"] as? [String: Any] else {
            throw DatasetIssue(.badPreference, line: line, "\"input\" must be an object with the conversation's \"messages\"")
        }
        guard let messages = input["messages"] as? [Any], !messages.isEmpty else {
            throw DatasetIssue(.missingMessages, line: line, "\"input.messages\" must be a non-empty list of messages")
        }
        let preferred = try answer(o, "preferred_output", line: line)
        let rejected = try answer(o, "non_preferred_output", line: line)
        func canonical(_ m: [String: Any]) -> Data? { try? JSONSerialization.data(withJSONObject: m, options: [.sortedKeys]) }
        guard canonical(preferred) != canonical(rejected) else {
            throw DatasetIssue(.badPreference, line: line, "\"preferred_output\" and \"non_preferred_output\" are identical; a pair needs two different answers")
        }
        // The input's own assistant turns are context: weight 0 keeps them out of the loss.
        let context = messages.map { m -> Any in
            guard var m = m as? [String: Any], m["role"] as? String == "assistant" else { return m }
            m["weight"] = 0
            return m
        }
        var chat: [String: Any] = ["messages": context + [preferred]]
        let chosen = try ChatExampleFormatter.format(chat, tools: tools, line: line, model: model, specials: specials)
        chat["messages"] = context + [rejected]
        let other = try ChatExampleFormatter.format(chat, tools: tools, line: line, model: model, specials: specials)
        return (chosen, other)
    }

    /// `key`'s single assistant message (OpenAI's outputs are one-element lists).
    static func answer(_ o: [String: Any], _ key: String, line: Int) throws -> [String: Any] {
        guard let list = o[key] as? [Any] else {
            throw DatasetIssue(.badPreference, line: line, "\"\(key)\" is missing; it must be a list holding one assistant message")
        }
        guard list.count == 1, var message = list[0] as? [String: Any] else {
            throw DatasetIssue(.badPreference, line: line, "\"\(key)\" must hold exactly one assistant message (it has \(list.count))")
        }
        guard message["role"] as? String == "assistant" else {
            throw DatasetIssue(.badPreference, line: line, "the message in \"\(key)\" must have role \"assistant\"")
        }
        if message["weight"] != nil {
            throw DatasetIssue(.badWeight, line: line, "\"weight\" does not apply to \"\(key)\": the whole answer is compared")
        }
        message["weight"] = 1
        return message
    }
}
