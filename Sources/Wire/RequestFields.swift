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
        var known = (chat ? Self.chat : completion).union(extensions).union(try StructuredOutput.refuse(f))
        for (key, passes) in noOpValues where f.value(key).map(passes) ?? true { known.insert(key) }
        try f.refuseUnknown(known, what: chat ? "/v1/chat/completions" : "/v1/completions")
    }
}

/// Structured outputs and tool calls (`response_format`, `tools`, `tool_choice`, ...): THE one place they are
/// handled. Until the grammar work turns them into a `TokenConstraint` for the engine's logits processor, every
/// field that asks for them is refused here with 400 `unsupported_parameter`.
public enum StructuredOutput {
    /// Top-level request fields, and chat message keys, that belong to structured output and tool calls.
    public static let requestFields = ["response_format", "tools", "tool_choice", "parallel_tool_calls", "functions",
                                       "function_call", "guided_json", "guided_regex", "guided_choice", "guided_grammar"]
    public static let messageFields = ["tool_calls", "tool_call_id", "function_call"]

    /// Returns the fields present that ask for nothing (`response_format: {"type":"text"}`).
    static func refuse(_ f: Fields) throws -> Set<String> {
        var noOps: Set<String> = []
        for key in requestFields {
            guard let value = f.value(key) else { continue }
            // `{"type":"text"}` is plain text output: what lorad does.
            if key == "response_format", let o = value as? [String: Any], o.count == 1, o["type"] as? String == "text" {
                noOps.insert(key)
                continue
            }
            throw APIError.unsupported(f.param(key), "\"\(f.param(key))\" is not supported yet: lorad has no structured outputs or tool calls")
        }
        return noOps
    }

    /// A chat message's tool-call keys, and `tool` messages (answers to tool calls lorad never makes).
    static func refuse(message m: Fields, role: String) throws {
        for key in messageFields where m.value(key) != nil {
            throw APIError.unsupported(m.param(key), "\"\(m.param(key))\" is not supported yet: lorad has no tool calls")
        }
        if role == "tool" {
            throw APIError.unsupported(m.param("role"), "\"\(m.param("role"))\" \"tool\" is not supported yet: lorad has no tool calls")
        }
    }
}
