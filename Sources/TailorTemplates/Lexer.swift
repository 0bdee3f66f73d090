// Lexer: template source to tokens, with jinja2's whitespace rules (`-`/`+` markers, trim_blocks, lstrip_blocks,
// one trailing newline dropped) reproduced from jinja2/lexer.py. Not configurable: the delimiters are Jinja's.

enum TokenKind: Equatable, Sendable {
    case text(String)
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case eof
}

struct Token: Sendable {
    var kind: TokenKind
    var location: SourceLocation
}

struct Lexer {
    private let s: [Unicode.Scalar]
    /// The same source as UTF-8, and where each scalar starts in it: slices of source become Strings by copying
    /// bytes rather than appending scalars one by one.
    private let utf8: [UInt8]
    private let offsets: [Int]
    private var lineStarts: [Int] = [0]
    private var tokens: [Token] = []
    private var pos = 0
    /// jinja2's `line_starting`: the previous match ended with a newline, so lstrip_blocks may strip before a tag
    /// even when the text between has no newline.
    private var lineStarting = true

    init(source: String) {
        // jinja2 normalises \r\n and \r to \n, then drops a single trailing newline (keep_trailing_newline=False).
        var bytes = Array(source.utf8)
        if bytes.contains(UInt8(ascii: "\r")) {
            var normalized: [UInt8] = []
            normalized.reserveCapacity(bytes.count)
            for (index, byte) in bytes.enumerated() {
                if byte == UInt8(ascii: "\r") {
                    normalized.append(UInt8(ascii: "\n"))
                } else if byte != UInt8(ascii: "\n") || index == 0 || bytes[index - 1] != UInt8(ascii: "\r") {
                    normalized.append(byte)
                }
            }
            bytes = normalized
        }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        utf8 = bytes
        s = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        var starts: [Int] = []
        starts.reserveCapacity(s.count + 1)
        var offset = 0
        for scalar in s {
            starts.append(offset)
            offset += scalar.value < 0x80 ? 1 : scalar.value < 0x800 ? 2 : scalar.value < 0x10000 ? 3 : 4
        }
        starts.append(offset)
        offsets = starts
        for (index, scalar) in s.enumerated() where scalar == "\n" { lineStarts.append(index + 1) }
    }

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    func location(of index: Int) -> SourceLocation {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= index { low = mid } else { high = mid - 1 }
        }
        return SourceLocation(line: low + 1, column: index - lineStarts[low] + 1)
    }

    private enum TagKind { case variable, block, comment, raw }

    private mutating func run() throws {
        while pos < s.count {
            guard let (start, kind) = nextTag(from: pos) else {
                emitText(from: pos, to: s.count)
                break
            }
            let sign: Unicode.Scalar? = start + 2 < s.count && (s[start + 2] == "-" || s[start + 2] == "+") ? s[start + 2] : nil
            emitText(from: pos, to: textEnd(from: pos, tag: start, sign: sign, lstripAllowed: kind != .variable))
            lineStarting = false
            let afterOpen = start + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case .comment: try skipComment(openedAt: start, from: afterOpen)
            case .raw: try readRaw(openedAt: start)
            case .variable, .block: try readTag(kind, openedAt: start, from: afterOpen)
            }
        }
        tokens.append(Token(kind: .eof, location: location(of: s.count)))
    }

    /// The earliest `{{`, `{%` or `{#` at or after `index`; a `{% raw %}` is told apart from other blocks.
    private func nextTag(from index: Int) -> (Int, TagKind)? {
        var i = index
        while i + 1 < s.count {
            if s[i] == "{" {
                switch s[i + 1] {
                case "{": return (i, .variable)
                case "#": return (i, .comment)
                case "%": return (i, rawBlockEnd(at: i) != nil ? .raw : .block)
                default: break
                }
            }
            i += 1
        }
        return nil
    }

    /// Where the text before a tag ends once `-` (strip all whitespace) or lstrip_blocks (strip the indentation
    /// of a line holding only the tag) has applied. `+` keeps everything.
    private func textEnd(from start: Int, tag: Int, sign: Unicode.Scalar?, lstripAllowed: Bool) -> Int {
        if sign == "-" {
            var end = tag
            while end > start && s[end - 1].isPythonWhitespace { end -= 1 }
            return end
        }
        guard sign != "+", lstripAllowed else { return tag }
        var lineStart = tag
        while lineStart > start && s[lineStart - 1] != "\n" { lineStart -= 1 }
        let foundNewline = lineStart > start
        guard foundNewline || lineStarting, lineStart < tag else { return tag }
        return s[lineStart..<tag].allSatisfy(\.isPythonWhitespace) ? lineStart : tag
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: utf8[offsets[start]..<offsets[end]], as: UTF8.self)
    }

    private mutating func emitText(from start: Int, to end: Int) {
        guard end > start else { return }
        tokens.append(Token(kind: .text(text(start, end)), location: location(of: start)))
    }

    private func matches(_ literal: String, at index: Int) -> Bool {
        var i = index
        for scalar in literal.unicodeScalars {
            guard i < s.count, s[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    private func skipSpaces(from index: Int) -> Int {
        var i = index
        while i < s.count && s[i].isPythonWhitespace { i += 1 }
        return i
    }

    /// End of a closing `%}`, `#}` or `}}` at `index` with its whitespace handling, or nil.
    private func closeEnd(_ close: String, at index: Int, plusAllowed: Bool, trims: Bool) -> Int? {
        if index < s.count, s[index] == "-", matches(close, at: index + 1) {
            return skipSpaces(from: index + 1 + close.unicodeScalars.count)
        }
        if plusAllowed, index < s.count, s[index] == "+", matches(close, at: index + 1) {
            return index + 1 + close.unicodeScalars.count
        }
        guard matches(close, at: index) else { return nil }
        let end = index + close.unicodeScalars.count
        return trims && end < s.count && s[end] == "\n" ? end + 1 : end
    }

    private mutating func finishTag(at end: Int) {
        pos = end
        lineStarting = end > 0 && s[end - 1] == "\n"
    }

    private mutating func skipComment(openedAt start: Int, from index: Int) throws {
        var i = index
        while i < s.count {
            if let end = closeEnd("#}", at: i, plusAllowed: true, trims: true) {
                finishTag(at: end)
                return
            }
            i += 1
        }
        throw TemplateError(.syntax, "Missing end of comment tag", line: location(of: start).line, column: location(of: start).column)
    }

    /// `{%[-+]? raw [-]?%}`: returns the end of the opening tag.
    private func rawBlockEnd(at start: Int) -> Int? {
        var i = start + 2
        if i < s.count && (s[i] == "-" || s[i] == "+") { i += 1 }
        i = skipSpaces(from: i)
        guard matches("raw", at: i) else { return nil }
        i = skipSpaces(from: i + 3)
        if matches("-%}", at: i) { return skipSpaces(from: i + 3) }
        return matches("%}", at: i) ? i + 2 : nil
    }

    private mutating func readRaw(openedAt start: Int) throws {
        let bodyStart = rawBlockEnd(at: start)!
        lineStarting = s[bodyStart - 1] == "\n"
        var i = bodyStart
        while i + 1 < s.count {
            if s[i] == "{" && s[i + 1] == "%" {
                var j = i + 2
                let sign: Unicode.Scalar? = j < s.count && (s[j] == "-" || s[j] == "+") ? s[j] : nil
                if sign != nil { j += 1 }
                j = skipSpaces(from: j)
                if matches("endraw", at: j), let end = closeEnd("%}", at: skipSpaces(from: j + 6), plusAllowed: true, trims: true) {
                    emitText(from: bodyStart, to: textEnd(from: bodyStart, tag: i, sign: sign, lstripAllowed: true))
                    finishTag(at: end)
                    return
                }
            }
            i += 1
        }
        let place = location(of: start)
        throw TemplateError(.syntax, "Missing end of raw directive", line: place.line, column: place.column)
    }

    private mutating func readTag(_ kind: TagKind, openedAt start: Int, from index: Int) throws {
        tokens.append(Token(kind: kind == .block ? .blockBegin : .variableBegin, location: location(of: start)))
        pos = index
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < s.count else {
                let place = location(of: start)
                throw TemplateError(.syntax, "unexpected end of template: the tag opened here is never closed",
                                    line: place.line, column: place.column)
            }
            if balance.isEmpty {
                let end = kind == .block
                    ? closeEnd("%}", at: pos, plusAllowed: true, trims: true)
                    : closeEnd("}}", at: pos, plusAllowed: false, trims: false)
                if let end {
                    tokens.append(Token(kind: kind == .block ? .blockEnd : .variableEnd, location: location(of: pos)))
                    finishTag(at: end)
                    return
                }
            }
            if s[pos].isPythonWhitespace {
                pos = skipSpaces(from: pos)
                continue
            }
            let here = location(of: pos)
            if let (token, end) = try number(at: pos) ?? name(at: pos) ?? string(at: pos) {
                tokens.append(Token(kind: token, location: here))
                pos = end
                continue
            }
            guard let op = Lexer.operators.first(where: { matches($0, at: pos) }) else {
                throw TemplateError(.syntax, "unexpected char '\(Character(s[pos]))'", line: here.line, column: here.column)
            }
            let first = op.unicodeScalars.first!
            switch first {
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "{": balance.append("}")
            case ")", "]", "}":
                guard let expected = balance.popLast() else {
                    throw TemplateError(.syntax, "unexpected '\(op)'", line: here.line, column: here.column)
                }
                if expected != first {
                    throw TemplateError(.syntax, "unexpected '\(op)', expected '\(Character(expected))'", line: here.line, column: here.column)
                }
            default: break
            }
            tokens.append(Token(kind: .op(op), location: here))
            pos += op.unicodeScalars.count
        }
    }

    private static let operators = ["//", "**", "==", "!=", ">=", "<=",
                                    "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
                                    ">", "<", "=", ".", ":", "|", ",", ";"]

    private func digits(from index: Int, radix: Int = 10) -> Int {
        // Digits with single `_` separators between them, as Python literals allow.
        var i = index
        guard i < s.count, s[i].digitValue(radix: radix) != nil else { return index }
        while i < s.count {
            if s[i].digitValue(radix: radix) != nil { i += 1; continue }
            if s[i] == "_", i + 1 < s.count, s[i + 1].digitValue(radix: radix) != nil { i += 1; continue }
            break
        }
        return i
    }

    private func number(at index: Int) throws -> (TokenKind, Int)? {
        guard s[index].digitValue(radix: 10) != nil else { return nil }
        let intEnd = digits(from: index)
        if index == 0 || s[index - 1] != "." {
            var end = intEnd
            var isFloat = false
            if end + 1 < s.count, s[end] == ".", s[end + 1].digitValue(radix: 10) != nil {
                end = digits(from: end + 1)
                isFloat = true
            }
            if end < s.count, s[end] == "e" || s[end] == "E" {
                var e = end + 1
                if e < s.count, s[e] == "+" || s[e] == "-" { e += 1 }
                let exponentEnd = digits(from: e)
                if exponentEnd > e { end = exponentEnd; isFloat = true }
            }
            if isFloat {
                let text = String(String.UnicodeScalarView(s[index..<end].filter { $0 != "_" }))
                return (.float(Double(text)!), end)
            }
        }
        if s[index] == "0", index + 1 < s.count, let radix = ["b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16][Character(s[index + 1])] {
            var start = index + 2
            if start < s.count, s[start] == "_" { start += 1 }
            let end = digits(from: start, radix: radix)
            if end > start {
                let text = String(String.UnicodeScalarView(s[start..<end].filter { $0 != "_" }))
                return try (.integer(integer(text, radix: radix, at: index)), end)
            }
        }
        if s[index] == "0" {
            // Python forbids leading zeros: "007" lexes as 0 followed by 07, as in jinja2.
            var end = index + 1
            while end < s.count, s[end] == "0" || (s[end] == "_" && end + 1 < s.count && s[end + 1] == "0") { end += 1 }
            return (.integer(0), end)
        }
        let text = String(String.UnicodeScalarView(s[index..<intEnd].filter { $0 != "_" }))
        return try (.integer(integer(text, radix: 10, at: index)), intEnd)
    }

    private func integer(_ text: String, radix: Int, at index: Int) throws -> Int {
        guard let value = Int(text, radix: radix) else {
            let place = location(of: index)
            throw TemplateError(.unsupported, "integer literal \(text) does not fit in 64 bits", line: place.line, column: place.column)
        }
        return value
    }

    private func name(at index: Int) -> (TokenKind, Int)? {
        func letter(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "a"..."z", "A"..."Z", "_": return true
            default: return !scalar.isASCII && scalar.properties.isAlphabetic
            }
        }
        guard letter(s[index]) else { return nil }
        var end = index + 1
        while end < s.count, letter(s[end]) || ("0"..."9").contains(s[end])
                || (!s[end].isASCII && s[end].properties.numericType == .decimal) {
            end += 1
        }
        return (.name(text(index, end)), end)
    }

    private func string(at index: Int) throws -> (TokenKind, Int)? {
        let quote = s[index]
        guard quote == "'" || quote == "\"" else { return nil }
        var i = index + 1
        while i < s.count {
            if s[i] == "\\" { i += 2; continue }
            if s[i] == quote {
                return (.string(try unescape(s[(index + 1)..<i], at: index)), i + 1)
            }
            i += 1
        }
        return nil
    }

    /// Python's `unicode-escape` decoding, which jinja2 applies to string literals.
    private func unescape(_ body: ArraySlice<Unicode.Scalar>, at index: Int) throws -> String {
        var out = String.UnicodeScalarView()
        var i = body.startIndex
        func fail(_ message: String) -> TemplateError {
            let place = location(of: index)
            return TemplateError(.syntax, message, line: place.line, column: place.column)
        }
        func hex(_ count: Int) throws -> Unicode.Scalar {
            guard i + 1 + count <= body.endIndex else { throw fail("truncated \\\(Character(body[i]))XX escape") }
            let text = String(String.UnicodeScalarView(body[(i + 1)...(i + count)]))
            guard let code = UInt32(text, radix: 16) else { throw fail("truncated \\\(Character(body[i]))XX escape") }
            guard let scalar = Unicode.Scalar(code) else { throw fail("illegal Unicode character") }
            i += count
            return scalar
        }
        while i < body.endIndex {
            let c = body[i]
            guard c == "\\", i + 1 < body.endIndex else {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            switch body[i] {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{7}")
            case "b": out.append("\u{8}")
            case "f": out.append("\u{c}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{b}")
            case "x": out.append(try hex(2))
            case "u": out.append(try hex(4))
            case "U": out.append(try hex(8))
            case "0"..."7":
                var code = UInt32(body[i].digitValue(radix: 8)!)
                var taken = 1
                while taken < 3, i + 1 < body.endIndex, let digit = body[i + 1].digitValue(radix: 8) {
                    code = code * 8 + UInt32(digit)
                    i += 1
                    taken += 1
                }
                out.append(Unicode.Scalar(code)!)
            case "N": throw fail("\\N{...} escapes are not supported in Tailor's templates")
            default:
                out.append("\\")
                out.append(body[i])
            }
            i += 1
        }
        return String(out)
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace()`, which is what `\s`, `strip()` and `split()` use.
    var isPythonWhitespace: Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    func digitValue(radix: Int) -> Int? {
        let digit: Int
        switch value {
        case 0x30...0x39: digit = Int(value) - 0x30
        case 0x61...0x7A: digit = Int(value) - 0x61 + 10
        case 0x41...0x5A: digit = Int(value) - 0x41 + 10
        default: return nil
        }
        return digit < radix ? digit : nil
    }
}
