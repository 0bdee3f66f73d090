// Python's str methods on Swift strings, counted in Unicode scalars as Python counts code points.
// Only what chat templates call; `format` handles positional and named fields without format specs.

enum PythonString {
    static func strip(_ text: String, _ chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let scalars = text.unicodeScalars
        let set = chars.map { Array($0.unicodeScalars) }
        func strippable(_ scalar: Unicode.Scalar) -> Bool { set?.contains(scalar) ?? scalar.isPythonWhitespace }
        var start = scalars.startIndex, end = scalars.endIndex
        if leading { while start < end && strippable(scalars[start]) { start = scalars.index(after: start) } }
        if trailing {
            while end > start {
                let previous = scalars.index(before: end)
                guard strippable(scalars[previous]) else { break }
                end = previous
            }
        }
        if start == scalars.startIndex && end == scalars.endIndex { return text }
        return String(scalars[start..<end])
    }

    static func split(_ text: String, _ separator: String?, maxSplit: Int = -1) -> [String] {
        guard let separator else {
            // No separator: runs of whitespace split, and empty strings never appear.
            var parts: [String] = []
            var current = String.UnicodeScalarView()
            var inWord = false
            let scalars = Array(text.unicodeScalars)
            var i = 0
            while i < scalars.count {
                let scalar = scalars[i]
                if scalar.isPythonWhitespace {
                    if inWord {
                        parts.append(String(current))
                        current = String.UnicodeScalarView()
                        inWord = false
                    }
                } else {
                    if !inWord && maxSplit >= 0 && parts.count == maxSplit {
                        var rest = scalars[i...][...]
                        while let last = rest.last, last.isPythonWhitespace { rest = rest.dropLast() }
                        parts.append(String(String.UnicodeScalarView(rest)))
                        return parts
                    }
                    current.append(scalar)
                    inWord = true
                }
                i += 1
            }
            if inWord { parts.append(String(current)) }
            return parts
        }
        // UTF-8 is self-synchronising, so matching bytes is matching code points, and far cheaper.
        let source = Array(text.utf8), needle = Array(separator.utf8)
        var parts: [String] = []
        var start = 0
        while maxSplit < 0 || parts.count < maxSplit, let match = byteSearch(source, needle, from: start) {
            parts.append(String(decoding: source[start..<match], as: UTF8.self))
            start = match + needle.count
        }
        parts.append(String(decoding: source[start...], as: UTF8.self))
        return parts
    }

    /// First byte offset at or after `from` where `needle` occurs in `source`.
    static func byteSearch(_ source: [UInt8], _ needle: [UInt8], from: Int = 0) -> Int? {
        guard let first = needle.first else { return from <= source.count ? from : nil }
        guard source.count >= needle.count else { return nil }
        var i = from
        let last = source.count - needle.count
        while i <= last {
            if source[i] == first {
                var j = 1
                while j < needle.count && source[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func rsplit(_ text: String, _ separator: String, maxSplit: Int) -> [String] {
        guard maxSplit >= 0 else { return split(text, separator) }
        let reversed = { (s: String) in String(String.UnicodeScalarView(s.unicodeScalars.reversed())) }
        return split(reversed(text), reversed(separator), maxSplit: maxSplit).reversed().map(reversed)
    }

    /// `str.splitlines()`, which breaks on more than `\n`.
    static func splitLines(_ text: String, keepEnds: Bool = false) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let scalar = scalars[i]
            switch scalar.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                var end = [scalar]
                if scalar == "\r", i + 1 < scalars.count, scalars[i + 1] == "\n" {
                    end.append("\n")
                    i += 1
                }
                if keepEnds { current.append(contentsOf: end) }
                lines.append(String(current))
                current = String.UnicodeScalarView()
            default:
                current.append(scalar)
            }
            i += 1
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    static func replace(_ text: String, _ old: String, _ new: String, count: Int = -1) -> String {
        if count == 0 { return text }
        if old.isEmpty {
            // Python inserts `new` before every character and at the end.
            var out = String.UnicodeScalarView()
            var done = 0
            for scalar in text.unicodeScalars {
                if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars); done += 1 }
                out.append(scalar)
            }
            if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        let parts = split(text, old, maxSplit: count)
        return parts.joined(separator: new)
    }

    /// Index in code points of the first (or last) occurrence, or -1.
    static func find(_ text: String, _ needle: String, reverse: Bool = false) -> Int {
        let source = Array(text.utf8), target = Array(needle.utf8)
        var match: Int?
        if reverse {
            var from = 0
            while let next = byteSearch(source, target, from: from) {
                match = next
                from = next + 1
                if next >= source.count { break }
            }
        } else {
            match = byteSearch(source, target)
        }
        guard let match else { return -1 }
        // Count code points before the match: every byte that does not continue a multi-byte sequence.
        return source[..<match].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }

    static func contains(_ text: String, _ needle: String) -> Bool {
        byteSearch(Array(text.utf8), Array(needle.utf8)) != nil
    }

    static func count(_ text: String, _ needle: String) -> Int {
        needle.isEmpty ? text.unicodeScalars.count + 1 : split(text, needle).count - 1
    }

    /// Python's `str.title()`: a letter after a cased letter is lowered, any other letter is raised.
    static func title(_ text: String) -> String {
        var out = ""
        var previousCased = false
        for scalar in text.unicodeScalars {
            let character = String(scalar)
            out += previousCased ? character.lowercased() : character.uppercased()
            previousCased = scalar.properties.isCased
        }
        return out
    }

    static func capitalize(_ text: String) -> String {
        guard let first = text.unicodeScalars.first else { return text }
        return String(first).uppercased() + String(text.unicodeScalars.dropFirst()).lowercased()
    }

    /// jinja2's `title` filter (not `str.title`): words start after whitespace, `-`, or an opening bracket.
    static func titleFilter(_ text: String) -> String {
        var out = ""
        var atWordStart = true
        for scalar in text.unicodeScalars {
            let separator = scalar.isPythonWhitespace || "-({[<".unicodeScalars.contains(scalar)
            if separator {
                out.unicodeScalars.append(scalar)
                atWordStart = true
            } else {
                out += atWordStart ? String(scalar).uppercased() : String(scalar).lowercased()
                atWordStart = false
            }
        }
        return out
    }

    /// `str.format` with `{}`, `{0}`, `{name}` fields and `{{`/`}}` escapes; format specs are refused.
    static func format(_ text: String, _ arguments: CallArguments) throws -> String {
        var out = ""
        var auto = 0
        var scalars = text.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            if scalar == "}" {
                guard scalars.first == "}" else { throw TemplateError(.type, "Single '}' encountered in format string") }
                scalars.removeFirst()
                out += "}"
                continue
            }
            guard scalar == "{" else { out.unicodeScalars.append(scalar); continue }
            if scalars.first == "{" {
                scalars.removeFirst()
                out += "{"
                continue
            }
            guard let close = scalars.firstIndex(of: "}") else { throw TemplateError(.type, "Single '{' encountered in format string") }
            let field = String(String.UnicodeScalarView(scalars[..<close]))
            scalars = scalars[scalars.index(after: close)...]
            if field.contains(":") || field.contains("!") {
                throw TemplateError(.unsupported, "format specifications in str.format ('{\(field)}') are not supported")
            }
            let value: Value?
            if field.isEmpty {
                value = auto < arguments.positional.count ? arguments.positional[auto] : nil
                auto += 1
            } else if let position = Int(field) {
                value = position < arguments.positional.count ? arguments.positional[position] : nil
            } else {
                value = arguments.keyword(field)
            }
            guard let value else { throw TemplateError(.type, "Replacement index \(field.isEmpty ? String(auto - 1) : field) out of range for positional args tuple") }
            out += value.pythonString
        }
        return out
    }

    /// printf-style `%` formatting with %s, %r, %d, %i, %f and %%, as the `format` filter and `str % args` use it.
    static func percentFormat(_ text: String, _ values: [Value]) throws -> String {
        var out = ""
        var remaining = values[...]
        var scalars = text.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            guard scalar == "%" else { out.unicodeScalars.append(scalar); continue }
            guard let code = scalars.popFirst() else { throw TemplateError(.type, "incomplete format") }
            if code == "%" { out += "%"; continue }
            guard let value = remaining.popFirst() else { throw TemplateError(.type, "not enough arguments for format string") }
            switch code {
            case "s": out += value.pythonString
            case "r": out += value.pythonRepr
            case "d", "i":
                guard let number = value.numeric else { throw TemplateError(.type, "%\(code) format: a real number is required, not \(value.typeName)") }
                out += String(Int(number.rounded(.towardZero)))
            case "f":
                guard let number = value.numeric else { throw TemplateError(.type, "must be real number, not \(value.typeName)") }
                out += pythonFixed(number, digits: 6)
            default:
                throw TemplateError(.unsupported, "the %\(Character(code)) conversion is not supported")
            }
        }
        if !remaining.isEmpty { throw TemplateError(.type, "not all arguments converted during string formatting") }
        return out
    }

    /// `%.Nf`, correctly rounded like C's printf.
    static func pythonFixed(_ number: Double, digits: Int) -> String {
        var text = ""
        let scale = (0..<digits).reduce(1.0) { product, _ in product * 10 }
        let scaled = (number.magnitude * scale).rounded(.toNearestOrEven)
        let whole = (scaled / scale).rounded(.towardZero)
        let fraction = Int((scaled - whole * scale).rounded())
        text = String(Int(whole))
        if digits > 0 {
            let fractionText = String(fraction)
            text += "." + String(repeating: "0", count: max(0, digits - fractionText.count)) + fractionText
        }
        return (number.sign == .minus && scaled != 0 ? "-" : "") + text
    }
}
