// The Porter stemmer exactly as nltk's `PorterStemmer()` computes it (its default NLTK_EXTENSIONS mode), which both
// METEOR's stem stage and rouge-score's `use_stemmer` call. Not the original 1980 algorithm, nor Snowball's Porter2.

public struct PorterStemmer: Sendable {
    public init() {}

    public func stem(_ word: String) -> String { stem(word.codePoints).string }

    func stem(_ word: CodePoints) -> CodePoints {
        let lowered = PythonText.lower(word)
        if let irregular = Self.irregular[lowered] { return irregular }
        // nltk compares the length of the word as given, before lowercasing.
        if word.count <= 2 { return lowered }
        var w = step1a(lowered)
        w = step1b(w)
        w = step1c(w)
        w = step2(w)
        w = step3(w)
        w = step4(w)
        w = step5a(w)
        return step5b(w)
    }

    /// nltk's pool of irregular forms, answered before any rule runs.
    private static let irregular: [CodePoints: CodePoints] = {
        let forms: [String: [String]] = [
            "sky": ["sky", "skies"], "die": ["dying"], "lie": ["lying"], "tie": ["tying"], "news": ["news"],
            "inning": ["innings", "inning"], "outing": ["outings", "outing"], "canning": ["cannings", "canning"],
            "howe": ["howe"], "proceed": ["proceed"], "exceed": ["exceed"], "succeed": ["succeed"],
        ]
        var pool: [CodePoints: CodePoints] = [:]
        for (stem, words) in forms { for w in words { pool[w.codePoints] = stem.codePoints } }
        return pool
    }()

    // MARK: Letters and measure

    private static let vowels: Set<Unicode.Scalar> = ["a", "e", "i", "o", "u"]

    private func isConsonant(_ w: CodePoints, _ i: Int) -> Bool {
        if Self.vowels.contains(w[i]) { return false }
        guard w[i] == "y" else { return true }
        var i = i, negate = false
        while i > 0 && w[i] == "y" { negate.toggle(); i -= 1 }
        return !Self.vowels.contains(w[i]) != negate
    }

    private func consonantFlags(_ w: some Collection<Unicode.Scalar>) -> [Bool] {
        var flags: [Bool] = []
        flags.reserveCapacity(w.count)
        for c in w {
            if Self.vowels.contains(c) { flags.append(false) }
            else if c == "y" { flags.append(flags.isEmpty ? true : !flags[flags.count - 1]) }
            else { flags.append(true) }
        }
        return flags
    }

    /// m in [C](VC)^m[V]: the number of vowel-to-consonant transitions.
    private func measure(_ stem: some Collection<Unicode.Scalar>) -> Int {
        let f = consonantFlags(stem)
        var m = 0
        for k in f.indices.dropLast() where !f[k] && f[k + 1] { m += 1 }
        return m
    }

    private func containsVowel(_ stem: CodePoints) -> Bool { !consonantFlags(stem).allSatisfy { $0 } }

    private func endsDoubleConsonant(_ w: CodePoints) -> Bool {
        w.count >= 2 && w[w.count - 1] == w[w.count - 2] && isConsonant(w, w.count - 1)
    }

    private func endsCVC(_ w: CodePoints) -> Bool {
        let n = w.count
        if n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1)
            && !["w", "x", "y"].contains(w[n - 1]) { return true }
        return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1)   // the NLTK extension for two-letter stems
    }

    // MARK: Rules

    private struct Rule {
        var suffix: CodePoints
        var replacement: CodePoints
        var condition: ((CodePoints) -> Bool)?
        init(_ suffix: String, _ replacement: String, _ condition: ((CodePoints) -> Bool)? = nil) {
            self.suffix = suffix.codePoints
            self.replacement = replacement.codePoints
            self.condition = condition
        }
        init(_ suffix: String, _ replacement: CodePoints, _ condition: @escaping (CodePoints) -> Bool) {
            self.suffix = suffix.codePoints
            self.replacement = replacement
            self.condition = condition
        }
    }

    /// The first rule whose suffix matches decides: it rewrites when its condition holds and otherwise leaves the
    /// word alone. "*d" means "ends in a double consonant" (and, as in nltk, also the literal text "*d").
    private func apply(_ w: CodePoints, _ rules: [Rule]) -> CodePoints {
        for rule in rules {
            if rule.suffix == Self.doubleConsonant && endsDoubleConsonant(w) {
                let stem = Array(w.dropLast(2))
                return (rule.condition?(stem) ?? true) ? stem + rule.replacement : w
            }
            if w.hasSuffix(rule.suffix) {
                let stem = Array(w.dropLast(rule.suffix.count))
                return (rule.condition?(stem) ?? true) ? stem + rule.replacement : w
            }
        }
        return w
    }

    private static let doubleConsonant = "*d".codePoints

    private func replaceSuffix(_ w: CodePoints, _ suffix: Int, _ replacement: String) -> CodePoints {
        Array(w.dropLast(suffix)) + replacement.codePoints
    }

    private func step1a(_ w: CodePoints) -> CodePoints {
        if w.hasSuffix("ies".codePoints) && w.count == 4 { return replaceSuffix(w, 3, "ie") }
        return apply(w, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    private func step1b(_ w: CodePoints) -> CodePoints {
        if w.hasSuffix("ied".codePoints) { return replaceSuffix(w, 3, w.count == 4 ? "ie" : "i") }
        if w.hasSuffix("eed".codePoints) {
            let stem = Array(w.dropLast(3))
            return measure(stem) > 0 ? stem + "ee".codePoints : w
        }
        var intermediate: CodePoints?
        for suffix in ["ed", "ing"] where w.hasSuffix(suffix.codePoints) {
            let stem = Array(w.dropLast(suffix.count))
            if containsVowel(stem) { intermediate = stem; break }
        }
        guard let stem = intermediate else { return w }
        let last = stem[stem.count - 1]
        return apply(stem, [
            Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"),
            Rule("*d", [last], { _ in !["l", "s", "z"].contains(last) }),
            Rule("", "e", { self.measure($0) == 1 && self.endsCVC($0) }),
        ])
    }

    private func step1c(_ w: CodePoints) -> CodePoints {
        apply(w, [Rule("y", "i", { $0.count > 1 && self.isConsonant($0, $0.count - 1) })])
    }

    private func step2(_ w: CodePoints) -> CodePoints {
        if w.hasSuffix("alli".codePoints) && measure(w.dropLast(4)) > 0 {
            return step2(replaceSuffix(w, 4, "al"))
        }
        let m: (CodePoints) -> Bool = { self.measure($0) > 0 }
        return apply(w, [
            Rule("ational", "ate", m), Rule("tional", "tion", m), Rule("enci", "ence", m), Rule("anci", "ance", m),
            Rule("izer", "ize", m), Rule("bli", "ble", m), Rule("alli", "al", m), Rule("entli", "ent", m),
            Rule("eli", "e", m), Rule("ousli", "ous", m), Rule("ization", "ize", m), Rule("ation", "ate", m),
            Rule("ator", "ate", m), Rule("alism", "al", m), Rule("iveness", "ive", m), Rule("fulness", "ful", m),
            Rule("ousness", "ous", m), Rule("aliti", "al", m), Rule("iviti", "ive", m), Rule("biliti", "ble", m),
            Rule("fulli", "ful", m), Rule("logi", "log", { _ in self.measure(w.dropLast(3)) > 0 }),
        ])
    }

    private func step3(_ w: CodePoints) -> CodePoints {
        let m: (CodePoints) -> Bool = { self.measure($0) > 0 }
        return apply(w, [
            Rule("icate", "ic", m), Rule("ative", "", m), Rule("alize", "al", m), Rule("iciti", "ic", m),
            Rule("ical", "ic", m), Rule("ful", "", m), Rule("ness", "", m),
        ])
    }

    private func step4(_ w: CodePoints) -> CodePoints {
        let m: (CodePoints) -> Bool = { self.measure($0) > 1 }
        return apply(w, [
            Rule("al", "", m), Rule("ance", "", m), Rule("ence", "", m), Rule("er", "", m), Rule("ic", "", m),
            Rule("able", "", m), Rule("ible", "", m), Rule("ant", "", m), Rule("ement", "", m), Rule("ment", "", m),
            Rule("ent", "", m), Rule("ion", "", { m($0) && ["s", "t"].contains($0.last!) }), Rule("ou", "", m),
            Rule("ism", "", m), Rule("ate", "", m), Rule("iti", "", m), Rule("ous", "", m), Rule("ive", "", m),
            Rule("ize", "", m),
        ])
    }

    private func step5a(_ w: CodePoints) -> CodePoints {
        guard w.last == "e" else { return w }
        let stem = Array(w.dropLast())
        let m = measure(stem)
        return m > 1 || (m == 1 && !endsCVC(stem)) ? stem : w
    }

    private func step5b(_ w: CodePoints) -> CodePoints {
        apply(w, [Rule("ll", "l", { _ in self.measure(w.dropLast()) > 1 })])
    }
}
