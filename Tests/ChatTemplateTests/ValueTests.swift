// The data boundary: JinjaValue from JSON, Python number formatting, strftime_now, sharing across threads.

import Foundation
import Testing
@testable import ChatTemplate

@Suite struct JSONValueTests {
    @Test func fromJSONSerializationKeepsBoolsApartFromNumbers() throws {
        let data = Data(#"{"t": true, "f": false, "one": 1, "zero": 0, "float": 1.0, "half": 0.5, "null": null, "s": "é", "l": [1, true]}"#.utf8)
        let value = JinjaValue(json: try JSONSerialization.jsonObject(with: data))
        guard case .dict(let d) = value else { Issue.record("not a dict: \(value)"); return }
        #expect(d["t"] == .bool(true))
        #expect(d["f"] == .bool(false))
        #expect(d["one"] == .int(1))
        #expect(d["zero"] == .int(0))
        #expect(d["float"] == .double(1.0))
        #expect(d["half"] == .double(0.5))
        #expect(d["null"] == JinjaValue.none)
        #expect(d["s"] == .string("é"))
        #expect(d["l"] == [1, true])
        // [String: Any] has no order: keys come sorted, so output is deterministic.
        #expect(d.keys == ["f", "float", "half", "l", "null", "one", "s", "t", "zero"])
        let out = try ChatTemplate(source: "{{ t }} {{ one + 1 }} {{ float }} {{ l | tojson }} {{ null }}").render(d.asContext)
        #expect(out == "True 2 1.0 [1, true] None")
    }

    @Test func fromSwiftValues() {
        let value = JinjaValue(json: ["a": 1, "b": [true, 2.5, "x"], "c": NSNull()] as [String: Any])
        #expect(value == ["a": 1, "b": [true, 2.5, "x"], "c": nil])
        #expect(JinjaValue(json: Date()) == JinjaValue.none)
    }

    @Test func fromJSONTextKeepsKeyOrder() throws {
        let value = try JinjaValue(jsonString: #"{"z": 1, "a": {"y": [1.5, -2, 1e3]}, "m": "\u00e9\ud83d\ude00\n"}"#)
        guard case .dict(let d) = value else { Issue.record("not a dict"); return }
        #expect(d.keys == ["z", "a", "m"])
        let out = try ChatTemplate(source: "{{ v | tojson }}").render(["v": value])
        #expect(out == #"{"z": 1, "a": {"y": [1.5, -2, 1000.0]}, "m": "é😀\n"}"#)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "tru", "[1] 2", "\"\u{01}\"", "{\"a\":}"])
    func invalidJSONTextIsASyntaxError(_ text: String) {
        #expect(throws: ChatTemplateError.self) { try JinjaValue(jsonString: text) }
    }

    @Test func deeplyNestedJSONTextIsRefused() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: ChatTemplateError.self) { try JinjaValue(jsonString: text) }
    }

    @Test func messagesConvenience() throws {
        let m = ChatTemplate.messages([("system", "s"), ("user", "u")])
        #expect(m == [["role": "system", "content": "s"], ["role": "user", "content": "u"]])
        let chat = ChatTemplate.messages([ChatMessage(role: "assistant", content: nil, extra: ["tool_calls": []])])
        #expect(chat == [["role": "assistant", "content": nil, "tool_calls": []]])
    }
}

@Suite struct PythonFormatTests {
    @Test(arguments: [
        (0.1, "0.1"), (1.0, "1.0"), (-0.0, "-0.0"), (1e16, "1e+16"), (9.999999999999998e15, "9999999999999998.0"),
        (1e15, "1000000000000000.0"), (0.0001, "0.0001"), (0.00001, "1e-05"), (1.5e-7, "1.5e-07"), (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (123456789.125, "123456789.125"), (2.5e22, "2.5e+22"),
        (Double.infinity, "inf"), (-Double.infinity, "-inf"), (Double.nan, "nan"), (0.30000000000000004, "0.30000000000000004"),
    ])
    func floatRepr(_ x: Double, _ python: String) {
        #expect(pyFloatRepr(x) == python)
    }

    @Test func stringRepr() {
        #expect(pyRepr("it's") == "\"it's\"")
        #expect(pyRepr("say \"hi\" it's") == "'say \"hi\" it\\'s'")
        #expect(pyRepr("a\tb\n\u{7f}\u{a0}é😀\u{200b}") == "'a\\tb\\n\\x7f\\xa0é😀\\u200b'")
    }

    @Test func canonicallyEquivalentStringsStayDistinct() throws {
        // Python compares code points: "é" (one scalar) and "e\u{301}" (two) differ.
        let out = try ChatTemplate(source: "{{ a == b }} {{ a | length }} {{ b | length }} {{ {a: 1, b: 2} | length }}")
            .render(["a": "é", "b": "e\u{301}"])
        #expect(out == "False 1 2 2")
    }
}

@Suite struct ClockAndSharingTests {
    @Test func strftimeNowUsesTheCurrentLocalDate() throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        let before = formatter.string(from: Date())
        let out = try ChatTemplate(source: "{{ strftime_now('%d %b %Y') }}").render([:])
        let after = formatter.string(from: Date())
        #expect(out == before || out == after)
    }

    @Test func llama32TodayDateComesFromTheClock() throws {
        let template = try ChatTemplate(source: Golden.loaded.templates["llama-3.2-instruct"] ?? "")
        let out = try template.render(["messages": ChatTemplate.messages([("user", "hi")]), "bos_token": "<s>"],
                                      limits: ChatTemplateLimits(), now: Golden.now)
        #expect(out.contains("Today Date: 25 Dec 2024\n"))
    }

    @Test func oneTemplateRendersConcurrently() async throws {
        let template = try ChatTemplate(source: Golden.loaded.templates["qwen2.5-instruct"] ?? "")
        let context: [String: JinjaValue] = ["messages": ChatTemplate.messages([("user", "hello")]), "add_generation_prompt": true]
        let expected = try template.render(context)
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<32 { group.addTask { try template.render(context) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outputs.count == 32 && outputs.allSatisfy { $0 == expected })
    }

    @Test func generationTagRendersItsBody() throws {
        let out = try ChatTemplate(source: "{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}")
            .render(["messages": ChatTemplate.messages([("assistant", "a"), ("assistant", "b")])])
        #expect(out == "[a][b]")
    }
}

extension JinjaDict {
    var asContext: [String: JinjaValue] {
        var out: [String: JinjaValue] = [:]
        for (k, v) in self { out[k] = v }
        return out
    }
}
