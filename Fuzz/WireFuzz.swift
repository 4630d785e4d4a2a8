// libFuzzer harness: JSON request bodies as the daemon decodes them (Wire module: CompletionRequest(body:),
// ChatRequest(body:), and through both GenerationOptions and Fields), plus what loractl parses from the daemon
// (APIError(status:body:)) and the lookahead CLI form. An input starting with "{" is one body as sent; any other
// input is read as pairs of bytes choosing a field and a value from the tables below (boundary numbers, wrong
// types), added to a minimal valid request: JSONSerialization is not instrumented and floating-point range
// checks give the fuzzer no compare feedback, so raw mutation rarely lands exact boundary values in a field.
// A request that is accepted must hold only values the options promise, and a completion request must survive
// the client's own encoding.

import Foundation

enum WireFuzz {
    static let fields = ["model", "prompt", "messages", "n", "best_of", "echo", "max_tokens", "max_completion_tokens",
                         "temperature", "top_p", "top_k", "seed", "stop", "stream", "logprobs", "top_logprobs",
                         "return_token_ids", "adapter_scale", "ignore_eos", "lookahead"]
    static let values = [
        "null", "true", "false", "0", "1", "-1", "2", "0.5", "-0.0", "1.5", "2.5", "20", "21", "64", "65", "100", "-100",
        "100.5", "1e9", "-1e9", "999999999", "1000000000", "1000001", "1e308", "-1e308", "4.9e-324", "9007199254740993",
        "9223372036854774784", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "1e19", "\"\"", "\"x\"", "\"auto\"", "\"off\"", "\"5,4,5\"",
        "[]", "[1,2]", "[1.5]", "[true]", "[\"a\"]", "[\"a\",\"b\"]", "[\"\"]", "[\"a\",1]", "{}",
        "{\"w\":5,\"n\":4,\"g\":5}", "{\"w\":65}", "{\"g\":-1}", "{\"n\":1e300}",
        "[{\"role\":\"user\",\"content\":\"hi\"}]", "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}]",
        "[{\"role\":1}]", "[{\"content\":\"x\"}]", "[[]]",
    ]

    /// A body from (field, value) byte pairs, after a model, a prompt and messages (so both decoders get past
    /// their required fields unless a pair replaces one).
    static func structuredBody(_ bytes: [UInt8]) -> [UInt8] {
        var members = [#""model":"m""#, #""prompt":"x""#, #""messages":[{"role":"user","content":"hi"}]"#]
        var i = 0
        while i + 1 < bytes.count {
            members.append("\"\(fields[Int(bytes[i]) % fields.count])\":\(values[Int(bytes[i + 1]) % values.count])")
            i += 2
        }
        return Array(("{" + members.joined(separator: ",") + "}").utf8)
    }

    static func checkOptions(_ o: GenerationOptions) {
        fuzzCheck(o.maxTokens >= 0, "max_tokens \(o.maxTokens)")
        fuzzCheck((0...2).contains(o.temperature) && o.topP > 0 && o.topP <= 1, "temperature \(o.temperature) top_p \(o.topP)")
        fuzzCheck(o.topK >= 0 && o.stop.count <= GenerationOptions.maxStops, "top_k \(o.topK), \(o.stop.count) stops")
        fuzzCheck(o.stop.allSatisfy { !$0.isEmpty && $0.count <= 256 }, "stop strings \(o.stop)")
        fuzzCheck(o.logprobs.map { (0...20).contains($0) } ?? true, "logprobs \(String(describing: o.logprobs))")
        fuzzCheck((-100...100).contains(o.adapterScale), "adapter_scale \(o.adapterScale)")
        fuzzCheck((-2...2).contains(o.presencePenalty) && (-2...2).contains(o.frequencyPenalty),
                  "penalties \(o.presencePenalty) \(o.frequencyPenalty)")
        fuzzCheck(o.n >= 1 && o.bestOf >= o.n && o.bestOf <= GenerationOptions.maxChoices, "n \(o.n) best_of \(o.bestOf)")
        fuzzCheck(o.logitBias.allSatisfy { $0.key >= 0 && abs($0.value) <= 100 }, "logit_bias \(o.logitBias)")
        fuzzCheck(o.minTokens >= 0 && o.minTokens <= o.maxTokens, "min_tokens \(o.minTokens)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let body = input.first == UInt8(ascii: "{") ? input : WireFuzz.structuredBody(input)
    if let request = try? CompletionRequest(body: body) {
        WireFuzz.checkOptions(request.options)
        if case .tokens(let ids) = request.prompt { fuzzCheck(ids.allSatisfy { abs($0) < 1_000_000_000 }, "token ids \(ids)") }
        // What loractl sends for this request must be accepted again, as the same request (the client sends
        // ignore_eos on its own, outside jsonFields).
        do {
            var again = try CompletionRequest(body: request.body)
            again.options.ignoreEOS = request.options.ignoreEOS
            fuzzCheck(again == request, "re-encoded request differs:\n  \(request)\n  \(again)")
        } catch {
            fuzzCheck(false, "the client's encoding of an accepted request is refused: \(error)")
        }
    }
    if let request = try? ChatRequest(body: body) {
        WireFuzz.checkOptions(request.options)
        fuzzCheck(!request.messages.isEmpty && request.messages.count <= 4096, "\(request.messages.count) messages")
    }
    _ = APIError(status: 400, body: input)
    if input.count <= 64 { _ = try? LookaheadSetting(cli: String(decoding: input, as: UTF8.self)) }
    return 0
}
