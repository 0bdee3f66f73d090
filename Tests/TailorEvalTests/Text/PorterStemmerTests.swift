// nltk's Porter stemmer (NLTK_EXTENSIONS) on every word of the reference corpus and a list of hard cases.
import Testing
@testable import TailorEval

@Suite struct PorterStemmerTests {
    @Test func stemsAsNLTK() {
        let stemmer = PorterStemmer()
        let words = ReferenceFixture.shared.porter
        #expect(words.count > 500)
        let wrong = words.filter { stemmer.stem($0.key) != $0.value }.sorted { $0.key < $1.key }
        #expect(wrong.isEmpty, "\(wrong.prefix(10).map { "\($0.key) -> \(stemmer.stem($0.key)), nltk \($0.value)" })")
    }

    @Test func irregularFormsAndShortWords() {
        let stemmer = PorterStemmer()
        #expect(stemmer.stem("dying") == "die" && stemmer.stem("Skies") == "sky", "nltk's pool, after lowercasing")
        #expect(stemmer.stem("IS") == "is", "two letters or fewer are only lowercased")
        #expect(stemmer.stem("x*d") == "x*d" && stemmer.stem("ab*ded") == "abd" && stemmer.stem("ab*ding") == "abd",
                "nltk's '*d' rule (double consonant) also matches the literal text '*d', and so does this one")
        #expect(stemmer.stem("\u{130}S") == "i\u{307}s", "lowercased as Python lowercases")
    }
}
