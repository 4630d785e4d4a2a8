#if canImport(Tokenization)   // the fuzz build compiles Tokenization's JSON files into this module
import Tokenization
#endif

/// What a request constrains its output to: the public entry to the Grammar target. `compile()` turns it into a
/// `CompiledGrammar` (once per request; errors name the problem, for an HTTP 400).
public enum GrammarSpec: Sendable, Hashable {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    case jsonObject
    /// JSON text valid under the schema (given as JSON text); `strict` applies OpenAI's strict-mode rules.
    case jsonSchema(String, strict: Bool)
    /// Text that the whole regular expression matches (a lorad extension).
    case regex(String)
    /// Text the GBNF grammar (llama.cpp notation, start rule `root`) derives (a lorad extension).
    case gbnf(String)

    public func compile() throws -> CompiledGrammar {
        try CompiledGrammar.compile(rules())
    }

    func rules() throws -> GrammarRules {
        switch self {
        case .jsonObject:
            var rules = try JSONSchemaCompiler.compile(.object(JSONObject(members: [("type", .string("object"))])),
                                                       strict: false)
            rules.root = "root"
            return rules
        case .jsonSchema(let text, let strict):
            return try JSONSchemaCompiler.compile(try GrammarSpec.parseSchema(text), strict: strict)
        case .regex(let pattern):
            var rules = GrammarRules(root: "root")
            rules.add("root", try RegexParser.parse(pattern, output: .raw, anchoredByDefault: true, what: "regex"))
            return rules
        case .gbnf(let text):
            return try GBNFParser.parse(text)
        }
    }

    /// A schema's JSON text, parsed with member order kept (properties come out in the schema's order).
    public static func parseSchema(_ text: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(Array(text.utf8), source: "the JSON schema")
        } catch let e as TokenizerError {
            throw GrammarError(e.message)
        }
    }
}

extension JSONValue {
    /// The value as compact JSON text, object members in their order.
    public static func text(of value: JSONValue) -> String {
        String(decoding: JSONText.serialize(value), as: UTF8.self)
    }
}
