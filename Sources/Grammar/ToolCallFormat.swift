import Foundation
#if canImport(Tokenization)   // the fuzz build compiles Tokenization's JSON files into this module
import Tokenization
#endif

/// One function call parsed out of a model's output: its name and its arguments as compact JSON text.
public struct ParsedToolCall: Sendable, Equatable {
    public let name: String
    public let arguments: String
    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

/// The way a chat model writes tool calls, chosen from its chat template; parses finished output into calls and
/// builds the grammar that forces a call (tool_choice `required` or a named function).
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// Hermes 2 Pro / Qwen2.5: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one block per call.
    case hermes
    /// Llama 3.1/3.2 JSON: `{"name": ..., "parameters": {...}}` (optionally after `<|python_tag|>`), calls
    /// separated by `;`.
    case llama3
    /// Mistral: `[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]` (or `[TOOL_CALLS]name[ARGS]{...}`).
    case mistral

    /// The format a chat template writes tool calls in, or nil when it renders no tools.
    public static func detect(chatTemplate: String) -> ToolCallFormat? {
        if chatTemplate.contains("<tool_call>") { return .hermes }
        if chatTemplate.contains("[TOOL_CALLS]") { return .mistral }
        if chatTemplate.contains("<|python_tag|>") || (chatTemplate.contains("ipython") && chatTemplate.contains("tools")) {
            return .llama3
        }
        return nil
    }

    /// The text that opens a call in this format (streaming holds output back while it could still become this).
    public var opening: String {
        switch self {
        case .hermes: return "<tool_call>"
        case .llama3: return "{"
        case .mistral: return "[TOOL_CALLS]"
        }
    }

    /// Splits finished output into text content and tool calls. Output that does not hold well-formed calls is all
    /// content (as vLLM's parsers do), so a malformed call is shown to the client rather than lost.
    public func parse(_ output: String) -> (content: String?, calls: [ParsedToolCall]) {
        let calls: [ParsedToolCall]?
        var content: Substring = ""
        switch self {
        case .hermes:
            guard let first = output.range(of: "<tool_call>") else { return (output, []) }
            content = output[..<first.lowerBound]
            calls = ToolCallFormat.parseHermes(output[first.lowerBound...])
        case .llama3:
            var rest = output.drop { $0.isWhitespace }
            if rest.hasPrefix("<|python_tag|>") { rest = rest.dropFirst("<|python_tag|>".count) }
            calls = rest.first == "{" ? ToolCallFormat.parseJSONCalls(rest, separator: 0x3B, argumentsKey: "parameters") : nil
        case .mistral:
            guard let first = output.range(of: "[TOOL_CALLS]") else { return (output, []) }
            content = output[..<first.lowerBound]
            calls = ToolCallFormat.parseMistral(output[first.upperBound...])
        }
        guard let calls, !calls.isEmpty else { return (output, []) }
        let text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        return (text.isEmpty ? nil : text, calls)
    }

    private static func parseHermes(_ text: Substring) -> [ParsedToolCall]? {
        var calls: [ParsedToolCall] = []
        var rest = text
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.isEmpty { return calls }
            guard rest.hasPrefix("<tool_call>") else { return nil }
            rest = rest.dropFirst("<tool_call>".count)
            let body: Substring
            if let close = rest.range(of: "</tool_call>") {
                body = rest[..<close.lowerBound]
                rest = rest[close.upperBound...]
            } else {
                body = rest      // generation may stop before the closing tag
                rest = ""
            }
            guard let call = call(fromJSON: body, argumentsKey: "arguments") else { return nil }
            calls.append(call)
        }
    }

    private static func parseMistral(_ text: Substring) -> [ParsedToolCall]? {
        let rest = text.drop { $0.isWhitespace }
        if rest.first == "[" {
            guard case .array(let items)? = try? JSONParser.parse(Array(rest.utf8), source: "tool calls") else { return nil }
            let calls = items.compactMap { call(from: $0, argumentsKey: "arguments") }
            return calls.count == items.count ? calls : nil
        }
        // name[ARGS]{...}, repeated after further [TOOL_CALLS] markers.
        var calls: [ParsedToolCall] = []
        for piece in rest.components(separatedBy: "[TOOL_CALLS]") {
            guard let args = piece.range(of: "[ARGS]") else { return nil }
            let name = piece[..<args.lowerBound].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, let value = try? JSONParser.parse(Array(piece[args.upperBound...].utf8), source: "tool call"),
                  case .object = value else { return nil }
            calls.append(ParsedToolCall(name: name, arguments: String(decoding: JSONText.serialize(value), as: UTF8.self)))
        }
        return calls
    }

    /// JSON objects one after another, separated by `separator` (and spaces).
    private static func parseJSONCalls(_ text: Substring, separator: UInt8, argumentsKey: String) -> [ParsedToolCall]? {
        let bytes = Array(text.utf8)
        var calls: [ParsedToolCall] = []
        var i = 0
        while true {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D
                    || (bytes[i] == separator && !calls.isEmpty) { i += 1 }
            if i == bytes.count { return calls }
            guard let end = objectEnd(bytes, from: i),
                  let call = call(fromJSON: Substring(String(decoding: bytes[i..<end], as: UTF8.self)),
                                  argumentsKey: argumentsKey) else { return nil }
            calls.append(call)
            i = end
        }
    }

    /// The index after the object that starts at `start` (brace matching outside strings), or nil.
    static func objectEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count, bytes[start] == 0x7B else { return nil }
        var depth = 0, inString = false, escaped = false
        for i in start..<bytes.count {
            let c = bytes[i]
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                continue
            }
            switch c {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 { return i + 1 }
            default: break
            }
        }
        return nil
    }

    private static func call(fromJSON text: Substring, argumentsKey: String) -> ParsedToolCall? {
        guard let value = try? JSONParser.parse(Array(text.utf8), source: "tool call") else { return nil }
        return call(from: value, argumentsKey: argumentsKey)
    }

    /// {"name": string, "arguments"|"parameters": object (or a string holding one)}.
    private static func call(from value: JSONValue, argumentsKey: String) -> ParsedToolCall? {
        guard case .object(let o) = value, case .string(let name)? = o["name"], !name.isEmpty else { return nil }
        var arguments = o[argumentsKey] ?? o["arguments"] ?? o["parameters"] ?? .object(JSONObject(members: []))
        if case .string(let s) = arguments, let inner = try? JSONParser.parse(Array(s.utf8), source: "arguments") {
            arguments = inner
        }
        guard case .object = arguments else { return nil }
        return ParsedToolCall(name: name, arguments: String(decoding: JSONText.serialize(arguments), as: UTF8.self))
    }
}

/// A function a request offers the model: its name and its parameters' JSON schema (JSON text).
public struct ToolFunction: Sendable, Equatable {
    public let name: String
    public let parameters: String?
    public init(name: String, parameters: String?) {
        self.name = name
        self.parameters = parameters
    }
}

extension ToolCallFormat {
    /// The grammar of output that is calls of `functions` in this format (tool_choice `required`, or a named
    /// function when `functions` holds just that one): one call, or with `parallel` one or more; each call's
    /// arguments validate against its schema.
    public func grammar(calling functions: [ToolFunction], parallel: Bool = true) throws -> CompiledGrammar {
        guard !functions.isEmpty else { throw GrammarError("tool_choice needs at least one function to call") }
        var rules = GrammarRules(root: "root")
        var calls: [GrammarExpr] = []
        let argumentsKey = self == .llama3 ? "parameters" : "arguments"
        for (index, function) in functions.enumerated() {
            let schema = try function.parameters.map { try GrammarSpec.parseSchema($0) }
                ?? .object(JSONObject(members: [("type", .string("object"))]))
            let sub = try JSONSchemaCompiler.compile(schema, strict: false, compact: true)
            // The function's rules, renamed into their own namespace.
            let prefix = "f\(index)-"
            for (name, expr) in sub.rules { rules.add(prefix + name, expr.renamed(prefix: prefix)) }
            let head = "{\"name\": " + String(decoding: JSONText.quoted(function.name), as: UTF8.self)
                + ", \"\(argumentsKey)\": "
            calls.append(.sequence([.text(head), .ref(prefix + sub.root), .text("}")]))
        }
        let call = GrammarExpr.choice(calls)
        let more: Int? = parallel ? nil : 0
        switch self {
        case .hermes:
            let block = GrammarExpr.sequence([.text("<tool_call>\n"), call, .text("\n</tool_call>")])
            rules.add("root", .sequence([block, .repeated(.sequence([.text("\n"), block]), min: 0, max: more)]))
        case .llama3:
            rules.add("root", .sequence([call, .repeated(.sequence([.text("; "), call]), min: 0, max: more)]))
        case .mistral:
            rules.add("root", .sequence([.text("[TOOL_CALLS] ["), call,
                                         .repeated(.sequence([.text(", "), call]), min: 0, max: more), .text("]")]))
        }
        return try CompiledGrammar.compile(rules)
    }
}

extension GrammarExpr {
    func renamed(prefix: String) -> GrammarExpr {
        switch self {
        case .ref(let name): return .ref(prefix + name)
        case .sequence(let items): return .sequence(items.map { $0.renamed(prefix: prefix) })
        case .choice(let items): return .choice(items.map { $0.renamed(prefix: prefix) })
        case .repeated(let item, let min, let max): return .repeated(item.renamed(prefix: prefix), min: min, max: max)
        case .literal, .chars, .byteRanges: return self
        }
    }
}
