import Testing
import TestSupport
@testable import Grammar

/// The grammar, regex and schema parsers take text from clients: nothing they are given may trap, hang or blow up
/// memory; what they refuse is refused with a message.
@Suite("Hostile grammar input")
struct HostileInputTests {
    static let seeds: [String] = [
        #"root ::= "a" ( b | [c-z]* ) {2,5} "\u00e9" . b ::= "x"? [^\n]+ # comment"#,
        #"(?:ab|c[d-f]+)*\d{1,3}\.\w+$"#,
        ##"{"type":"object","properties":{"a":{"type":"array","items":{"$ref":"#"}}},"required":["a"]}"##,
    ]

    /// Byte-level mutations of valid inputs: each either compiles and matches a few bytes, or throws.
    @Test(arguments: 0..<3)
    func mutationsNeverTrap(which: Int) {
        var random = TestRandom(seed: UInt64(which + 1))
        let seed = Array(HostileInputTests.seeds[which].utf8)
        let alphabet = Array("()[]{}|*+?^$\\\".-,:#\"'0123456789abxyz\n /\u{0}".utf8) + [0xC3, 0xA9, 0xFF]
        for _ in 0..<400 {
            var bytes = seed
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = Int(random.next() % UInt64(bytes.count + 1))
                switch random.next() % 3 {
                case 0 where !bytes.isEmpty && at < bytes.count: bytes.remove(at: at)
                case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                default: if at < bytes.count { bytes[at] = alphabet[Int(random.next() % UInt64(alphabet.count))] }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let spec: GrammarSpec = [.gbnf(text), .regex(text), .jsonSchema(text, strict: false)][which]
            guard let grammar = try? spec.compile() else { continue }
            let m = GrammarMatcher(grammar: grammar, vocabulary: TestVocabularies.small)
            for _ in 0..<8 {
                let legal = m.allowed()
                guard !legal.isEmpty else { break }
                #expect(m.accept(legal[Int(random.next() % UInt64(legal.count))]) || m.isFinished)
            }
        }
    }

    @Test func deepNestingIsRefusedNotOverflowed() {
        let depth = 5000
        let gbnf = "root ::= " + String(repeating: "(", count: depth) + "\"a\"" + String(repeating: ")", count: depth)
        #expect(throws: GrammarError.self) { try GrammarSpec.gbnf(gbnf).compile() }
        let regex = String(repeating: "(", count: depth) + "a" + String(repeating: ")", count: depth)
        #expect(throws: GrammarError.self) { try GrammarSpec.regex(regex).compile() }
        let schema = String(repeating: #"{"items":"#, count: depth) + "{}" + String(repeating: "}", count: depth)
        #expect(throws: GrammarError.self) { try GrammarSpec.jsonSchema(schema, strict: false).compile() }
    }

    @Test func hugeRepetitionIsRefused() {
        #expect(throws: GrammarError.self) { try GrammarSpec.regex("a{1000000}").compile() }
        #expect(throws: GrammarError.self) { try GrammarSpec.regex("(a{1000}){1000}{1000}").compile() }
        let flat = "root ::= " + String(repeating: #""ab"{100000} "#, count: 25)
        #expect { try GrammarSpec.gbnf(flat).compile() } throws: { "\($0)".contains("the grammar is too large") }
        #expect(throws: GrammarError.self) {
            try GrammarSpec.jsonSchema(#"{"type":"array","maxItems":99999999}"#, strict: false).compile()
        }
    }

    static let gbnfErrors: [(String, String)] = [
        ("root ::= x", #"rule "x" (used in "root") is not defined"#),
        (#"start ::= "a""#, #"no "root" rule"#),
        (#"root ::= "a" root ::= "b""#, #"rule "root" is defined twice"#),
        ("root ::= root \"a\" | \"b\"", "left-recursive"),
        ("root ::= (\"a\"?)*", "repeats something that can be empty"),
        ("root ::= \"abc", "line 1, column 14: unterminated string literal"),
        ("root ::= [z-a]", "character range is backwards"),
        ("root ::= \"a\"\n  | ]", "line 2, column 5: unexpected \"]\""),
        ("root ::= \"\\q\"", "unknown escape \\q"),
        ("root ::= \"a\"{3,1}", "max below min"),
    ]

    @Test(arguments: gbnfErrors.indices)
    func gbnfErrorsNameTheProblem(index: Int) {
        let (text, expected) = HostileInputTests.gbnfErrors[index]
        #expect { try GrammarSpec.gbnf(text).compile() } throws: { "\($0)".contains(expected) }
    }

    static let regexErrors: [(String, String)] = [
        ("a(b", "missing )"), ("a)b", "unbalanced )"), ("(?<=a)b", "lookaround"), ("(a)\\1", "back-references"),
        ("a**", "a quantifier cannot follow"), ("*a", "quantifier without anything"), ("a^b", "anchors are supported"),
        ("[a-", "unterminated character class"), ("a{2", "unterminated quantifier"), ("\\", "ends with a backslash"),
    ]

    @Test(arguments: regexErrors.indices)
    func regexErrorsNameTheProblem(index: Int) {
        let (text, expected) = HostileInputTests.regexErrors[index]
        #expect { try GrammarSpec.regex(text).compile() } throws: { "\($0)".contains(expected) }
    }

    @Test func regexMatchesWholeOutput() throws {
        let g = try GrammarSpec.regex(#"(yes|no)(, [a-c]{2})?\.?"#).compile()
        func matches(_ s: String) -> Bool {
            let m = GrammarMatcher(grammar: g, vocabulary: TestVocabularies.small)
            return m.acceptBytes(s) && m.canTerminate
        }
        for s in ["yes", "no, ab.", "no."] { #expect(matches(s), "\(s)") }
        for s in ["maybe", "yes, a", "yes!", "no, abc"] { #expect(!matches(s), "\(s)") }
    }
}
