// Splitting a request target into path and query, and the two decodings they need:
// percent-decoding for path segments, form-decoding ("+" is space) for query pairs. No URL normalisation.

/// Path and raw query of a request target; absolute-form targets ("http://host/p") lose their authority.
/// Works on UTF-8 code units: this runs for every request, and Character iteration is several times slower.
func splitTarget(_ target: String) -> (path: String, query: Substring?) {
    let utf8 = target.utf8
    var start = utf8.startIndex
    let end = utf8.firstIndex(of: UInt8(ascii: "#")) ?? utf8.endIndex
    if utf8.first != UInt8(ascii: "/"), let scheme = target.range(of: "://"), scheme.upperBound <= end {
        start = utf8[scheme.upperBound..<end].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? end
        if start == end { return ("/", nil) }
    }
    guard let mark = utf8[start..<end].firstIndex(of: UInt8(ascii: "?")) else {
        return (start == utf8.startIndex && end == utf8.endIndex ? target : String(target[start..<end]), nil)
    }
    return (String(target[start..<mark]), target[utf8.index(after: mark)..<end])
}

func decodePathSegments(_ path: String) -> [String] {
    path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map {
        percentDecode(Substring($0), plusIsSpace: false)
    }
}

func decodeQuery(_ query: Substring) -> [(name: String, value: String)] {
    query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
        guard let equals = pair.firstIndex(of: "=") else {
            return (name: percentDecode(pair, plusIsSpace: true), value: "")
        }
        return (name: percentDecode(pair[..<equals], plusIsSpace: true),
                value: percentDecode(pair[pair.index(after: equals)...], plusIsSpace: true))
    }
}

/// Decodes %XX escapes (invalid ones are kept literally) and, for forms, "+" as space.
/// Bytes that are not valid UTF-8 after decoding become U+FFFD rather than failing the request.
public func percentDecode<S: StringProtocol>(_ text: S, plusIsSpace: Bool) -> String {
    let utf8 = text.utf8
    if !utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) {
        return String(text)
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count)
    var index = utf8.startIndex
    while index != utf8.endIndex {
        let byte = utf8[index]
        if byte == UInt8(ascii: "%"),
           let first = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex), first != utf8.endIndex,
           let second = utf8.index(first, offsetBy: 1, limitedBy: utf8.endIndex), second != utf8.endIndex,
           let high = hexValue(utf8[first]), let low = hexValue(utf8[second]) {
            bytes.append(high << 4 | low)
            index = utf8.index(after: second)
            continue
        }
        bytes.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
        index = utf8.index(after: index)
    }
    return String(decoding: bytes, as: UTF8.self)
}

func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
