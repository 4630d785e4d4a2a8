import Foundation

/// Token-level log probabilities of a completion, as the API reports them (token texts resolved by the daemon).
/// An echoed prompt's first token has no logprob (nil), as in OpenAI's and vLLM's answers.
public struct LogprobEntry: Sendable {
    public var token: String
    public var logprob: Float?
    public var top: [(token: String, logprob: Float)]?
    public var textOffset: Int
    public init(token: String, logprob: Float?, top: [(token: String, logprob: Float)]?, textOffset: Int) {
        self.token = token
        self.logprob = logprob
        self.top = top
        self.textOffset = textOffset
    }
}

/// Builders for the OpenAI-shaped response bodies (and the `lorad` extension object).
public enum Responses {
    static func number(_ v: Float?) -> Any { v.map { Double($0) as Any } ?? NSNull() }

    public static func completionLogprobs(_ entries: [LogprobEntry]) -> [String: Any] {
        ["tokens": entries.map(\.token), "token_logprobs": entries.map { number($0.logprob) },
         "top_logprobs": entries.map { e -> Any in
             e.top.map { Dictionary($0.map { ($0.token, Double($0.logprob)) }, uniquingKeysWith: max) as Any } ?? NSNull()
         },
         "text_offset": entries.map(\.textOffset)]
    }

    public static func chatLogprobs(_ entries: [LogprobEntry]) -> [String: Any] {
        ["content": entries.map { e -> [String: Any] in
            ["token": e.token, "logprob": number(e.logprob), "bytes": Array(e.token.utf8).map(Int.init),
             "top_logprobs": (e.top ?? []).map { ["token": $0.token, "logprob": Double($0.logprob), "bytes": Array($0.token.utf8).map(Int.init)] }]
        }]
    }

    public struct Choice {
        public var text: String
        public var finishReason: String?
        public var logprobs: [LogprobEntry]?
        public var promptTokenIds: [Int]?
        public var tokenIds: [Int]?
        /// Chat: the message's (or delta's) `tool_calls` in OpenAI's shape; `text` is then the content before them
        /// (null when empty).
        public var toolCalls: [[String: Any]]?
        public init(text: String, finishReason: String?, logprobs: [LogprobEntry]? = nil, promptTokenIds: [Int]? = nil,
                    tokenIds: [Int]? = nil, toolCalls: [[String: Any]]? = nil) {
            self.toolCalls = toolCalls
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

    /// One choice object: completions `{text}`, chat `{message}` (whole) or `{delta}` (chunk; `role` on a
    /// choice's first chunk, `content` only when there is text).
    static func choiceJSON(_ choice: Choice, index: Int, chat: Bool, chunk: Bool, role: Bool) -> [String: Any] {
        var c: [String: Any] = ["index": index, "finish_reason": choice.finishReason.map { $0 as Any } ?? NSNull()]
        if chat {
            var message: [String: Any] = [:]
            if role || !chunk { message["role"] = "assistant" }
            if !chunk || !choice.text.isEmpty {
                message["content"] = choice.toolCalls != nil && choice.text.isEmpty ? NSNull() : choice.text
            }
            if let calls = choice.toolCalls { message["tool_calls"] = calls }
            c[chunk ? "delta" : "message"] = message
            c["logprobs"] = choice.logprobs.map(chatLogprobs) ?? NSNull()
        } else {
            c["text"] = choice.text
            c["logprobs"] = choice.logprobs.map(completionLogprobs) ?? NSNull()
        }
        if let p = choice.promptTokenIds { c["prompt_token_ids"] = p }
        if let t = choice.tokenIds { c["token_ids"] = t }
        return c
    }

    static func envelope(id: String, created: Int, model: String, chat: Bool, chunk: Bool, choices: [[String: Any]])
        -> [String: Any] {
        let object = chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"
        return ["id": id, "object": object, "created": created, "model": model, "choices": choices]
    }

    static func lorad(adapter: String?, steps: Int) -> [String: Any] {
        ["adapter": adapter.map { $0 as Any } ?? NSNull(), "steps": steps]
    }

    /// A whole `text_completion` or `chat.completion`: choices indexed in order.
    public static func response(id: String, created: Int, model: String, chat: Bool, choices: [Choice], usage: Usage,
                                adapter: String?, steps: Int) -> [UInt8] {
        var o = envelope(id: id, created: created, model: model, chat: chat, chunk: false, choices: choices.enumerated().map {
            choiceJSON($1, index: $0, chat: chat, chunk: false, role: true)
        })
        o["usage"] = usage.json
        o["lorad"] = lorad(adapter: adapter, steps: steps)
        return JSON.encode(o)
    }

    /// One stream chunk of one choice; a choice's last chunk (finish reason set) carries `lorad` with its steps.
    public static func chunk(id: String, created: Int, model: String, chat: Bool, index: Int, choice: Choice, role: Bool,
                             adapter: String?, steps: Int?) -> [UInt8] {
        var o = envelope(id: id, created: created, model: model, chat: chat, chunk: true,
                         choices: [choiceJSON(choice, index: index, chat: chat, chunk: true, role: role)])
        if let steps { o["lorad"] = lorad(adapter: adapter, steps: steps) }
        return JSON.encode(o)
    }

    /// The stream's last chunk when `stream_options.include_usage`: empty `choices`, the whole request's usage.
    public static func usageChunk(id: String, created: Int, model: String, chat: Bool, usage: Usage) -> [UInt8] {
        var o = envelope(id: id, created: created, model: model, chat: chat, chunk: true, choices: [])
        o["usage"] = usage.json
        return JSON.encode(o)
    }

    /// One server-sent event carrying JSON.
    public static func sse(_ json: [UInt8]) -> [UInt8] { Array("data: ".utf8) + json + Array("\n\n".utf8) }
    public static let sseDone: [UInt8] = Array("data: [DONE]\n\n".utf8)
}
