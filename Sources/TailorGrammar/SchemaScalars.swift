// The scalar types of a schema: strings (length bounds, pattern, format) and numbers (integer and decimal bounds).
// Objects and arrays are in SchemaContainers.swift; the keyword bookkeeping in JSONSchemaGrammar.swift.

extension SchemaCompiler {
    // MARK: strings

    func nonNegativeInt(_ schema: JSONValue, _ key: String, _ pointer: String) throws -> Int? {
        guard let v = schema[key] else { return nil }
        guard case .number(let t) = v, let d = Decimal10(t), d.isInteger, !d.negative else {
            throw GrammarError.invalidSchema(keyword: key, pointer: pointer + "/" + key, reason: "must be a non-negative integer")
        }
        let r = d.rounded(up: false).digits
        return r.count > 9 ? 1_000_000_000 : Int(r)!
    }

    /// Length bounds become copies of the character automaton; past this a bound is refused, not approximated.
    static let maxLengthBound = 10_000

    mutating func string(_ schema: JSONValue, _ pointer: String) throws -> Node {
        let minL = try nonNegativeInt(schema, "minLength", pointer) ?? 0
        let maxL = try nonNegativeInt(schema, "maxLength", pointer)
        var charLevel: Node? = nil
        if let p = schema["pattern"] {
            guard let ps = p.stringValue else { throw GrammarError.invalidSchema(keyword: "pattern", pointer: pointer + "/pattern", reason: "must be a string") }
            do { charLevel = try RegexParser.parseSearch(ps) } catch let e as RegexError {
                throw GrammarError.unsupported(keyword: "pattern", pointer: pointer + "/pattern", reason: e.reason)
            }
        }
        if let f = schema["format"]?.stringValue, Formats.standard.contains(f) {
            guard let fn = Formats.node(f) else {
                throw GrammarError.unsupported(keyword: "format", pointer: pointer + "/format", reason: "format '\(f)' is not one Tailor enforces (date, time, date-time, email, uuid, uri, ipv4, hostname)")
            }
            if charLevel != nil { throw GrammarError.unsupported(keyword: "format", pointer: pointer + "/format", reason: "format together with pattern is not supported") }
            charLevel = fn
        }
        if let charLevel {
            let content = JSONText.encodeChars(charLevel)
            if minL == 0 && maxL == nil { return JSONText.quoted(content) }
            let k = maxL != nil ? "maxLength" : "minLength"
            if minL > Self.maxLengthBound || (maxL ?? 0) > Self.maxLengthBound {
                throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "length bounds above \(Self.maxLengthBound) together with pattern or format are not supported")
            }
            do {
                return JSONText.quoted(.automaton(try RuleDFA.intersection(content, .rep(JSONText.anyChar, min: minL, max: maxL))))
            } catch let e as GrammarError { throw e.at(keyword: k, pointer: pointer + "/" + k) }
        }
        if minL == 0 && maxL == nil { return anyString() }
        if let maxL, maxL < minL { return .never }
        if minL > Self.maxLengthBound || (maxL ?? 0) > Self.maxLengthBound {
            let k = (maxL ?? 0) > Self.maxLengthBound ? "maxLength" : "minLength"
            throw GrammarError.unsupported(keyword: k, pointer: pointer + "/" + k, reason: "length bounds above \(Self.maxLengthBound) are not supported")
        }
        let k = maxL != nil ? "maxLength" : "minLength"
        return .call(builder.add(JSONText.quoted(.rep(JSONText.anyChar, min: minL, max: maxL)), label: (k, pointer + "/" + k)))
    }

    // MARK: numbers

    func bound(_ schema: JSONValue, _ key: String, _ pointer: String) throws -> Decimal10? {
        guard let v = schema[key] else { return nil }
        if case .bool = v { return nil }   // draft-4 boolean exclusiveMinimum/Maximum: read with minimum/maximum
        guard case .number(let t) = v, let d = Decimal10(t) else {
            throw GrammarError.invalidSchema(keyword: key, pointer: pointer + "/" + key, reason: "must be a number")
        }
        return d
    }

    /// The tighter of an inclusive and an exclusive bound (draft 6+ numbers, or draft 4 boolean flags).
    func bounds(_ schema: JSONValue, _ pointer: String, lower: Bool) throws -> (Decimal10, exclusive: Bool)? {
        let incKey = lower ? "minimum" : "maximum", excKey = lower ? "exclusiveMinimum" : "exclusiveMaximum"
        var inc = try bound(schema, incKey, pointer)
        var exc = try bound(schema, excKey, pointer)
        if case .bool(true) = schema[excKey] { exc = inc; inc = nil }
        switch (inc, exc) {
        case (nil, nil): return nil
        case (let i?, nil): return (i, false)
        case (nil, let e?): return (e, true)
        case (let i?, let e?):
            let c = Decimal10.compare(i, e)
            if lower { return c > 0 ? (i, false) : (e, true) }
            return c < 0 ? (i, false) : (e, true)
        }
    }

    func number(_ schema: JSONValue, _ pointer: String, integer: Bool) throws -> Node {
        if let m = schema["multipleOf"] {
            let isOne = m.pythonText == "1" || m.pythonText == "1.0"
            if !(integer && isOne) {
                throw GrammarError.unsupported(keyword: "multipleOf", pointer: pointer + "/multipleOf", reason: "divisibility is not enforced")
            }
        }
        let lo = try bounds(schema, pointer, lower: true), hi = try bounds(schema, pointer, lower: false)
        if integer {
            if lo == nil && hi == nil { return NumberRanges.integer }
            return NumberRanges.integer(lo: lo.map { Self.intBound($0.0, exclusive: $0.exclusive, lower: true) },
                                        hi: hi.map { Self.intBound($0.0, exclusive: $0.exclusive, lower: false) })
        }
        if lo == nil && hi == nil { return NumberRanges.number }
        for (b, key) in [(lo, "minimum"), (hi, "maximum")] {
            if let b, !b.0.isInteger {
                throw GrammarError.unsupported(keyword: key, pointer: pointer + "/" + key, reason: "non-integer bounds on a number are not supported")
            }
        }
        return NumberRanges.decimal(lo: lo, hi: hi)
    }

    /// The integer bound equivalent to a (possibly fractional, possibly exclusive) bound on integers.
    static func intBound(_ d: Decimal10, exclusive: Bool, lower: Bool) -> IntBound {
        var r = d.rounded(up: lower)
        if exclusive && d.isInteger { r = lower ? NumberRanges.increment(r) : NumberRanges.decrement(r) }
        return IntBound(negative: r.negative, digits: r.digits)
    }
}
