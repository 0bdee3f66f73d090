// What can be wrong with a training file, per line, in words a user can act on (OpenAI reports "Example N,
// message M ..."). The jobs layer turns these into OpenAI's error objects.

public struct DatasetIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notJSON = "invalid_json"
        case notAnObject = "data_type"
        case unknownFormat = "unknown_format"
        case mixedFormats = "mixed_formats"
        case missingMessages = "missing_messages_list"
        case badMessage = "message_invalid"
        case unknownRole = "unrecognized_role"
        case missingContent = "missing_content"
        case noAssistant = "example_missing_assistant_message"
        case trailingUser = "trailing_user_message"
        case roleOrder = "invalid_role_order"
        case badWeight = "invalid_weight"
        case invalidToken = "invalid_token"
        case tooLong = "example_too_long"
        case noTrainableTokens = "no_trainable_tokens"
        case templateError = "chat_template_error"
        case tooFewExamples = "invalid_n_examples"
        case badField = "invalid_field"
        case encoding = "invalid_encoding"
        case badPreference = "invalid_preference_pair"
        case wrongMethod = "format_does_not_match_method"
        case badTools = "invalid_tools"
        case badToolCall = "invalid_tool_call"
    }

    public var code: Code
    /// 1-based line of the file (the example number); 0 for whole-file issues.
    public var line: Int
    /// 1-based message within the example, where one is to blame.
    public var message: Int?
    public var detail: String

    public init(_ code: Code, line: Int, message: Int? = nil, _ detail: String) {
        self.code = code; self.line = line; self.message = message; self.detail = detail
    }

    public var description: String {
        guard line > 0 else { return detail }
        return "Example \(line)" + (message.map { ", message \($0)" } ?? "") + ": " + detail
    }
}
