/// The parts of transformers' `tokenizer_config.json` the tokenizer uses.
struct TokenizerConfig: Sendable {
    var bosToken: String?
    var eosToken: String?
    var chatTemplate: String?
    /// `add_bos_token` / `add_eos_token` when the file sets them (nil when absent or null).
    var addBosToken: Bool?
    var addEosToken: Bool?

    init() {}

    init(json data: some Collection<UInt8>) throws {
        let ctx = "tokenizer_config.json"
        let o = try JSONParser.parse(data, source: ctx).asObject(ctx)
        bosToken = try TokenizerConfig.tokenString(o, "bos_token")
        eosToken = try TokenizerConfig.tokenString(o, "eos_token")
        addBosToken = try o.optional("add_bos_token").map { try $0.asBool("\(ctx) \"add_bos_token\"") }
        addEosToken = try o.optional("add_eos_token").map { try $0.asBool("\(ctx) \"add_eos_token\"") }
        if let template = o.optional("chat_template") {
            switch template {
            case .string(let s):
                chatTemplate = s
            case .array(let list):
                // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
                for (index, entry) in list.enumerated() {
                    let e = try entry.asObject("\(ctx) chat_template[\(index)]")
                    if try e.optionalString("name", in: "\(ctx) chat_template[\(index)]") == "default" {
                        chatTemplate = try e.requiredString("template", in: "\(ctx) chat_template[\(index)]")
                    }
                }
            default:
                throw TokenizerError("\(ctx) \"chat_template\" must be a string or a list, not \(template.typeName)")
            }
        }
    }

    /// A special-token entry: a string, or an AddedToken object with "content".
    private static func tokenString(_ o: JSONObject, _ key: String) throws -> String? {
        guard let v = o.optional(key) else { return nil }
        switch v {
        case .string(let s): return s
        case .object(let t): return try t.requiredString("content", in: "tokenizer_config.json \"\(key)\"")
        default: throw TokenizerError("tokenizer_config.json \"\(key)\" must be a string or an object, not \(v.typeName)")
        }
    }
}
