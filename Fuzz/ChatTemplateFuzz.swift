// libFuzzer harness: the Jinja chat-template engine, compiled into the ChatTemplate module. Input: template text.
// It is parsed (ChatTemplate(source:)) and, when it parses, rendered with a small fixed context (the golden
// snippets' variables plus what apply_chat_template passes) under tight ChatTemplateLimits, with a fixed clock.
// Every failure must be a ChatTemplateError, and output must stay inside the output limit.

import Foundation

enum ChatTemplateFuzz {
    static let limits = ChatTemplateLimits(maxOutputBytes: 16 * 1024, maxLoopIterations: 2_000, maxSteps: 20_000,
                                           maxDepth: 48)
    static let now = Date(timeIntervalSince1970: 1_735_122_600)   // 2024-12-25 10:30:00 UTC

    static let context: [String: JinjaValue] = {
        let json = #"""
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "  Hi there  "},
                      {"role": "assistant", "content": "Hello!", "tool_calls": [{"type": "function", "function":
                          {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                      {"role": "tool", "content": "{\"temp\": 21}", "name": "get_weather"},
                      {"role": "user", "content": "Bye"}],
         "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
         "documents": null, "enable_thinking": false, "date_string": "25 Dec 2024",
         "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather \"now\"",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
         "name": "World", "n": 7, "x": 2.5, "neg": -7, "flag": true, "nothing": null, "empty": "",
         "items": [3, 1, 2], "words": ["b", "A", "c", "a"], "nested": {"a": {"b": {"c": 42}}, "list": [{"k": 1}, {"j": 3}]},
         "text": "Hello, World! hello again", "unicode": "ünïcödé — 中文 😀", "multiline": "line one\nline two\n\n",
         "big": 12345678901234, "floats": [0.1, 1e+16, 1e-05, 3.0, -0.0, 1e+100]}
        """#
        guard case .dict(let d)? = try? JinjaValue(jsonString: json) else { fatalError("the fixed fuzz context does not parse") }
        return Dictionary(d.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func chatTemplateFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let source = String(decoding: fuzzInput(data, size), as: UTF8.self)
    let template: ChatTemplate
    do { template = try ChatTemplate(source: source, maxNesting: 48) } catch {
        fuzzCheck(error is ChatTemplateError, "parse threw \(type(of: error)): \(error)")
        return 0
    }
    do {
        let output = try template.render(ChatTemplateFuzz.context, limits: ChatTemplateFuzz.limits, now: ChatTemplateFuzz.now)
        fuzzCheck(output.utf8.count <= ChatTemplateFuzz.limits.maxOutputBytes, "\(output.utf8.count) bytes rendered")
    } catch {
        fuzzCheck(error is ChatTemplateError, "render threw \(type(of: error)): \(error)")
    }
    return 0
}
