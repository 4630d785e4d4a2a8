import Foundation

/// Token-level log probabilities of a completion, as the API reports them (token texts resolved by the daemon).
public struct LogprobEntry: Sendable {
    public var token: String
    public var logprob: Float
    public var top: [(token: String, logprob: Float)]
    public var textOffset: Int
    public init(token: String, logprob: Float, top: [(token: String, logprob: Float)], textOffset: Int) {
        self.token = token
        self.logprob = logprob
        self.top = top
        self.textOffset = textOffset
    }
}

/// Builders for the OpenAI-shaped response bodies (and the `lorad` extension object).
public enum Responses {
    public static func completionLogprobs(_ entries: [LogprobEntry]) -> [String: Any] {
        ["tokens": entries.map(\.token), "token_logprobs": entries.map { Double($0.logprob) },
         "top_logprobs": entries.map { e in Dictionary(e.top.map { ($0.token, Double($0.logprob)) }, uniquingKeysWith: max) },
         "text_offset": entries.map(\.textOffset)]
    }

    public static func chatLogprobs(_ entries: [LogprobEntry]) -> [String: Any] {
        ["content": entries.map { e -> [String: Any] in
            ["token": e.token, "logprob": Double(e.logprob), "bytes": Array(e.token.utf8).map(Int.init),
             "top_logprobs": e.top.map { ["token": $0.token, "logprob": Double($0.logprob), "bytes": Array($0.token.utf8).map(Int.init)] }]
        }]
    }

    public struct Choice {
        public var text: String
        public var finishReason: String?
        public var logprobs: [LogprobEntry]?
        public var promptTokenIds: [Int]?
        public var tokenIds: [Int]?
        public init(text: String, finishReason: String?, logprobs: [LogprobEntry]? = nil, promptTokenIds: [Int]? = nil,
                    tokenIds: [Int]? = nil) {
            self.text = text
            self.finishReason = finishReason
            self.logprobs = logprobs
            self.promptTokenIds = promptTokenIds
            self.tokenIds = tokenIds
        }
    }

    public struct Usage {
        public var promptTokens: Int
        public var completionTokens: Int
        public init(promptTokens: Int, completionTokens: Int) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
        }
        var json: [String: Any] {
            ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens]
        }
    }

    /// A `text_completion` object (whole response, or one stream chunk when `usage` is nil).
    public static func completion(id: String, created: Int, model: String, choice: Choice, usage: Usage?,
                                  adapter: String?, steps: Int?) -> [UInt8] {
        var c: [String: Any] = ["index": 0, "text": choice.text, "finish_reason": choice.finishReason.map { $0 as Any } ?? NSNull()]
        c["logprobs"] = choice.logprobs.map(completionLogprobs) ?? NSNull()
        if let p = choice.promptTokenIds { c["prompt_token_ids"] = p }
        if let t = choice.tokenIds { c["token_ids"] = t }
        var o: [String: Any] = ["id": id, "object": "text_completion", "created": created, "model": model, "choices": [c]]
        if let usage { o["usage"] = usage.json }
        if let steps { o["lorad"] = ["adapter": adapter.map { $0 as Any } ?? NSNull(), "steps": steps] as [String: Any] }
        return JSON.encode(o)
    }

    /// A `chat.completion` (whole) or `chat.completion.chunk` (stream, `delta` set) object.
    public static func chat(id: String, created: Int, model: String, content: String?, role: Bool, finishReason: String?,
                            logprobs: [LogprobEntry]?, usage: Usage?, adapter: String?, steps: Int?, chunk: Bool,
                            promptTokenIds: [Int]? = nil, tokenIds: [Int]? = nil,
                            toolCalls: [[String: Any]]? = nil) -> [UInt8] {
        var message: [String: Any] = [:]
        if role || !chunk { message["role"] = "assistant" }
        if let content { message["content"] = content } else if !chunk { message["content"] = toolCalls == nil ? "" : NSNull() }
        if let toolCalls { message["tool_calls"] = toolCalls }
        var c: [String: Any] = ["index": 0, "finish_reason": finishReason.map { $0 as Any } ?? NSNull()]
        c[chunk ? "delta" : "message"] = message
        c["logprobs"] = logprobs.map(chatLogprobs) ?? NSNull()
        if let p = promptTokenIds { c["prompt_token_ids"] = p }
        if let t = tokenIds { c["token_ids"] = t }
        var o: [String: Any] = ["id": id, "object": chunk ? "chat.completion.chunk" : "chat.completion",
                                "created": created, "model": model, "choices": [c]]
        if let usage { o["usage"] = usage.json }
        if let steps { o["lorad"] = ["adapter": adapter.map { $0 as Any } ?? NSNull(), "steps": steps] as [String: Any] }
        return JSON.encode(o)
    }

    /// One server-sent event carrying JSON.
    public static func sse(_ json: [UInt8]) -> [UInt8] { Array("data: ".utf8) + json + Array("\n\n".utf8) }
    public static let sseDone: [UInt8] = Array("data: [DONE]\n\n".utf8)
}
