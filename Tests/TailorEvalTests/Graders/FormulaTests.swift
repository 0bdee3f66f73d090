// calculate_output: precedence, the functions OpenAI lists, and the errors for names, functions and bad results.
import Foundation
import Testing
@testable import TailorEval

@Suite struct FormulaTests {
    private func value(_ source: String, _ values: [String: Double] = [:]) throws -> Double {
        try Formula(source, variables: Set(values.keys)).evaluate(values)
    }

    private func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func arithmeticAndPrecedence() throws {
        #expect(try value("1 + 2 * 3") == 7)
        #expect(try value("(1 + 2) * 3") == 9)
        #expect(try value("10 - 4 - 3") == 3, "left associative")
        #expect(try value("8 / 4 / 2") == 1)
        #expect(try value("2 ^ 3 ^ 2") == 512, "power is right associative")
        #expect(try value("-2 ^ 2") == -4, "power binds tighter than unary minus")
        #expect(try value("2 ^ -1") == 0.5)
        #expect(try value("--3 + +1") == 4)
        #expect(try value("1.5e1 + .5") == 15.5)
    }

    @Test func theDocumentedFunctions() throws {
        #expect(try value("min(3, 1, 2) + max(4, 5)") == 6)
        #expect(try value("abs(-2.5)") == 2.5)
        #expect(try value("floor(-1.5) + ceil(1.2)") == 0)
        #expect(try value("sqrt(16) * exp(0)") == 4)
        #expect(abs(try value("log(exp(2))") - 2) < 1e-15, "log is the natural logarithm")
        #expect(Formula.functions == ["abs", "ceil", "exp", "floor", "log", "max", "min", "sqrt"])
    }

    @Test func gradersByName() throws {
        let scores = ["ext_text_similarity": 0.8, "clause_string_check": 1.0]
        #expect(try value("0.5 * ext_text_similarity + 0.5 * clause_string_check", scores) == 0.9)
        #expect(try value("min(ext_text_similarity, clause_string_check)", scores) == 0.8)
    }

    @Test func unknownNamesAndFunctionsFailWhenParsed() {
        let names: Set<String> = ["fuzzy", "exact"]
        let unknown = message { try Formula("0.5 * fuzy + exact", variables: names) }
        #expect(unknown.contains("unknown name 'fuzy'") && unknown.contains("exact, fuzzy"), "\(unknown)")
        let function = message { try Formula("round(fuzzy)", variables: names) }
        #expect(function.contains("unknown function 'round'") && function.contains("abs, ceil"), "\(function)")
        let arity = message { try Formula("abs(fuzzy, exact)", variables: names) }
        #expect(arity.contains("abs takes one argument"), "\(arity)")
        #expect(message { try Formula("fuzzy ** 2", variables: names) }.contains("'^'"))
        // The OpenAPI document's own example has an unbalanced ')': it must be refused, not half-read.
        #expect(message { try Formula("0.5 * fuzzy +  0.5 * exact)", variables: names) }.contains("unexpected ')'"))
        #expect(message { try Formula("(fuzzy", variables: names) }.contains("missing ')'"))
        #expect(message { try Formula("", variables: names) }.contains("ends too early"))
        #expect(message { try Formula("1..2", variables: names) }.contains("'1..2' is not a number"))
        #expect(message { try Formula("fuzzy $ exact", variables: names) }.contains("unexpected '$' at character 7"))
    }

    @Test func nonFiniteResultsAreErrors() throws {
        let f = try Formula("exact / fuzzy", variables: ["exact", "fuzzy"])
        #expect(try f.evaluate(["exact": 1, "fuzzy": 0.5]) == 2)
        #expect(message { try f.evaluate(["exact": 1, "fuzzy": 0]) }.contains("gave inf"))
        #expect(message { try value("log(0)") }.contains("gave -inf"))
        #expect(message { try value("sqrt(-1)") }.contains("nan"))
        #expect(message { try f.evaluate(["exact": 1]) }.contains("no score for grader 'fuzzy'"))
    }
}
