// Hostile templates and data end with `.limit` (or another error), never a hang, a trap or a stack overflow.

import Foundation
import Testing
@testable import ChatTemplate
import TestSupport

@Suite struct LimitTests {
    static let deep = 20_000

    @Test(arguments: [
        ("{% for i in range(10**9) %}{% endfor %}", "range() of 1000000000 items"),
        ("{{ range(-9223372036854775807, 9223372036854775807) | length }}", "range()"),
        ("{{ 'a' * 10**9 }}", "string of 1000000000 bytes"),
        ("{{ ['x'] * 10**9 }}", "list of 1000000000 items"),
        ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", "100000 loop iterations"),
        ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "bytes"),
        ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "bytes"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper than 256 levels"),
        ("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "nested deeper"),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "rendered output exceeds 1048576 bytes"),
        ("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}", "data nested deeper"),
        ("{% set ns = namespace(x={}) %}{% for i in range(100000) %}{% set ns.x = {'k': ns.x} %}{% endfor %}", "data nested deeper"),
        ("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "data nested deeper"),
        ("{{ (['x' * 10000] * 100000) | join }}", "bytes"),
        ("{{ ([['y' * 10000] * 1000] * 100) | tojson }}", "more than 1048576 bytes"),
        ("{{ ([['y' * 10000] * 1000] * 100) | string }}", "more than 1048576 bytes"),
        ("{{ ('z' * 100000) | replace('', 'long replacement text') }}", "bytes"),
        ("{{ 2 ** 100 }}", "exceeds 64 bits"),
        ("{{ 9223372036854775807 + 1 }}", "exceeds 64 bits"),
        ("{{ -(-9223372036854775807 - 1) }}", "exceeds 64 bits"),
        ("{{ strftime_now('%Y' * 100000) }}", "bytes"),
        ("{% for i in range(99999) %}{% set x = i + i + i + i + i + i + i + i + i + i %}{% endfor %}", "evaluation steps"),
    ])
    func hostileRenderHitsALimit(_ source: String, _ message: String) throws {
        let e = failure(source)
        #expect(e?.kind == .limit, "\(String(describing: e))")
        #expect(e?.message.contains(message) == true, "\(String(describing: e))")
    }

    /// A template nested `LimitTests.deep` levels in one way; named so test output stays short.
    struct Deep: Sendable, CustomTestStringConvertible {
        let name: String
        let source: String
        var testDescription: String { name }

        init(_ name: String, _ open: String, _ middle: String = "", _ close: String = "", wrap: Bool = true) {
            self.name = name
            let body = String(repeating: open, count: LimitTests.deep) + middle + String(repeating: close, count: LimitTests.deep)
            source = wrap ? "{{ " + body + " }}" : body
        }
    }

    static let deepTemplates: [Deep] = [
        Deep("parentheses", "(", "1", ")"),
        Deep("lists", "[", "", "]"),
        Deep("dicts", "{'a': ", "1", "}"),
        Deep("not", "not ", "x"),
        Deep("unary minus", "- ", "1"),
        Deep("plus chain", "1 + ", "1"),
        Deep("concat chain", "'a' ~ ", "'a'"),
        Deep("filter chain", "", "x", " | trim"),
        Deep("attribute chain", "", "x", ".y"),
        Deep("subscript chain", "", "x", "[0]"),
        Deep("call chain", "", "f", "()"),
        Deep("conditional chain", "1 if x else ", "1"),
        Deep("and chain", "x and ", "x"),
        Deep("call arguments", "f(", "1", ")"),
        Deep("if blocks", "{% if true %}", "", "{% endif %}", wrap: false),
        Deep("for blocks", "{% for x in y %}", "", "{% endfor %}", wrap: false),
        Deep("macro blocks", "{% macro m() %}", "", "{% endmacro %}", wrap: false),
        Deep("filter blocks", "{% filter trim %}", "", "{% endfilter %}", wrap: false),
        Deep("set blocks", "{% set x %}", "", "{% endset %}", wrap: false),
    ]

    @Test(arguments: deepTemplates)
    func deepNestingIsRefusedAtParse(_ c: Deep) {
        do {
            _ = try ChatTemplate(source: c.source)
            Issue.record("parsed \(c.name) nested \(Self.deep) deep")
        } catch let e as ChatTemplateError {
            #expect(e.kind == .limit, "\(e)")
            #expect(e.message.contains("deeper than 64 levels"), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// Flat chains (`a < b < c ...`, long text) are not nesting and parse fine.
    @Test func longFlatTemplatesParse() throws {
        let compare = try ChatTemplate(source: "{{ 1" + String(repeating: " < 2", count: Self.deep) + " }}")
        #expect(try compare.render([:]) == "False")
        let text = String(repeating: "{{ 1 }}x\n", count: Self.deep)
        #expect(try ChatTemplate(source: text).render([:]).count == 3 * Self.deep - 1)
    }

    /// Recursion through a macro whose body nests blocks and a deep expression stays bounded.
    @Test func recursiveMacroWithDeepBodyHitsTheDepthLimit() {
        let inner = String(repeating: "(", count: 30) + "f(n + 1) ~ x | trim" + String(repeating: ")", count: 30)
        let source = "{% macro f(n) %}{% if true %}{% for i in [1] %}{{ \(inner) }}{% endfor %}{% endif %}{% endmacro %}{{ f(0) }}"
        let e = failure(source, ["x": "a"])
        #expect(e?.kind == .limit)
        #expect(e?.message.contains("nested deeper than 256 levels") == true, "\(String(describing: e))")
    }

    @Test func nestingAtTheBoundParses() throws {
        let source = "{{ " + String(repeating: "(", count: 60) + "1" + String(repeating: ")", count: 60) + " }}"
        #expect(try ChatTemplate(source: source).render([:]) == "1")
        let blocks = String(repeating: "{% if true %}", count: 60) + "x" + String(repeating: "{% endif %}", count: 60)
        #expect(try ChatTemplate(source: blocks).render([:]) == "x")
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: blocks, maxNesting: 20) }
    }

    @Test func deepContextDataIsRefused() {
        var value: JinjaValue = "leaf"
        for _ in 0..<1_000 { value = [value] }
        let e = failure("{{ data | length }}", ["data": value])
        #expect(e?.kind == .limit)
        #expect(e?.message.contains("context data nested deeper than 256 levels") == true, "\(String(describing: e))")
    }

    @Test func limitsAreConfigurable() throws {
        let template = try ChatTemplate(source: "{% for i in range(n) %}{{ i }}{% endfor %}")
        #expect(try template.render(["n": 5], limits: ChatTemplateLimits(maxLoopIterations: 5)) == "01234")
        #expect(throws: ChatTemplateError.self) {
            try template.render(["n": 6], limits: ChatTemplateLimits(maxLoopIterations: 5))
        }
        #expect(throws: ChatTemplateError.self) {
            try template.render(["n": 100], limits: ChatTemplateLimits(maxOutputBytes: 50))
        }
        #expect(throws: ChatTemplateError.self) { try template.render(["n": 100], limits: ChatTemplateLimits(maxSteps: 100)) }
        let defaults = ChatTemplateLimits()
        #expect(defaults.maxOutputBytes == 1 << 20 && defaults.maxLoopIterations == 100_000)
        #expect(defaults.maxSteps == 1_000_000 && defaults.maxDepth == 256)
    }

    @Test func aLongRealConversationFitsTheDefaults() throws {
        // 400 turns of 1 KB through a real template stays well inside the default limits.
        let template = try ChatTemplate(source: Golden.loaded.templates["llama-3.1-instruct"] ?? "")
        let turns = (0..<400).map { (role: $0 % 2 == 0 ? "user" : "assistant", content: String(repeating: "word ", count: 200)) }
        let out = try template.render(["messages": ChatTemplate.messages(turns), "bos_token": "<s>", "add_generation_prompt": true])
        #expect(out.utf8.count > 400_000)
    }
}

@Suite struct FuzzTests {
    static let pieces = [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", " if ", " for ", " in ", " else ", " endif ",
        " endfor ", " set ", " = ", " macro ", " endmacro ", "(", ")", "[", "]", "{", "}", ",", ":", ".", "|", "'",
        "\"", "\\", " x ", " messages ", " loop.index ", " range(3) ", " namespace() ", " ns.a ", " + ", " ~ ", " * ",
        " // ", " % ", " ** ", " not ", " and ", " or ", " is ", " defined ", " none ", "1", "-1", "2.5", "'s'",
        " trim ", " tojson ", " join ", " raise_exception('r') ", "\n", "  ", "é", "😀", "\u{0}", " recursive ",
        " raw ", " endraw ", " break ", " continue ", " filter ", " endfilter ", " call ", "[::-1]", "[1:]",
    ]

    static let context: [String: JinjaValue] = [
        "messages": ChatTemplate.messages([("system", "s"), ("user", "u"), ("assistant", "a")]),
        "x": ["k": [1, 2.5, "three", nil, true]], "add_generation_prompt": true,
    ]

    @Test func randomTokenSoupNeverTraps() {
        var rng = TestRandom(seed: 42)
        let limits = ChatTemplateLimits(maxSteps: 20_000)
        var rendered = 0
        for _ in 0..<3_000 {
            var source = ""
            for _ in 0..<(1 + rng.below(40)) { source += Self.pieces[rng.below(Self.pieces.count)] }
            if (try? ChatTemplate(source: source).render(Self.context, limits: limits)) != nil { rendered += 1 }
        }
        #expect(rendered > 0)
    }

    @Test func mutatedRealTemplatesNeverTrap() {
        var rng = TestRandom(seed: 7)
        let templates = Golden.loaded.templates.sorted { $0.key < $1.key }.map(\.value)
        let limits = ChatTemplateLimits(maxSteps: 50_000)
        var outcomes = [0, 0]
        for round in 0..<600 {
            var scalars = Array(templates[round % templates.count].unicodeScalars)
            for _ in 0..<(1 + rng.below(4)) where !scalars.isEmpty {
                let at = rng.below(scalars.count)
                switch rng.below(3) {
                case 0: scalars.remove(at: at)
                case 1: scalars.insert(Array(Self.pieces[rng.below(Self.pieces.count)].unicodeScalars)[0], at: at)
                default: scalars[at] = scalars[rng.below(scalars.count)]
                }
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars)
            let ok = (try? ChatTemplate(source: String(text)).render(Self.context, limits: limits)) != nil
            outcomes[ok ? 0 : 1] += 1
        }
        #expect(outcomes[0] > 0 && outcomes[1] > 0)
    }

    @Test func randomBytesNeverTrap() {
        var rng = TestRandom(seed: 9)
        for _ in 0..<2_000 {
            let bytes = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let source = String(decoding: bytes, as: UTF8.self)
            _ = try? ChatTemplate(source: "{{" + source).render(Self.context)
            _ = try? ChatTemplate(source: "{%" + source).render(Self.context)
            _ = try? ChatTemplate(source: source).render(Self.context)
            _ = try? JinjaValue(jsonData: Data(bytes))
        }
    }
}

extension TestRandom {
    mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &self) }
}
