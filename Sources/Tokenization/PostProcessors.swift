/// A post-processor stage (tokenizer.json `"post_processor"`): adds special tokens around a single sequence.
protocol PostProcessor: Sendable {
    func process(_ ids: [Int], addSpecialTokens: Bool) -> [Int]
}

/// Builds a post-processor from its JSON object, by `type`.
func makePostProcessor(json value: JSONValue, context: String = "tokenizer.json post_processor")
    throws -> any PostProcessor {
    let o = try value.asObject(context)
    let type = try o.typeName(in: context)
    switch type {
    case "Sequence":
        let list = try (o.optional("processors") ?? .array([])).asArray("\(context) \"processors\"")
        return PostProcessorSequence(stages: try list.enumerated().map {
            try makePostProcessor(json: $0.element, context: "\(context) processors[\($0.offset)]")
        })
    case "ByteLevel":
        return ByteLevelPostProcessor()   // only adjusts offsets, which lorad does not report
    case "TemplateProcessing":
        return try TemplateProcessing(json: o, context: context)
    case "RobertaProcessing", "BertProcessing":
        func pair(_ key: String) throws -> Int {
            guard let v = o.optional(key) else { throw TokenizerError("\(context) is missing \"\(key)\"") }
            let a = try v.asArray("\(context) \"\(key)\"")
            guard a.count == 2 else { throw TokenizerError("\(context) \"\(key)\" must be [token, id]") }
            let id = try a[1].asInt("\(context) \"\(key)\" id")
            guard id >= 0 && id <= maximumTokenId else { throw TokenizerError("\(context) \"\(key)\" id \(id) is out of range") }
            return id
        }
        return TemplateProcessing(prefix: [try pair("cls")], suffix: [try pair("sep")])
    default:
        throw TokenizerError("unsupported post-processor type \"\(type)\" in \(context)")
    }
}

/// `Sequence`: each processor in turn.
struct PostProcessorSequence: PostProcessor {
    let stages: [any PostProcessor]
    func process(_ ids: [Int], addSpecialTokens: Bool) -> [Int] {
        stages.reduce(ids) { $1.process($0, addSpecialTokens: addSpecialTokens) }
    }
}

/// `ByteLevel` post-processing: ids unchanged.
struct ByteLevelPostProcessor: PostProcessor {
    func process(_ ids: [Int], addSpecialTokens: Bool) -> [Int] { ids }
}

/// `TemplateProcessing` (and Roberta/Bert processing, which are fixed templates): the `single` template's special
/// tokens before and after sequence `$A`.
struct TemplateProcessing: PostProcessor {
    /// ids before and after the sequence.
    let prefix: [Int]
    let suffix: [Int]

    init(prefix: [Int], suffix: [Int]) {
        self.prefix = prefix
        self.suffix = suffix
    }

    init(json o: JSONObject, context: String) throws {
        // special_tokens: { name: { "id": name, "ids": [...], "tokens": [...] } }
        var specials: [String: [Int]] = [:]
        if let st = o.optional("special_tokens") {
            for (name, entry) in try st.asObject("\(context) \"special_tokens\"").members {
                let e = try entry.asObject("\(context) special_tokens \"\(name)\"")
                let ids = try (e.optional("ids") ?? .array([])).asArray("\(context) special_tokens \"\(name)\" ids")
                specials[name] = try ids.map { v in
                    let id = try v.asInt("\(context) special_tokens \"\(name)\" ids")
                    guard id >= 0 && id <= maximumTokenId else {
                        throw TokenizerError("\(context) special token \"\(name)\" has id \(id), out of range")
                    }
                    return id
                }
            }
        }
        guard let single = o.optional("single") else { throw TokenizerError("\(context) is missing \"single\"") }
        let pieces: [JSONValue]
        switch single {
        case .array(let a): pieces = a
        case .string(let s):
            // The string form "<s>:0 $A:0" the Python constructor accepts.
            pieces = s.split(separator: " ").map { word -> JSONValue in
                let name = word.split(separator: ":").first.map(String.init) ?? String(word)
                if name.hasPrefix("$") {
                    return .object(JSONObject(members: [("Sequence", .object(JSONObject(members: [("id", .string("A"))])))]))
                }
                return .object(JSONObject(members: [("SpecialToken", .object(JSONObject(members: [("id", .string(name))])))]))
            }
        default:
            throw TokenizerError("\(context) \"single\" must be an array, not \(single.typeName)")
        }
        var before: [Int] = []
        var after: [Int] = []
        var seenSequence = false
        for (index, piece) in pieces.enumerated() {
            let p = try piece.asObject("\(context) single[\(index)]")
            if p.optional("Sequence") != nil {
                guard !seenSequence else { throw TokenizerError("\(context) single template names the sequence twice") }
                seenSequence = true
            } else if let special = p.optional("SpecialToken") {
                let name = try special.asObject("\(context) single[\(index)] SpecialToken")
                    .requiredString("id", in: "\(context) single[\(index)] SpecialToken")
                guard let ids = specials[name] else {
                    throw TokenizerError("\(context) single template uses \"\(name)\", which is not in special_tokens")
                }
                if seenSequence { after += ids } else { before += ids }
            } else {
                throw TokenizerError("\(context) single[\(index)] must be a Sequence or a SpecialToken")
            }
        }
        guard seenSequence else { throw TokenizerError("\(context) single template has no sequence ($A)") }
        prefix = before
        suffix = after
    }

    func process(_ ids: [Int], addSpecialTokens: Bool) -> [Int] {
        guard addSpecialTokens else { return ids }
        return prefix + ids + suffix
    }
}
