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
            throw APIError.invalid("lookahead needs 1 <= w <= 64, 1 <= n <= 16, 0 <= g <= 64", code: "invalid_value")
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
    public var seed: UInt64?
    public var stop: [String] = []
    public var stream = false
    /// Top alternatives per token; nil: no logprobs.
    public var logprobs: Int?
    public var returnTokenIds = false
    public var adapterScale = 1.0
    public var lookahead = LookaheadSetting.auto
    public var ignoreEOS = false

    public init() {}

    static let maxStops = 16

    /// Reads the options from a request object; `chat` switches to the chat field names where they differ.
    init(_ f: Fields, chat: Bool) throws {
        if let n = try f.int("n", in: Int.min...Int.max), n != 1 {
            throw APIError.invalid("n = \(n) is not supported: lorad returns one choice per request", code: "unsupported")
        }
        if let b = try f.int("best_of", in: Int.min...Int.max), b != 1 {
            throw APIError.invalid("best_of is not supported", code: "unsupported")
        }
        if try f.bool("echo") == true { throw APIError.invalid("echo is not supported", code: "unsupported") }
        let maxKey = chat && f.value("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
        if let m = try f.int(maxKey, in: Int.min...Int.max) {
            guard m >= 0 else { throw APIError.invalid("\"\(maxKey)\" must not be negative, got \(m)", code: "invalid_value") }
            maxTokens = m
        } else if chat {
            maxTokens = 256
        }
        temperature = try f.double("temperature", in: 0...2) ?? 1
        topP = try f.double("top_p", in: 0...1) ?? 1
        guard topP > 0 else { throw APIError.invalid("\"top_p\" must be greater than 0", code: "invalid_value") }
        if let k = try f.int("top_k", in: -1...1_000_000) { topK = max(0, k) }
        if let s = try f.int("seed", in: Int(Int64.min)...Int(Int64.max)) { seed = UInt64(bitPattern: Int64(s)) }
        switch f.value("stop") {
        case nil: break
        case let s as String: stop = [s]
        case let list as [Any]:
            guard list.count <= Self.maxStops else {
                throw APIError.invalid("\"stop\" holds at most \(Self.maxStops) strings", code: "invalid_value")
            }
            stop = try list.map {
                guard let s = $0 as? String else { throw APIError.invalid("\"stop\" must be a string or a list of strings", code: "invalid_type") }
                return s
            }
        default: throw APIError.invalid("\"stop\" must be a string or a list of strings", code: "invalid_type")
        }
        guard stop.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
            throw APIError.invalid("stop strings must be 1 to 256 characters", code: "invalid_value")
        }
        stream = try f.bool("stream") ?? false
        if chat {
            if try f.bool("logprobs") == true { logprobs = try f.int("top_logprobs", in: 0...20) ?? 0 }
        } else {
            logprobs = try f.int("logprobs", in: 0...20)
        }
        returnTokenIds = try f.bool("return_token_ids") ?? false
        adapterScale = try f.double("adapter_scale", in: -100...100) ?? 1
        ignoreEOS = try f.bool("ignore_eos") ?? false
        switch f.value("lookahead") {
        case nil: break
        case let s as String:
            guard s == "auto" || s == "off" else {
                throw APIError.invalid("\"lookahead\" must be \"auto\", \"off\" or {\"w\",\"n\",\"g\"}", code: "invalid_value")
            }
            lookahead = s == "auto" ? .auto : .off
        case let o as [String: Any]:
            let l = Fields(o)
            lookahead = try LookaheadSetting.checked(w: try l.int("w", in: 1...64) ?? 5, n: try l.int("n", in: 1...16) ?? 4,
                                                     g: try l.int("g", in: 0...64) ?? 5)
        default:
            throw APIError.invalid("\"lookahead\" must be \"auto\", \"off\" or {\"w\",\"n\",\"g\"}", code: "invalid_type")
        }
    }
}

/// `POST /v1/completions`.
public struct CompletionRequest: Sendable, Equatable {
    public var model: String
    public var prompt: PromptInput
    public var options: GenerationOptions

    public init(model: String, prompt: PromptInput, options: GenerationOptions = GenerationOptions()) {
        self.model = model
        self.prompt = prompt
        self.options = options
    }

    public init(body: [UInt8]) throws {
        let f = Fields(try JSON.object(body))
        guard let model = try f.string("model") else { throw APIError.invalid("\"model\" is required", code: "missing_field") }
        self.model = model
        switch f.value("prompt") {
        case let s as String:
            prompt = .text(s)
        case let list as [Any]:
            if list.allSatisfy({ $0 is String }) && !list.isEmpty {
                guard list.count == 1, let only = list.first as? String else {
                    throw APIError.invalid("batched prompts are not supported: send one request per prompt", code: "unsupported")
                }
                prompt = .text(only)
            } else {
                prompt = .tokens(try list.map { item in
                    guard let n = item as? NSNumber, !Fields.isBool(item), n.doubleValue == n.doubleValue.rounded(),
                          abs(n.doubleValue) < 1e9 else {
                        throw APIError.invalid("\"prompt\" as a list must hold token ids (integers)", code: "invalid_type")
                    }
                    return n.intValue
                })
            }
        case nil:
            throw APIError.invalid("\"prompt\" is required", code: "missing_field")
        default:
            throw APIError.invalid("\"prompt\" must be a string or a list of token ids", code: "invalid_type")
        }
        options = try GenerationOptions(f, chat: false)
    }

    /// The request body (for clients).
    public var body: [UInt8] {
        var o = options.jsonFields(chat: false)
        o["model"] = model
        switch prompt {
        case .text(let s): o["prompt"] = s
        case .tokens(let t): o["prompt"] = t
        }
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
        guard let model = try f.string("model") else { throw APIError.invalid("\"model\" is required", code: "missing_field") }
        self.model = model
        guard let list = f.value("messages") as? [Any], !list.isEmpty else {
            throw APIError.invalid("\"messages\" must be a non-empty list", code: "invalid_type")
        }
        guard list.count <= 4096 else { throw APIError.invalid("too many messages (at most 4096)", code: "invalid_value") }
        messages = try list.enumerated().map { i, item in
            guard let m = item as? [String: Any] else {
                throw APIError.invalid("messages[\(i)] must be an object", code: "invalid_type")
            }
            let mf = Fields(m)
            guard let role = try mf.string("role") else { throw APIError.invalid("messages[\(i)].role is required", code: "missing_field") }
            let content: String
            switch mf.value("content") {
            case nil: content = ""
            case let s as String: content = s
            case let parts as [Any]:
                content = try parts.map { part in
                    guard let p = part as? [String: Any], p["type"] as? String == "text", let t = p["text"] as? String else {
                        throw APIError.invalid("messages[\(i)].content parts must be {\"type\":\"text\",\"text\":...}", code: "unsupported")
                    }
                    return t
                }.joined()
            default:
                throw APIError.invalid("messages[\(i)].content must be a string", code: "invalid_type")
            }
            return ChatMessage(role: role, content: content,
                               json: try ChatMessage.toolFieldsJSON(m, role: role, content: content, index: i))
        }
        options = try GenerationOptions(f, chat: true)
    }
}

extension GenerationOptions {
    /// The options as request JSON fields (for clients).
    public func jsonFields(chat: Bool) -> [String: Any] {
        var o: [String: Any] = ["max_tokens": maxTokens, "temperature": temperature, "stream": stream]
        if topP != 1 { o["top_p"] = topP }
        if topK != 0 { o["top_k"] = topK }
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
