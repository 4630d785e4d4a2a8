import Testing
import TestSupport
import Tokenization
@testable import Grammar

@Suite("Tool-call formats")
struct ToolCallTests {
    @Test func detectsTheFormatFromTheTemplate() {
        #expect(ToolCallFormat.detect(chatTemplate: "{% for tool in tools %}<tools>{{ tool | tojson }}</tools>{% endfor %}<tool_call>") == .hermes)
        #expect(ToolCallFormat.detect(chatTemplate: "{{ '[AVAILABLE_TOOLS]' }}[TOOL_CALLS]") == .mistral)
        #expect(ToolCallFormat.detect(chatTemplate: "{%- if tools %}<|start_header_id|>ipython<|end_header_id|>{% endif %}") == .llama3)
        #expect(ToolCallFormat.detect(chatTemplate: "{{ '<|im_start|>' + message['role'] }}") == nil)
    }

    @Test func parsesHermes() {
        let out = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>"
        let (content, calls) = ToolCallFormat.hermes.parse(out)
        #expect(content == "Let me check.")
        #expect(calls == [ParsedToolCall(name: "get_weather", arguments: #"{"city":"Oslo","days":2}"#),
                          ParsedToolCall(name: "now", arguments: "{}")])
        // Cut off before the closing tag still counts; a broken call leaves everything as content.
        #expect(ToolCallFormat.hermes.parse("<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}}").calls.count == 1)
        let broken = "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": </tool_call>"
        #expect(ToolCallFormat.hermes.parse(broken) == (broken, []))
    }

    @Test func parsesLlama3AndMistral() {
        let (c1, l) = ToolCallFormat.llama3.parse("<|python_tag|>{\"name\": \"f\", \"parameters\": {\"q\": \"a;b\"}}; {\"name\": \"g\", \"parameters\": {}}")
        #expect(c1 == nil)
        #expect(l == [ParsedToolCall(name: "f", arguments: #"{"q":"a;b"}"#), ParsedToolCall(name: "g", arguments: "{}")])
        #expect(ToolCallFormat.llama3.parse("The answer is 4.").calls.isEmpty)
        let (c2, m) = ToolCallFormat.mistral.parse("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"x\": [1, 2]}}]")
        #expect(c2 == nil)
        #expect(m == [ParsedToolCall(name: "f", arguments: #"{"x":[1,2]}"#)])
        #expect(ToolCallFormat.mistral.parse("[TOOL_CALLS]f[ARGS]{\"x\": 1}").calls == [ParsedToolCall(name: "f", arguments: #"{"x":1}"#)])
    }

    /// What the forcing grammar produces is what the parser reads back, with arguments valid under the schema.
    @Test(arguments: ToolCallFormat.allCases)
    func forcedCallsParse(format: ToolCallFormat) throws {
        let weather = #"{"type":"object","properties":{"city":{"type":"string","maxLength":10},"unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false}"#
        let functions = [ToolFunction(name: "get_weather", parameters: weather), ToolFunction(name: "now", parameters: nil)]
        let grammar = try format.grammar(calling: functions)
        for seed in 0..<6 {
            let vocab = seed % 2 == 0 ? TestVocabularies.llama3 : TestVocabularies.small
            let ids = try #require(randomWalk(grammar, vocab, seed: UInt64(seed)))
            let output = text(ids, vocab)
            let (_, calls) = format.parse(output)
            #expect(!calls.isEmpty, "\(output)")
            for call in calls {
                #expect(["get_weather", "now"].contains(call.name))
                if call.name == "get_weather" { #expect(SchemaValidator(weather).problem(call.arguments) == nil, "\(call.arguments)") }
            }
        }
    }

    @Test func parsersSurviveGarbage() {
        var random = TestRandom(seed: 9)
        let pieces = ["<tool_call>", "</tool_call>", "[TOOL_CALLS]", "[ARGS]", "{", "}", "\"name\"", ":", "\"f\"", ",",
                      "\"arguments\"", "[", "]", ";", "<|python_tag|>", "\\", "\"", " ", "1", "\u{0}", "é"]
        for _ in 0..<2000 {
            let text = (0..<Int(random.next() % 16)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            for format in ToolCallFormat.allCases {
                let (content, calls) = format.parse(text)
                #expect(calls.isEmpty == (content == text))
            }
        }
    }
}

@Suite("Token bytes")
struct TokenBytesTests {
    /// Joined token bytes are the decoded text (byte-level BPE: exactly; SentencePiece: but the first token's space).
    @Test(arguments: ["bytelevel-llama3", "spm-llama2"])
    func joinedTokenBytesAreTheText(name: String) {
        let t = TestVocabularies.tokenizer(name)
        for text in ["Hello, world! {\"a\": [1, 2.5e3]}", "naïve café 你好 🤖\n\ttabs", " leading  spaces"] {
            let ids = t.encode(text, addSpecialTokens: false)
            var joined = ids.flatMap { t.tokenBytes(forId: $0)! }
            if name == "spm-llama2", joined.first == 0x20 { joined.removeFirst() }
            #expect(String(decoding: joined, as: UTF8.self) == t.decode(ids), "\(text)")
        }
        if let eos = t.eosTokenId { #expect(t.tokenBytes(forId: eos) == nil) }
    }
}
