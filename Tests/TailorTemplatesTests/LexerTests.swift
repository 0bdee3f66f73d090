// The lexer on its own: token kinds, literals, bracket balancing and where lexing errors point.
import Testing
@testable import TailorTemplates

@Suite struct LexerTests {
    private func kinds(_ source: String) throws -> [TokenKind] { try Lexer.tokenize(source).map(\.kind) }

    @Test func tokensOfAnExpression() throws {
        #expect(try kinds("a {{ x.y[0]|f(1, k='v') }} b") == [
            .text("a "), .variableBegin, .name("x"), .op("."), .name("y"), .op("["), .integer(0), .op("]"),
            .op("|"), .name("f"), .op("("), .integer(1), .op(","), .name("k"), .op("="), .string("v"), .op(")"),
            .variableEnd, .text(" b"), .eof,
        ])
    }

    @Test func numbersAndOperators() throws {
        #expect(try kinds("{{ 1_000 0x1F 0b11 1.5e3 2e-2 3.25 a//b**c <= d != e }}") == [
            .variableBegin, .integer(1000), .integer(31), .integer(3), .float(1500), .float(0.02), .float(3.25),
            .name("a"), .op("//"), .name("b"), .op("**"), .name("c"), .op("<="), .name("d"), .op("!="), .name("e"),
            .variableEnd, .eof,
        ])
    }

    @Test func stringEscapes() throws {
        #expect(try kinds(#"{{ 'a\'b' "c\"d" '\n\t\\' '\u00e9\x41\101' '\q' }}"#) == [
            .variableBegin, .string("a'b"), .string("c\"d"), .string("\n\t\\"), .string("éAA"), .string("\\q"),
            .variableEnd, .eof,
        ])
    }

    @Test func nestedBracesDoNotCloseTheTag() throws {
        let tokens = try kinds("{{ {'a': {'b': 1}} }}")
        #expect(tokens.filter { $0 == .variableEnd }.count == 1)
        #expect(tokens.last == .eof)
    }

    @Test func newlinesAreNormalised() throws {
        #expect(try kinds("a\r\nb\rc\n") == [.text("a\nb\nc"), .eof])
    }

    @Test func tokensCarryLinesAndColumns() throws {
        let tokens = try Lexer.tokenize("ab\n  {% if x %}")
        let name = try #require(tokens.first { $0.kind == .name("x") })
        #expect(name.location == SourceLocation(line: 2, column: 9))
    }

    @Test(arguments: [
        ("line one\n  {{ x ", 2, 3, "never closed"),
        ("{# comment", 1, 1, "Missing end of comment tag"),
        ("{{ (1] }}", 1, 6, "unexpected ']', expected ')'"),
        ("{{ ) }}", 1, 4, "unexpected ')'"),
        ("{{ a $ b }}", 1, 6, "unexpected char '$'"),
        ("{% raw %}never ends", 1, 1, "Missing end of raw directive"),
    ])
    func lexingErrorsAreLocated(_ source: String, _ line: Int, _ column: Int, _ message: String) {
        do {
            _ = try Lexer.tokenize(source)
            Issue.record("lexed \(source.debugDescription)")
        } catch let error as TemplateError {
            #expect(error.kind == .syntax)
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
