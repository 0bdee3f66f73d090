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
        let k = maxL != nil ? "maxLength" : "minLength"
        if minL > Self.maxLengthBound || (maxL ?? 0) > Self.maxLengthBound {
            // Large bounds count in blocks of characters (rules calling rules) instead of one state per character.
            // Bounds are read capped at 10^9 (nonNegativeInt): capping a maximum is stricter, a minimum looser.
            if minL >= 1_000_000_000 {
                throw GrammarError.unsupported(keyword: "minLength", pointer: pointer + "/minLength", reason: "a minimum length of 10^9 or more is not supported")
            }
            let content = Node.seq([exactlyChars(minL), maxL.map { atMostChars($0 - minL) } ?? .star(JSONText.anyChar)])
            return .call(builder.add(JSONText.quoted(content), label: (k, pointer + "/" + k)))
        }
        return .call(builder.add(JSONText.quoted(.rep(JSONText.anyChar, min: minL, max: maxL)), label: (k, pointer + "/" + k)))
    }

    /// Characters per block when counting large length bounds: block rules of 1000^level characters.
    static let charBlock = 1000

    /// Exactly 1000^level characters (level ≥ 1): one automaton at level 1, then rules calling the level below.
    mutating func blockOfChars(level: Int) -> Node {
        sharedRule("chars×\(level)") { c in
            .rep(level == 1 ? JSONText.anyChar : c.blockOfChars(level: level - 1), min: Self.charBlock, max: Self.charBlock)
        }
    }

    /// Exactly n characters: n's base-1000 digits as runs of blocks, deterministic (no split to guess).
    mutating func exactlyChars(_ n: Int) -> Node {
        var parts: [Node] = [], rest = n, level = 0
        while rest > 0 {
            let d = rest % Self.charBlock
            if d > 0 { parts.append(.rep(level == 0 ? JSONText.anyChar : blockOfChars(level: level), min: d, max: d)) }
            rest /= Self.charBlock; level += 1
        }
        return .seq(parts.reversed())
    }

    /// At most n characters. With size = 1000^k ≤ n < 1000^(k+1) and n = q·size + r, a length a·size + c (c < size)
    /// fits when a < q, or a = q and c ≤ r: blocks, then the remainder. Matchers carry one stack per open reading,
    /// a few per level, and each distinct bound is one shared rule.
    mutating func atMostChars(_ n: Int) -> Node {
        if n < Self.charBlock { return .rep(JSONText.anyChar, min: 0, max: n) }
        return sharedRule("chars≤\(n)") { c in
            var size = Self.charBlock, level = 1
            while size <= n / Self.charBlock { size *= Self.charBlock; level += 1 }
            let q = n / size, r = n % size
            let block = c.blockOfChars(level: level)
            return .alt([.seq([.rep(block, min: 0, max: q - 1), c.atMostChars(size - 1)]),
                         .seq([.rep(block, min: q, max: q), c.atMostChars(r)])])
        }
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
        let lo = try bounds(schema, pointer, lower: true), hi = try bounds(schema, pointer, lower: false)
        let base: Node
        if integer {
            base = lo == nil && hi == nil ? NumberRanges.integer
                : NumberRanges.integer(lo: lo.map { Self.intBound($0.0, exclusive: $0.exclusive, lower: true) },
                                       hi: hi.map { Self.intBound($0.0, exclusive: $0.exclusive, lower: false) })
        } else {
            base = lo == nil && hi == nil ? NumberRanges.number : try NumberRanges.decimal(lo: lo, hi: hi)
        }
        guard let m = schema["multipleOf"] else { return base }
        let at = pointer + "/multipleOf"
        guard case .number(let t) = m, let d = Decimal10(t), !d.digits.isEmpty, !d.negative else {
            throw GrammarError.invalidSchema(keyword: "multipleOf", pointer: at, reason: "must be a number above 0")
        }
        if integer && d.isInteger && d.digits == [1] && d.exponent == 0 { return base }
        guard let divisibility = NumberRanges.multiples(of: d) else {
            throw GrammarError.unsupported(keyword: "multipleOf", pointer: at, reason: "divisibility by \(t) needs too many automaton states")
        }
        do { return .automaton(try RuleDFA.intersection(base, .automaton(divisibility))) } catch let e as GrammarError {
            throw e.at(keyword: "multipleOf", pointer: at)
        }
    }

    /// The integer bound equivalent to a (possibly fractional, possibly exclusive) bound on integers.
    static func intBound(_ d: Decimal10, exclusive: Bool, lower: Bool) -> IntBound {
        var r = d.rounded(up: lower)
        if exclusive && d.isInteger { r = lower ? NumberRanges.increment(r) : NumberRanges.decrement(r) }
        return IntBound(negative: r.negative, digits: r.digits)
    }
}
