// The reference fixture written by Tests/reference/eval_metrics.py: scored pairs and nltk Porter stems.
import Foundation

struct ReferenceFixture: Decodable {
    let cases: [[String: Value]]
    let porter: [String: String]

    enum Value: Decodable {
        case text(String), number(Double)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
        }
        var number: Double? { if case .number(let d) = self { d } else { nil } }
        var text: String? { if case .text(let s) = self { s } else { nil } }
    }

    static let shared: ReferenceFixture = {
        let url = Bundle.module.url(forResource: "Fixtures/metrics_reference", withExtension: "json")!
        return try! JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }()
}
