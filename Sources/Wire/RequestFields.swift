import Foundation

/// Which request fields lorad honours, per endpoint; everything else is refused with 400 `unsupported_parameter`
/// and `param` naming the field (as OpenAI refuses an unknown argument). docs/api.md lists the same sets.
public enum RequestFields {
    /// OpenAI's `CreateCompletionRequest` fields lorad implements.
    public static let completion: Set<String> = [
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
        "presence_penalty", "seed", "stop", "stream", "stream_options", "temperature", "top_p",
    ]
    /// OpenAI's `CreateChatCompletionRequest` fields lorad implements.
    public static let chat: Set<String> = [
        "model", "messages", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens",
        "max_completion_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options", "temperature",
        "top_p",
    ]
    /// lorad's extensions (LoRAX's `adapter_id`, vLLM's sampling extras, lorad's own), accepted on both endpoints.
    public static let extensions: Set<String> = [
        "adapter_id", "adapter_scale", "lookahead", "return_token_ids", "top_k", "min_p", "repetition_penalty",
        "min_tokens", "ignore_eos", "stop_token_ids",
    ]
    /// Keys of one chat message lorad reads (tool-call keys go to `StructuredOutput`).
    public static let message: Set<String> = ["role", "content"]
    /// Roles a chat message may have; `developer` is rendered as `system` (as OpenAI does for chat models).
    public static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]
    /// Keys of `stream_options`.
    public static let streamOptions: Set<String> = ["include_usage"]

    /// OpenAI fields lorad refuses, with what a value that asks for nothing lorad lacks looks like (those pass):
    /// `store: false` is what lorad does anyway; `user` and `suffix` have no effect lorad could give them.
    static let noOpValues: [String: @Sendable (Any) -> Bool] = [
        "store": { ($0 as? NSNumber).map { Fields.isBool($0) && !$0.boolValue } ?? false },
        "modalities": { ($0 as? [Any]).map { $0.count == 1 && $0.first as? String == "text" } ?? false },
        "service_tier": { ["auto", "default"].contains($0 as? String ?? "") },
    ]

    /// Refuses every top-level field not honoured here (structured output first, through its one place).
    static func check(_ f: Fields, chat: Bool) throws {
        var known = (chat ? Self.chat : completion).union(extensions).union(try StructuredOutput.refuse(f, chat: chat))
        for (key, passes) in noOpValues where f.value(key).map(passes) ?? true { known.insert(key) }
        try f.refuseUnknown(known, what: chat ? "/v1/chat/completions" : "/v1/completions")
    }
}

/// Structured outputs and tool calls (`response_format`, `tools`, `tool_choice`, ...): THE one place their fields
/// are admitted. The Server reads them (in order, from the raw body) and turns them into a grammar; what lorad does
/// not do (`functions`, `function_call`, vLLM's `guided_*`, tools on /v1/completions) is refused with 400
/// `unsupported_parameter`.
public enum StructuredOutput {
    /// Top-level request fields, and chat message keys, that belong to structured output and tool calls.
    public static let requestFields = ["response_format", "tools", "tool_choice", "parallel_tool_calls", "functions",
                                       "function_call", "guided_json", "guided_regex", "guided_choice", "guided_grammar"]
    public static let messageFields = ["tool_calls", "tool_call_id", "function_call", "name"]
    /// Honoured: `response_format` on both endpoints; the tool fields on chat.
    static let honoured = ["response_format"]
    static let honouredInChat = ["tools", "tool_choice", "parallel_tool_calls"]
    static let honouredMessageFields = ["tool_calls", "tool_call_id", "name"]

    /// Returns the fields present that are honoured; refuses the rest.
    static func refuse(_ f: Fields, chat: Bool) throws -> Set<String> {
        var known: Set<String> = []
        for key in requestFields {
            guard f.value(key) != nil else { continue }
            if honoured.contains(key) || (chat && honouredInChat.contains(key)) {
                known.insert(key)
                continue
            }
            let why = honouredInChat.contains(key) ? "tools are supported on /v1/chat/completions only"
                : "lorad implements response_format, tools and tool_choice"
            throw APIError.unsupported(f.param(key), "\"\(f.param(key))\" is not supported: \(why)")
        }
        return known
    }

    /// A chat message's tool-call keys: `function_call` (the old form) is refused; returns the keys honoured.
    static func refuse(message m: Fields, role: String) throws -> Set<String> {
        if m.value("function_call") != nil {
            throw APIError.unsupported(m.param("function_call"), "\"\(m.param("function_call"))\" is not supported: use tool_calls")
        }
        return Set(honouredMessageFields.filter { m.value($0) != nil })
    }
}
