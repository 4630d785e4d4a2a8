import Foundation

/// What to generate from: text (tokenized with special tokens) or token ids as given.
public enum PromptInput: Sendable, Equatable {
    case text(String)
    case tokens([Int])
}

/// Lookahead decoding per request: the daemon's choice, off, or an explicit window (W columns, N-gram size, G
/// candidates).
public enum LookaheadSetting: Sendable, Equatable {
    case auto, off
    case explicit(w: Int, n: Int, g: Int)

    /// `"auto"`, `"off"`, `"W,N,G"` (the CLI form).
    public init(cli: String) throws {
        switch cli {
        case "auto": self = .auto
        case "off": self = .off
        default:
            let parts = cli.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 3, let w = parts[0], let n = parts[1], let g = parts[2] else {
                throw APIError.invalid("lookahead must be auto, off or W,N,G")
            }
            self = try Self.checked(w: w, n: n, g: g)
        }
    }

    static func checked(w: Int, n: Int, g: Int) throws -> LookaheadSetting {
        guard (1...64).contains(w), (1...16).contains(n), (0...64).contains(g) else {
            throw APIError.invalid("lookahead needs 1 <= w <= 64, 1 <= n <= 16, 0 <= g <= 64", code: "invalid_value", param: "lookahead")
        }
        return .explicit(w: w, n: n, g: g)
    }
}

/// Options shared by completions and chat completions, with OpenAI's defaults.
public struct GenerationOptions: Sendable, Equatable {
    public var maxTokens = 16
    public var temperature = 1.0
    public var topP = 1.0
    public var topK = 0
    public var minP = 0.0
    public var seed: UInt64?
    public var stop: [String] = []
    public var stream = false
    /// `stream_options.include_usage`: one last chunk with `usage` and empty `choices`.
    public var includeUsage = false
    /// Top alternatives per token; nil: no logprobs.
    public var logprobs: Int?
    public var returnTokenIds = false
    public var adapterScale = 1.0
    public var lookahead = LookaheadSetting.auto
    public var ignoreEOS = false
    public var presencePenalty = 0.0
    public var frequencyPenalty = 0.0
    public var repetitionPenalty = 1.0
    /// Token id -> bias (ids checked against the vocabulary by the server).
    public var logitBias: [Int: Double] = [:]
    public var minTokens = 0
    public var stopTokenIds: [Int] = []
    /// Choices per prompt, and candidates generated per prompt to pick them from (`best_of`, completions only).
    public var n = 1
    public var bestOf = 1
    /// Completions: the prompt is part of each choice's text (and logprobs).
    public var echo = false
    /// LoRAX: the adapter to run, overriding `model`.
    public var adapterId: String?

    public init() {}

    static let maxStops = 16
    /// Choices one request may ask for (prompts x best_of).
    public static let maxChoices = 128

    /// Reads the options from a request object; `chat` switches to the chat field names where they differ.
    init(_ f: Fields, chat: Bool) throws {
        try RequestFields.check(f, chat: chat)
        let maxKey = chat && f.value("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
        // Both limits given: the one not read would be ignored, so they must agree.
        if maxKey == "max_completion_tokens", f.value("max_tokens") != nil,
           try f.int("max_tokens", in: Int.min...Int.max) != f.int(maxKey, in: Int.min...Int.max) {
            throw f.invalid("max_tokens", "\"max_tokens\" and \"max_completion_tokens\" differ; send one of them")
        }
        if let m = try f.int(maxKey, in: Int.min...Int.max) {
            guard m >= 0 else { throw f.invalid(maxKey, "\"\(maxKey)\" must not be negative, got \(m)") }
            maxTokens = m
        } else if chat {
            maxTokens = 256
        }
        temperature = try f.double("temperature", in: 0...2) ?? 1
        topP = try f.double("top_p", in: 0...1) ?? 1
        guard topP > 0 else { throw f.invalid("top_p", "\"top_p\" must be greater than 0") }
        if let k = try f.int("top_k", in: -1...1_000_000) { topK = max(0, k) }
        minP = try f.double("min_p", in: 0...1) ?? 0
        if let s = try f.int("seed", in: Int(Int64.min)...Int(Int64.max)) { seed = UInt64(bitPattern: Int64(s)) }
        switch f.value("stop") {
        case nil: break
        case let s as String: stop = [s]
        case let list as [Any]:
            guard list.count <= Self.maxStops else {
                throw f.invalid("stop", "\"stop\" holds at most \(Self.maxStops) strings")
            }
            stop = try list.map {
                guard let s = $0 as? String else { throw f.invalid("stop", "\"stop\" must be a string or a list of strings", code: "invalid_type") }
                return s
            }
        default: throw f.invalid("stop", "\"stop\" must be a string or a list of strings", code: "invalid_type")
        }
        guard stop.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
            throw f.invalid("stop", "stop strings must be 1 to 256 characters")
        }
        stream = try f.bool("stream") ?? false
        if let o = f.value("stream_options") {
            guard stream else { throw f.invalid("stream_options", "\"stream_options\" is only allowed when \"stream\" is true") }
            guard let object = o as? [String: Any] else {
                throw f.invalid("stream_options", "\"stream_options\" must be an object", code: "invalid_type")
            }
            let so = Fields(object, path: "stream_options")
            try so.refuseUnknown(RequestFields.streamOptions, what: "stream_options")
            includeUsage = try so.bool("include_usage") ?? false
        }
        if chat {
            let top = try f.int("top_logprobs", in: 0...20)
            if try f.bool("logprobs") == true {
                logprobs = top ?? 0
            } else if top != nil {
                throw f.invalid("top_logprobs", "\"top_logprobs\" needs \"logprobs\": true")
            }
        } else {
            logprobs = try f.int("logprobs", in: 0...20)
            echo = try f.bool("echo") ?? false
        }
        returnTokenIds = try f.bool("return_token_ids") ?? false
        adapterScale = try f.double("adapter_scale", in: -100...100) ?? 1
        adapterId = try f.string("adapter_id")
        ignoreEOS = try f.bool("ignore_eos") ?? false
        presencePenalty = try f.double("presence_penalty", in: -2...2) ?? 0
        frequencyPenalty = try f.double("frequency_penalty", in: -2...2) ?? 0
        repetitionPenalty = try f.double("repetition_penalty", in: 0.01...100) ?? 1
        minTokens = try f.int("min_tokens", in: 0...Int.max) ?? 0
        guard minTokens <= maxTokens else {
            throw f.invalid("min_tokens", "\"min_tokens\" (\(minTokens)) must not exceed the maximum tokens (\(maxTokens))")
        }
        switch f.value("logit_bias") {
        case nil: break
        case let o as [String: Any]:
            guard o.count <= 1024 else { throw f.invalid("logit_bias", "\"logit_bias\" holds at most 1024 tokens") }
            for key in o.keys.sorted() {
                guard let id = Int(key), id >= 0, String(id) == key else {
                    throw f.invalid("logit_bias", "\"logit_bias\" keys must be token ids, got \"\(key.prefix(32))\"")
                }
                guard let n = o[key] as? NSNumber, !Fields.isBool(n), n.doubleValue.isFinite, abs(n.doubleValue) <= 100 else {
                    throw f.invalid("logit_bias", "\"logit_bias\" values must be numbers between -100 and 100 (token \(id))")
                }
                logitBias[id] = n.doubleValue
            }
        default:
            throw f.invalid("logit_bias", "\"logit_bias\" must be an object of token id -> bias", code: "invalid_type")
        }
        if let list = f.value("stop_token_ids") {
            stopTokenIds = try Self.tokenIds(list, f, "stop_token_ids")
            guard stopTokenIds.count <= 1024 else { throw f.invalid("stop_token_ids", "\"stop_token_ids\" holds at most 1024 ids") }
        }
        n = try f.int("n", in: 1...Self.maxChoices) ?? 1
        if !chat {
            bestOf = try f.int("best_of", in: 1...Self.maxChoices) ?? n
            guard bestOf >= n else { throw f.invalid("best_of", "\"best_of\" (\(bestOf)) must be at least \"n\" (\(n))") }
            guard !(stream && bestOf > n) else {
                throw f.invalid("best_of", "\"best_of\" cannot be used with \"stream\": the best choices are known only at the end")
            }
        } else {
            bestOf = n
        }
        switch f.value("lookahead") {
        case nil: break
        case let s as String:
            guard s == "auto" || s == "off" else {
                throw f.invalid("lookahead", "\"lookahead\" must be \"auto\", \"off\" or {\"w\",\"n\",\"g\"}")
            }
            lookahead = s == "auto" ? .auto : .off
        case let o as [String: Any]:
            let l = Fields(o, path: "lookahead")
            try l.refuseUnknown(["w", "n", "g"], what: "lookahead")
            lookahead = try LookaheadSetting.checked(w: try l.int("w", in: 1...64) ?? 5, n: try l.int("n", in: 1...16) ?? 4,
                                                     g: try l.int("g", in: 0...64) ?? 5)
        default:
            throw f.invalid("lookahead", "\"lookahead\" must be \"auto\", \"off\" or {\"w\",\"n\",\"g\"}", code: "invalid_type")
        }
    }

    /// A JSON list of token ids (non-negative integers below 2^31; checked against the vocabulary later).
    static func tokenIds(_ value: Any, _ f: Fields, _ key: String) throws -> [Int] {
        guard let list = value as? [Any] else { throw f.invalid(key, "\"\(key)\" must be a list of token ids", code: "invalid_type") }
        return try list.map { item in
            guard let n = item as? NSNumber, !Fields.isBool(item), n.doubleValue == n.doubleValue.rounded(),
                  n.doubleValue >= 0, n.doubleValue < 2_147_483_648 else {
                throw f.invalid(key, "\"\(key)\" must hold token ids (non-negative integers)", code: "invalid_type")
            }
            return n.intValue
        }
    }
}

/// `POST /v1/completions`.
public struct CompletionRequest: Sendable, Equatable {
    public var model: String
    /// One prompt, or several (each gets its own choices, indexed prompt by prompt).
    public var prompts: [PromptInput]
    public var options: GenerationOptions

    public var prompt: PromptInput { prompts[0] }

    public init(model: String, prompt: PromptInput, options: GenerationOptions = GenerationOptions()) {
        self.model = model
        self.prompts = [prompt]
        self.options = options
    }

    public init(body: [UInt8]) throws {
        let f = Fields(try JSON.object(body))
        guard let model = try f.string("model") else { throw f.invalid("model", "\"model\" is required", code: "missing_field") }
        self.model = model
        let shape = "\"prompt\" must be a string, a list of strings, a list of token ids or a list of token-id lists"
        switch f.value("prompt") {
        case let s as String:
            prompts = [.text(s)]
        case let list as [Any] where !list.isEmpty && list.allSatisfy({ $0 is String }):
            prompts = list.map { .text($0 as! String) }
        case let list as [Any] where !list.isEmpty && list.allSatisfy({ $0 is [Any] }):
            prompts = try list.map { .tokens(try GenerationOptions.tokenIds($0, f, "prompt")) }
        case let list as [Any] where !list.isEmpty:
            prompts = [.tokens(try GenerationOptions.tokenIds(list, f, "prompt"))]
        case is [Any]:
            throw f.invalid("prompt", "\"prompt\" must not be empty")
        case nil:
            throw f.invalid("prompt", "\"prompt\" is required", code: "missing_field")
        default:
            throw f.invalid("prompt", shape, code: "invalid_type")
        }
        for p in prompts {
            if p == .text("") || p == .tokens([]) { throw f.invalid("prompt", "\"prompt\" must not be empty") }
        }
        options = try GenerationOptions(f, chat: false)
        guard prompts.count * options.bestOf <= GenerationOptions.maxChoices else {
            throw f.invalid("prompt", "\(prompts.count) prompts x \(options.bestOf) choices is more than \(GenerationOptions.maxChoices) in one request")
        }
    }

    /// The request body (for clients).
    public var body: [UInt8] {
        var o = options.jsonFields(chat: false)
        o["model"] = model
        let values: [Any] = prompts.map { p -> Any in
            switch p {
            case .text(let s): return s
            case .tokens(let t): return t
            }
        }
        o["prompt"] = values.count == 1 ? values[0] : values
        return JSON.encode(o)
    }
}

/// One chat message (content as text; array content parts of type "text" are joined). A message that carries tool
/// calls (assistant) or answers one (`tool_call_id`, `name`) also keeps those fields as JSON for the chat template,
/// with each call's `arguments` string turned into an object as templates expect (vLLM does the same).
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    /// The message as JSON (role, content and the tool fields), when it has tool fields; nil otherwise.
    public var json: String?
    public init(role: String, content: String, json: String? = nil) {
        self.role = role
        self.content = content
        self.json = json
    }

    static func toolFieldsJSON(_ m: [String: Any], role: String, content: String, index i: Int) throws -> String? {
        var out: [String: Any] = ["role": role, "content": m["content"] is NSNull || m["content"] == nil ? NSNull() : content]
        var any = false
        if let calls = m["tool_calls"], !(calls is NSNull) {
            guard let list = calls as? [[String: Any]] else {
                throw APIError.invalid("messages[\(i)].tool_calls must be a list of objects", code: "invalid_type")
            }
            out["tool_calls"] = try list.map { call -> [String: Any] in
                guard var function = call["function"] as? [String: Any], function["name"] is String else {
                    throw APIError.invalid("messages[\(i)].tool_calls need {\"function\": {\"name\", \"arguments\"}}",
                                           code: "invalid_type")
                }
                if let a = function["arguments"] as? String {
                    function["arguments"] = (try? JSONSerialization.jsonObject(with: Data(a.utf8))) ?? a
                }
                var c = call
                c["function"] = function
                return c
            }
            any = true
        }
        for key in ["tool_call_id", "name"] {
            if let v = m[key], !(v is NSNull) {
                guard v is String else { throw APIError.invalid("messages[\(i)].\(key) must be a string", code: "invalid_type") }
                out[key] = v
                any = true
            }
        }
        guard any else { return nil }
        return String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self)
    }
}

/// `POST /v1/chat/completions`.
public struct ChatRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var options: GenerationOptions

    public init(body: [UInt8]) throws {
        let f = Fields(try JSON.object(body))
        guard let model = try f.string("model") else { throw f.invalid("model", "\"model\" is required", code: "missing_field") }
        self.model = model
        messages = try Self.messages(f)
        options = try GenerationOptions(f, chat: true)
    }

    /// The `messages` list of a request object (also read by `/v1/tokenize`).
    public static func messages(_ f: Fields) throws -> [ChatMessage] {
        guard let list = f.value("messages") as? [Any], !list.isEmpty else {
            throw f.invalid("messages", "\"messages\" must be a non-empty list", code: "invalid_type")
        }
        guard list.count <= 4096 else { throw f.invalid("messages", "too many messages (at most 4096)") }
        return try list.enumerated().map { i, item in
            let at = "messages[\(i)]"
            guard let m = item as? [String: Any] else {
                throw APIError.invalid("\(at) must be an object", code: "invalid_type", param: at)
            }
            let mf = Fields(m, path: at)
            guard let role = try mf.string("role") else { throw mf.invalid("role", "\(at).role is required", code: "missing_field") }
            guard RequestFields.roles.contains(role) else {
                throw mf.invalid("role", "\(at).role must be one of \(RequestFields.roles.sorted().joined(separator: ", ")), got \"\(role.prefix(32))\"")
            }
            let toolKeys = try StructuredOutput.refuse(message: mf, role: role)
            try mf.refuseUnknown(RequestFields.message.union(toolKeys), what: "chat messages")
            let content: String
            switch mf.value("content") {
            case nil: content = ""
            case let s as String: content = s
            case let parts as [Any]:
                content = try parts.map { part in
                    guard let p = part as? [String: Any], p["type"] as? String == "text", p.count == 2, let t = p["text"] as? String else {
                        throw APIError.unsupported("\(at).content", "\(at).content parts must be {\"type\":\"text\",\"text\":...}: lorad reads text only")
                    }
                    return t
                }.joined()
            default:
                throw mf.invalid("content", "\(at).content must be a string", code: "invalid_type")
            }
            let finalRole = role == "developer" ? "system" : role
            return ChatMessage(role: finalRole, content: content,
                               json: try ChatMessage.toolFieldsJSON(m, role: finalRole, content: content, index: i))
        }
    }
}

extension GenerationOptions {
    /// The options as request JSON fields (for clients).
    public func jsonFields(chat: Bool) -> [String: Any] {
        var o: [String: Any] = ["max_tokens": maxTokens, "temperature": temperature, "stream": stream]
        if topP != 1 { o["top_p"] = topP }
        if topK != 0 { o["top_k"] = topK }
        if minP != 0 { o["min_p"] = minP }
        if presencePenalty != 0 { o["presence_penalty"] = presencePenalty }
        if frequencyPenalty != 0 { o["frequency_penalty"] = frequencyPenalty }
        if repetitionPenalty != 1 { o["repetition_penalty"] = repetitionPenalty }
        if !logitBias.isEmpty { o["logit_bias"] = Dictionary(uniqueKeysWithValues: logitBias.map { (String($0.key), $0.value) }) }
        if minTokens != 0 { o["min_tokens"] = minTokens }
        if !stopTokenIds.isEmpty { o["stop_token_ids"] = stopTokenIds }
        if ignoreEOS { o["ignore_eos"] = true }
        if n != 1 { o["n"] = n }
        if bestOf != n && !chat { o["best_of"] = bestOf }
        if echo && !chat { o["echo"] = true }
        if let adapterId { o["adapter_id"] = adapterId }
        if stream && includeUsage { o["stream_options"] = ["include_usage": true] }
        if let seed { o["seed"] = Int64(bitPattern: seed) }
        if !stop.isEmpty { o["stop"] = stop }
        if let logprobs {
            if chat { o["logprobs"] = true; o["top_logprobs"] = logprobs } else { o["logprobs"] = logprobs }
        }
        if returnTokenIds { o["return_token_ids"] = true }
        if adapterScale != 1 { o["adapter_scale"] = adapterScale }
        switch lookahead {
        case .auto: break
        case .off: o["lookahead"] = "off"
        case .explicit(let w, let n, let g): o["lookahead"] = ["w": w, "n": n, "g": g]
        }
        return o
    }
}
