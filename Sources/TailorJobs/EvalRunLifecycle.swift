// An eval run's lifecycle as a pure function (queued → in_progress → completed | failed, and canceled from either
// unfinished state), and its running counts. The store applies a transition inside one transaction; nothing here
// touches the store, a thread or a model.
import Foundation
import TailorStore

public enum EvalRunEvent: Sendable, Equatable {
    case start, complete, fail, cancel
}

public enum EvalRunLifecycle {
    /// The status after `event`, or nil when the event does not apply (cancelling a completed run, completing a
    /// canceled one: the first writer wins and the second learns it lost).
    public static func apply(_ event: EvalRunEvent, to status: EvalRunStatus) -> EvalRunStatus? {
        switch (event, status) {
        case (.start, .queued), (.start, .inProgress): .inProgress
        case (.complete, .inProgress): .completed
        case (.fail, .queued), (.fail, .inProgress): .failed
        case (.cancel, .queued), (.cancel, .inProgress): .canceled
        default: nil
        }
    }
}

/// What a run has produced so far: OpenAI's result_counts, per_model_usage and per_testing_criteria_results, kept
/// as one JSON column updated with each output item.
public struct EvalTally: Codable, Sendable, Equatable {
    public struct ModelUsage: Codable, Sendable, Equatable {
        public var model: String
        public var invocations = 0
        public var promptTokens = 0
        public var completionTokens = 0
        /// Optional so that tallies stored before it was counted still decode.
        public var cachedTokens: Int?
    }

    /// One model's answer for an item, as per_model_usage counts it.
    public typealias ModelTokens = (model: String, promptTokens: Int, completionTokens: Int, cachedTokens: Int)

    public struct Criterion: Codable, Sendable, Equatable {
        /// The testing criterion's id (`name-uuid`), as OpenAI reports it.
        public var id: String
        public var passed = 0
        public var failed = 0
    }

    public var total = 0
    public var passed = 0
    public var failed = 0
    public var errored = 0
    public var usage: [ModelUsage] = []
    public var criteria: [Criterion]

    public init(criteria: [String]) {
        self.criteria = criteria.map { Criterion(id: $0) }
    }

    /// Counts one output item: its status ("pass", "fail", "error"), each criterion's pass (by position; an errored
    /// grader counts as failed), and the tokens of every model that answered (the sampled one, grading models).
    public mutating func add(status: String, criteriaPassed: [Bool], usage models: [ModelTokens]) {
        total += 1
        switch status {
        case "pass": passed += 1
        case "fail": failed += 1
        default: errored += 1
        }
        for (i, ok) in criteriaPassed.enumerated() where criteria.indices.contains(i) {
            if ok { criteria[i].passed += 1 } else { criteria[i].failed += 1 }
        }
        for m in models {
            if let i = usage.firstIndex(where: { $0.model == m.model }) {
                usage[i].invocations += 1
                usage[i].promptTokens += m.promptTokens
                usage[i].completionTokens += m.completionTokens
                usage[i].cachedTokens = (usage[i].cachedTokens ?? 0) + m.cachedTokens
            } else {
                usage.append(ModelUsage(model: m.model, invocations: 1, promptTokens: m.promptTokens, completionTokens: m.completionTokens,
                                        cachedTokens: m.cachedTokens))
            }
        }
    }

    public var json: String { String(decoding: try! JSONEncoder().encode(self), as: UTF8.self) }

    public static func decode(_ text: String) -> EvalTally? { try? JSONDecoder().decode(EvalTally.self, from: Data(text.utf8)) }
}
