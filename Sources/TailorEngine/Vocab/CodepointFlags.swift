// Unicode category flags of a code point, exactly as llama.cpp's pre-tokenizers see them (unicode.h, unicode-data.cpp).
// Not a Unicode library: only the bits the word splitters test, frozen at the Unicode version llama.cpp was built with.

struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }

    static let undefined = CodepointFlags(rawValue: 0x0001)
    static let number = CodepointFlags(rawValue: 0x0002)      // \p{N}
    static let letter = CodepointFlags(rawValue: 0x0004)      // \p{L}
    static let separator = CodepointFlags(rawValue: 0x0008)   // \p{Z}
    static let mark = CodepointFlags(rawValue: 0x0010)        // \p{M}
    static let punctuation = CodepointFlags(rawValue: 0x0020) // \p{P}
    static let symbol = CodepointFlags(rawValue: 0x0040)      // \p{S}
    static let control = CodepointFlags(rawValue: 0x0080)     // \p{C}
    static let whitespace = CodepointFlags(rawValue: 0x0100)  // \s

    /// The general category alone, without the whitespace bit (llama.cpp's `category_flag()`).
    var category: CodepointFlags { CodepointFlags(rawValue: rawValue & 0x00FF) }

    /// Flags of one code point. Positions past the end of a piece get `[]` (no bit at all), which the splitters
    /// rely on to stop; a code point Unicode leaves unassigned gets `.undefined`, which is not empty.
    init(_ scalar: UInt32) {
        if scalar < 0x1_0000 {
            self.init(rawValue: CodepointFlags.basicPlane[Int(scalar)])
        } else {
            self = CodepointFlags.compute(scalar)
        }
    }

    private init(category: CodepointFlags, whitespace: Bool) {
        self.init(rawValue: category.rawValue | (whitespace ? CodepointFlags.whitespace.rawValue : 0))
    }

    /// The Basic Multilingual Plane is looked up for every character of every prompt, so it is tabulated once.
    private static let basicPlane: [UInt16] = (0..<0x1_0000).map { compute(UInt32($0)).rawValue }

    private static func compute(_ value: UInt32) -> CodepointFlags {
        guard let scalar = Unicode.Scalar(value) else { return .control } // surrogate halves are Cs
        let whitespace = whitespaceSet.contains(value)
        // llama.cpp's table is Unicode 15.1; Swift's is newer. Characters added since then are unassigned
        // there, and splitting them differently would give other tokens than the reference.
        if let age = scalar.properties.age, age.major > 15 || (age.major == 15 && age.minor > 1) {
            return CodepointFlags(category: .undefined, whitespace: whitespace)
        }
        let category: CodepointFlags
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: category = .letter
        case .decimalNumber, .letterNumber, .otherNumber: category = .number
        case .nonspacingMark, .spacingMark, .enclosingMark: category = .mark
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: category = .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: category = .symbol
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: category = .separator
        case .control, .format, .privateUse, .surrogate: category = .control
        case .unassigned: category = .undefined
        @unknown default: category = .undefined
        }
        return CodepointFlags(category: category, whitespace: whitespace)
    }

    /// Unicode's White_Space property, as llama.cpp lists it (unicode_set_whitespace).
    private static let whitespaceSet: Set<UInt32> = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
        0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ]
}
