import Engine
import Grammar
import Synchronization
import Tokenization
import Wire

/// `response_format` of /v1/completions and /v1/chat/completions: `text`, `json_object`, `json_schema` (`strict`
/// honoured: OpenAI's strict-mode rules are checked), and the lorad extensions `{"type": "regex", "regex": ...}` and
/// `{"type": "grammar", "grammar": GBNF}`. A constraint becomes the request's `TokenConstraint`; anything invalid is a
/// 400 naming the problem. The body is read again with the order-keeping JSON parser, because a schema's property
/// order is the order the output writes them in.
extension APIService {
    func structuredOutput(_ body: [UInt8]) throws -> TokenConstraintFactory? {
        guard case .object(let root)? = try? JSONParser.parse(body, source: "the request body") else { return nil }
        guard let format = root["response_format"], !format.isNull else { return nil }
        guard case .object(let f) = format, case .string(let type)? = f["type"] else {
            throw APIError.invalid("response_format must be an object with a \"type\"", code: "invalid_response_format")
        }
        let spec: GrammarSpec
        switch type {
        case "text":
            return nil
        case "json_object":
            spec = .jsonObject
        case "json_schema":
            guard case .object(let js)? = f["json_schema"], let schema = js["schema"] else {
                throw APIError.invalid("response_format json_schema needs {\"json_schema\": {\"name\": ..., \"schema\": {...}}}",
                                       code: "invalid_response_format")
            }
            var strict = false
            if let s = js["strict"], !s.isNull {
                guard case .bool(let b) = s else {
                    throw APIError.invalid("response_format json_schema.strict must be a boolean", code: "invalid_response_format")
                }
                strict = b
            }
            spec = .jsonSchema(JSONValue.text(of: schema), strict: strict)
        case "regex", "grammar":
            guard case .string(let text)? = f[type] else {
                throw APIError.invalid("response_format \(type) needs \"\(type)\": a string", code: "invalid_response_format")
            }
            spec = type == "regex" ? .regex(text) : .gbnf(text)
        default:
            throw APIError.invalid("response_format type \"\(type)\" is not supported (text, json_object, json_schema, "
                                   + "regex, grammar)", code: "invalid_response_format")
        }
        if case .bool(true)? = root["ignore_eos"] {
            throw APIError.invalid("ignore_eos cannot be combined with response_format: the output ends where the "
                                   + "grammar does", code: "invalid_response_format")
        }
        let states = try GrammarCache.shared.states(spec, tokenizer: tokenizer, stopTokens: engine.model.generation.eosTokenIds)
        return GrammarConstraint.factory(states)
    }
}

/// Compiled grammars and their states by spec, and the vocabulary trie, built once per tokenizer: requests with the
/// same schema share the states (masks learned by one sequence serve the next). Least recently used out past 32.
final class GrammarCache: Sendable {
    static let shared = GrammarCache()
    private struct Entries {
        var vocabulary: (ObjectIdentifier, TokenVocabulary)?
        var states: [GrammarSpec: GrammarStates] = [:]
        var order: [GrammarSpec] = []
    }
    private let entries = Mutex(Entries())
    static let capacity = 32

    func states(_ spec: GrammarSpec, tokenizer: Tokenizer, stopTokens: [Int]) throws -> GrammarStates {
        if let hit = entries.withLock({ e -> GrammarStates? in
            guard let s = e.states[spec], s.vocabulary === vocabularyIfBuilt(e, tokenizer) else { return nil }
            e.order.removeAll { $0 == spec }
            e.order.append(spec)
            return s
        }) { return hit }
        let grammar: CompiledGrammar
        do {
            grammar = try spec.compile()
        } catch let e as GrammarError {
            throw APIError.invalid("response_format: \(e.message)", code: "invalid_schema")
        }
        let states = GrammarStates(grammar: grammar, vocabulary: vocabulary(tokenizer, stopTokens: stopTokens))
        entries.withLock { e in
            e.states[spec] = states
            e.order.removeAll { $0 == spec }
            e.order.append(spec)
            while e.order.count > GrammarCache.capacity { e.states[e.order.removeFirst()] = nil }
        }
        return states
    }

    private func vocabularyIfBuilt(_ e: Entries, _ tokenizer: Tokenizer) -> TokenVocabulary? {
        guard let (id, v) = e.vocabulary, id == ObjectIdentifier(tokenizer) else { return nil }
        return v
    }

    /// The vocabulary trie of `tokenizer` (built once).
    func vocabulary(_ tokenizer: Tokenizer, stopTokens: [Int]) -> TokenVocabulary {
        if let v = entries.withLock({ vocabularyIfBuilt($0, tokenizer) }) { return v }
        let v = TokenVocabulary(tokenBytes: (0..<tokenizer.vocabularySize).map { tokenizer.tokenBytes(forId: $0) },
                                stopTokens: stopTokens)
        entries.withLock { $0.vocabulary = (ObjectIdentifier(tokenizer), v) }
        return v
    }
}
