import Engine
import Grammar
import Tokenization
import Wire

/// A chat request's `tools`, `tool_choice` and `parallel_tool_calls`: the tools as JSON for the chat template's
/// `tools` variable, the format the model writes calls in (chosen from the template; nil when tool_choice is "none",
/// so nothing is parsed), and for "required" or a named function the grammar that forces a call (one call for a
/// named function or parallel_tool_calls false; one or more otherwise). With "auto", parallel_tool_calls is not
/// enforced: the model's calls are parsed as written.
struct ToolRequest {
    var toolsJSON: String
    var format: ToolCallFormat?
    var constraint: TokenConstraintFactory?
}

extension APIService {
    func toolRequest(_ body: [UInt8]) throws -> ToolRequest? {
        guard case .object(let root)? = try? JSONParser.parse(body, source: "the request body") else { return nil }
        let choice = root["tool_choice"].flatMap { $0.isNull ? nil : $0 }
        guard let toolsValue = root["tools"], !toolsValue.isNull else {
            if choice != nil { throw APIError.invalid("tool_choice needs tools", code: "invalid_tools") }
            return nil
        }
        guard case .array(let tools) = toolsValue, !tools.isEmpty else {
            throw APIError.invalid("tools must be a non-empty list", code: "invalid_tools")
        }
        var functions: [ToolFunction] = []
        for (i, tool) in tools.enumerated() {
            guard case .object(let t) = tool, case .string("function")? = t["type"], case .object(let f)? = t["function"],
                  case .string(let name)? = f["name"], !name.isEmpty else {
                throw APIError.invalid("tools[\(i)] must be {\"type\": \"function\", \"function\": {\"name\": ...}}",
                                       code: "invalid_tools")
            }
            var parameters: String?
            if let p = f["parameters"], !p.isNull {
                guard case .object = p else {
                    throw APIError.invalid("tools[\(i)].function.parameters must be a JSON schema object", code: "invalid_tools")
                }
                parameters = JSONValue.text(of: p)
            }
            functions.append(ToolFunction(name: name, parameters: parameters))
        }
        guard let template = tokenizer.chatTemplate, let format = ToolCallFormat.detect(chatTemplate: template) else {
            throw APIError.invalid("the model's chat template does not render tools", code: "tools_unsupported")
        }
        var request = ToolRequest(toolsJSON: JSONValue.text(of: toolsValue), format: format, constraint: nil)
        var parallel = true
        if let p = root["parallel_tool_calls"], !p.isNull {
            guard case .bool(let b) = p else {
                throw APIError.invalid("parallel_tool_calls must be a boolean", code: "invalid_tools")
            }
            parallel = b
        }
        var forced: [ToolFunction]?
        switch choice {
        case nil, .string("auto")?: break
        case .string("none")?: request.format = nil
        case .string("required")?: forced = functions
        case .object(let o)?:
            guard case .object(let f)? = o["function"], case .string(let name)? = f["name"] else {
                throw APIError.invalid("tool_choice must be none, auto, required or {\"type\": \"function\", "
                                       + "\"function\": {\"name\": ...}}", code: "invalid_tools")
            }
            guard let function = functions.first(where: { $0.name == name }) else {
                throw APIError.invalid("tool_choice names \"\(name)\", which is not in tools", code: "invalid_tools")
            }
            forced = [function]
            parallel = false      // a named function: one call of it, as OpenAI does
        default:
            throw APIError.invalid("tool_choice must be none, auto, required or a named function", code: "invalid_tools")
        }
        if let forced {
            let grammar: CompiledGrammar
            do {
                grammar = try format.grammar(calling: forced, parallel: parallel)
            } catch let e as GrammarError {
                throw APIError.invalid("tools: \(e.message)", code: "invalid_schema")
            }
            let vocabulary = GrammarCache.shared.vocabulary(tokenizer, stopTokens: engine.model.generation.eosTokenIds)
            request.constraint = GrammarConstraint.factory(GrammarStates(grammar: grammar, vocabulary: vocabulary))
        }
        return request
    }
}

/// Tool calls in a chat response: what a streamed answer may send before the end (text that cannot be the start of a
/// call), and the calls as OpenAI shapes them.
extension ToolCallFormat {
    /// How much of `text` is surely content: up to the call's opening (or a partial opening at the end).
    func streamableLength(_ text: String) -> Int {
        let chars = Array(text)
        if self == .llama3 {
            let trimmed = text.drop { $0.isWhitespace }
            return trimmed.isEmpty || trimmed.first == "{" || trimmed.first == "<" ? 0 : chars.count
        }
        let open = Array(opening)
        if let r = text.range(of: opening) { return text.distance(from: text.startIndex, to: r.lowerBound) }
        for k in stride(from: min(open.count - 1, chars.count), through: 1, by: -1)
            where Array(chars.suffix(k)) == Array(open.prefix(k)) {
            return chars.count - k
        }
        return chars.count
    }

    static func openAI(_ calls: [ParsedToolCall], requestId: String, streamed: Bool) -> [[String: Any]] {
        calls.enumerated().map { i, c in
            var o: [String: Any] = ["id": "call_\(requestId.suffix(12))_\(i)", "type": "function",
                                    "function": ["name": c.name, "arguments": c.arguments]]
            if streamed { o["index"] = i }
            return o
        }
    }
}
