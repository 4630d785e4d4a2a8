// Errors are values naming the construct and the line: .unsupported, .syntax, .raised, .render.

import Foundation
import Testing
@testable import ChatTemplate

/// Parses and renders `source`; returns the error it throws (nil if it rendered).
func failure(_ source: String, _ context: [String: JinjaValue] = [:],
             limits: ChatTemplateLimits = ChatTemplateLimits()) -> ChatTemplateError?
{
    do {
        _ = try ChatTemplate(source: source).render(context, limits: limits)
        return nil
    } catch let error as ChatTemplateError {
        return error
    } catch {
        Issue.record("not a ChatTemplateError: \(error)")
        return nil
    }
}

@Suite struct UnsupportedTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let source: String
        let names: String
        let line: Int
        var testDescription: String { names }
    }

    static let cases: [Case] = [
        Case(source: "{{ x | wordwrap(20) }}", names: "unsupported filter \"wordwrap\"", line: 1),
        Case(source: "a\n{{ x | truncate(5) }}", names: "unsupported filter \"truncate\"", line: 2),
        Case(source: "{{ x | map('groupby') | list }}", names: "unsupported filter \"groupby\"", line: 1),
        Case(source: "{% include 'other.jinja' %}", names: "unsupported tag \"include\"", line: 1),
        Case(source: "\n\n{% extends 'base' %}", names: "unsupported tag \"extends\"", line: 3),
        Case(source: "{% import 'm' as m %}", names: "unsupported tag \"import\"", line: 1),
        Case(source: "{% block body %}{% endblock %}", names: "unsupported tag \"block\"", line: 1),
        Case(source: "{% with a = 1 %}{% endwith %}", names: "unsupported tag \"with\"", line: 1),
        Case(source: "{% call f() %}x{% endcall %}", names: "unsupported tag \"call\"", line: 1),
        Case(source: "{% do x.append(1) %}", names: "unsupported tag \"do\"", line: 1),
        Case(source: "{% if x is filter %}{% endif %}", names: "unsupported test \"filter\"", line: 1),
        Case(source: "{{ 'x' | select('frobbed') | list }}", names: "unsupported test \"frobbed\"", line: 1),
        Case(source: "{{ '7'.zfill(3) }}", names: "unsupported method \"zfill\" of str", line: 1),
        Case(source: "{{ '{:>8}'.format(1) }}", names: "unsupported str.format field \"{:>8}\"", line: 1),
        Case(source: "{% for x in xs recursive %}{% endfor %}", names: "unsupported recursive for loop", line: 1),
        Case(source: "{{ f(*args) }}", names: "*args in a call", line: 1),
        Case(source: "{{ f(**kw) }}", names: "**kwargs in a call", line: 1),
        Case(source: "{{ '%s!' % name }}", names: "string formatting with '%'", line: 1),
        Case(source: "{% macro m() %}{{ caller() }}{% endmacro %}", names: "\"caller\" in macro \"m\"", line: 1),
        Case(source: "{{ '\\N{BULLET}' }}", names: "\\N{...} named escape", line: 1),
        Case(source: "{{ {1: 'a'} }}", names: "dict literal with a key of type 'int'", line: 1),
        Case(source: "{% set c = cycler('a', 'b') %}", names: "unsupported function \"cycler\"", line: 1),
        Case(source: "{{ x[1, 2] }}", names: "subscript with a tuple index", line: 1),
        Case(source: "{{ 123456789012345678901234567890 }}", names: "integer literal 123456789012345678901234567890", line: 1),
    ]

    @Test(arguments: cases)
    func isUnsupported(_ c: Case) {
        let e = failure(c.source, ["x": "text", "xs": [1], "name": "n"])
        #expect(e?.kind == .unsupported, "\(String(describing: e))")
        #expect(e?.message.contains(c.names) == true, "\(String(describing: e))")
        #expect(e?.line == c.line, "\(String(describing: e))")
    }

    /// Unsupported constructs are found when the template is parsed, before any render.
    @Test func reportedAtParseTime() {
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: "{% if false %}{{ x | wordwrap }}{% endif %}") }
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: "{% if false %}{% include 'x' %}{% endif %}") }
    }
}

@Suite struct SyntaxErrorTests {
    @Test func unclosedBlockNamesTheOpener() throws {
        let e = failure("line one\n{% for m in messages %}\n  {% if m %}\n  x\n{% endfor %}")
        #expect(e?.kind == .syntax)
        #expect(e?.line == 5)
        #expect(e?.message.contains("\"if\" tag opened at line 3") == true, "\(String(describing: e))")
    }

    @Test func unclosedIfAtEndOfTemplate() {
        let e = failure("{% if true %}\nno end\n")
        #expect(e?.kind == .syntax)
        #expect(e?.message.contains("'elif' or 'else' or 'endif'") == true, "\(String(describing: e))")
        #expect(e?.description.contains("line") == true)
    }

    @Test(arguments: [
        ("a\nb\n{% frobnicate %}", 3, "unknown tag \"frobnicate\""),
        ("{% endif %}", 1, "unknown tag \"endif\""),
        ("x\n{{ name ", 2, "expected end of print statement"),
        ("{{ 1 + }}", 1, "unexpected end of print statement"),
        ("\n{# never closed", 2, "missing end of comment tag"),
        ("{{ 'abc }}", 1, "unterminated string literal"),
        ("{{ (1 + 2 }}", 1, "unexpected '}', expected ')'"),
        ("{{ a $ b }}", 1, "unexpected char '$'"),
        ("{% for x in xs %}{% endfor %}\n{% break %}", 2, "\"break\" outside of a for loop"),
        ("{% set true = 1 %}", 1, "can't assign to constant true"),
        ("{{ f(a=1, 2) }}", 1, "positional argument follows keyword argument"),
        ("{% macro m(a=1, b) %}{% endmacro %}", 1, "non-default argument follows default argument"),
        ("{{ '\\x4' }}", 1, "truncated \\xXX escape"),
        ("{% raw %}never closed", 1, "missing end of raw directive"),
        ("{{ x is defined is defined }}", 1, "cannot chain multiple tests"),
        ("\n\n\n{{ x.+ }}", 4, "expected name or number after '.'"),
    ])
    func syntaxErrorWithLine(_ source: String, _ line: Int, _ message: String) {
        let e = failure(source)
        #expect(e?.kind == .syntax, "\(String(describing: e))")
        #expect(e?.line == line, "\(String(describing: e))")
        #expect(e?.message.lowercased().contains(message.lowercased()) == true, "\(String(describing: e))")
    }
}

@Suite struct RaisedAndRenderErrorTests {
    static let mistral = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"

    @Test func mistralAlternation() throws {
        let template = try ChatTemplate(source: Self.mistral)
        let messages = ChatTemplate.messages([("user", "a"), ("user", "b")])
        do {
            _ = try template.render(["messages": messages, "bos_token": "<s>", "eos_token": "</s>"])
            Issue.record("rendered")
        } catch let e as ChatTemplateError {
            #expect(e.kind == .raised)
            #expect(e.message == "Conversation roles must alternate user/assistant/user/assistant/...")
            #expect(e.line == 1)
        }
        let ok = try template.render(["messages": ChatTemplate.messages([("user", "hi"), ("assistant", "yo")]),
                                      "bos_token": "<s>", "eos_token": "</s>"])
        #expect(ok == "<s>[INST] hi [/INST]yo</s>")
    }

    @Test func raisedMessageIsTheTemplateText() {
        let e = failure("\n{{ raise_exception('bad: ' ~ n ~ ' items') }}", ["n": 3])
        #expect(e == ChatTemplateError(.raised, "bad: 3 items", line: 2))
        #expect(e?.description == "bad: 3 items (raise_exception at line 2)")
    }

    @Test(arguments: [
        ("{{ nope.attr }}", "'nope' is undefined"),
        ("{{ d.missing.deeper }}", "'dict object' has no attribute 'missing'"),
        ("{{ nope + 1 }}", "'nope' is undefined"),
        ("{{ nope() }}", "'nope' is undefined"),
        ("{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'"),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{% for x in 5 %}{% endfor %}", "'int' object is not iterable"),
        ("{% set l = [] %}{{ l.append(1) }}", "access to attribute 'append' of 'list' object is unsafe."),
        ("{{ d.pop('a') }}", "access to attribute 'pop' of 'dict' object is unsafe."),
        ("{% set d.x = 1 %}", "is not a namespace"),
        ("{{ nope | tojson }}", "Object of type Undefined is not JSON serializable"),
        ("{{ 'x'() }}", "'str' object is not callable"),
    ])
    func renderError(_ source: String, _ message: String) {
        let e = failure(source, ["d": ["a": 1]])
        #expect(e?.kind == .render, "\(String(describing: e))")
        #expect(e?.message.contains(message) == true, "\(String(describing: e))")
        #expect(e?.line == 1)
    }

    @Test func renderErrorLineIsTheExpressionLine() {
        let e = failure("ok\n{% for m in messages %}\n  {{ m.content.deeper.still }}\n{% endfor %}",
                        ["messages": ChatTemplate.messages([("user", "x")])])
        #expect(e?.kind == .render)
        #expect(e?.line == 3)
    }
}
