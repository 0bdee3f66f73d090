// The Evals API's `string_check` grader: eq, ne, like (contains) and ilike (case-insensitive contains), each
// scoring 1 or 0. Not template rendering: `{{item.x}}` is filled in by the caller's render function.

public struct StringCheck: Sendable, Hashable {
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case eq, ne, like, ilike

        /// Compared code point by code point, as Python's `==` and `in` do: no Unicode normalization, so "é" and
        /// "e\u{301}" differ (Swift's `String ==` would call them equal). `ilike` lowercases both sides with
        /// Python's `str.lower()`; `like` with an empty reference always matches, as `"" in s` does.
        public func score(input: String, reference: String) -> Double {
            let matched: Bool
            switch self {
            case .eq: matched = input.unicodeScalars.elementsEqual(reference.unicodeScalars)
            case .ne: matched = !input.unicodeScalars.elementsEqual(reference.unicodeScalars)
            case .like: matched = Self.contains(input.codePoints, reference.codePoints)
            case .ilike: matched = Self.contains(PythonText.lower(input.codePoints), PythonText.lower(reference.codePoints))
            }
            return matched ? 1 : 0
        }

        private static func contains(_ haystack: CodePoints, _ needle: CodePoints) -> Bool {
            guard needle.count <= haystack.count else { return false }
            guard !needle.isEmpty else { return true }
            for start in 0...(haystack.count - needle.count)
            where haystack[start..<(start + needle.count)].elementsEqual(needle) {
                return true
            }
            return false
        }
    }

    public var name: String
    public var input: String
    public var reference: String
    public var operation: Operation

    public init(name: String, input: String, reference: String, operation: Operation) {
        self.name = name
        self.input = input
        self.reference = reference
        self.operation = operation
    }

    /// Passes when the check holds (score 1): a string check has no pass_threshold of its own.
    public func grade(render: (String) throws -> String) throws -> Grade {
        let score = operation.score(input: try render(input), reference: try render(reference))
        return Grade(score: score, passed: score == 1)
    }
}

/// One grader's result: the score, and whether it passes where the grader defines passing.
public struct Grade: Sendable, Hashable {
    public var score: Double
    public var passed: Bool?

    public init(score: Double, passed: Bool?) {
        self.score = score
        self.passed = passed
    }

    /// OpenAI: "a value greater than or equal [to pass_threshold] indicates a passing grade".
    public static func passes(_ score: Double, threshold: Double) -> Bool { score >= threshold }
}
