// Request ids: shape and uniqueness.
import Testing
@testable import TailorHTTP

@Suite struct RequestIDTests {
    @Test func idsHaveThePrefixLengthAndAlphabet() {
        var generator = RequestIDGenerator()
        let id = generator.next()
        #expect(id.hasPrefix("req_"))
        #expect(id.count == 28)
        #expect(id.dropFirst(4).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }

    @Test func idsAreUniqueAcrossManyDraws() {
        var generator = RequestIDGenerator()
        var seen = Set<String>()
        for _ in 0..<100_000 { seen.insert(generator.next()) }
        #expect(seen.count == 100_000)
        #expect(RequestIDGenerator.shared() != RequestIDGenerator.shared())
    }
}

extension RequestIDTests {
    @Test func everyAlphabetCharacterAppears() {
        var generator = RequestIDGenerator()
        var seen = Set<Character>()
        for _ in 0..<1_000 { seen.formUnion(generator.next().dropFirst(4)) }
        #expect(seen.count == 62)
    }
}
