// Reading JSON request bodies with OpenAI's error behaviour: a missing field names itself as `param`, a field of the
// wrong type or range says what it must be. Unknown keys are ignored (SDKs add new optional fields over time).
import Foundation
import TailorHTTP

struct RequestBody {
    let fields: [String: Any]

    /// An empty body is an empty object (the SDK POSTs pause/resume/cancel with Content-Length: 0).
    init(_ request: HTTPRequest) throws {
        guard case .bytes(let bytes) = request.body, !bytes.isEmpty else { fields = [:]; return }
        guard let any = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            throw APIError(.badRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", code: "invalid_json")
        }
        guard let object = any as? [String: Any] else {
            throw APIError(.badRequest, "The request body must be a JSON object.", code: "invalid_json")
        }
        fields = object
    }

    init(fields: [String: Any]) { self.fields = fields }

    func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }
    func raw(_ key: String) -> Any? { has(key) ? fields[key] : nil }

    /// A string field that names something (an id, a model, a suffix, a keyword): control characters are refused.
    func string(_ key: String, param: String? = nil) throws -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v as? String else { throw APIError.invalid(param ?? key, "'\(param ?? key)' must be a string.", code: "invalid_type") }
        // These fields are ids, names and keywords, matched exactly; SQLite would cut one at a NUL.
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.invalid(param ?? key, "'\(param ?? key)' must not contain control characters.")
        }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw APIError.missing(key) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = raw(key) else { return nil }
        guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else {
            throw APIError.invalid(key, "'\(key)' must be a boolean.", code: "invalid_type")
        }
        return n.boolValue
    }

    func number(_ key: String, in range: ClosedRange<Double>? = nil, param: String? = nil) throws -> Double? {
        guard let v = raw(key) else { return nil }
        let name = param ?? key
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else {
            throw APIError.invalid(name, "'\(name)' must be a number.", code: "invalid_type")
        }
        let d = n.exactDouble
        if let range, !range.contains(d) {
            throw APIError.invalid(name, "'\(name)' must be between \(Self.fmt(range.lowerBound)) and \(Self.fmt(range.upperBound)); got \(Self.fmt(d)).")
        }
        return d
    }

    func integer(_ key: String, in range: ClosedRange<Int>? = nil, param: String? = nil) throws -> Int? {
        guard let d = try number(key, param: param) else { return nil }
        let name = param ?? key
        guard d == d.rounded(), abs(d) < 9e15 else { throw APIError.invalid(name, "'\(name)' must be an integer.", code: "invalid_type") }
        let i = Int(d)
        if let range, !range.contains(i) {
            throw APIError.invalid(name, "'\(name)' must be between \(range.lowerBound) and \(range.upperBound); got \(i).")
        }
        return i
    }

    func object(_ key: String) throws -> RequestBody? {
        guard let v = raw(key) else { return nil }
        guard let d = v as? [String: Any] else { throw APIError.invalid(key, "'\(key)' must be an object.", code: "invalid_type") }
        return RequestBody(fields: d)
    }

    static func fmt(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
}
