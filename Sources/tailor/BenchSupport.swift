// Shared pieces of `tailor bench`: medians, peak memory, and one JSON line of results per benchmark.
import Foundation

#if canImport(Glibc)
import Glibc
private let RUSAGE_SELF_ID = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
private let RUSAGE_SELF_ID = RUSAGE_SELF
#endif

enum BenchSupport {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Peak resident set size of this process so far, in bytes (ru_maxrss is in KiB on Linux).
    static var peakRSS: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF_ID, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    static func emit(_ values: [String: Any], json: Bool) {
        if json {
            let data = try! JSONSerialization.data(withJSONObject: values, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for k in values.keys.sorted() { print("\(k): \(values[k]!)") }
        }
    }

    static func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func round(_ x: Double, _ places: Int = 1) -> Double {
        let p = pow(10, Double(places))
        return (x * p).rounded() / p
    }
}
