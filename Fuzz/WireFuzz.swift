// libFuzzer harness: JSON request bodies as the daemon decodes them (Wire module: CompletionRequest(body:),
// ChatRequest(body:), and through both GenerationOptions and Fields), plus what loractl parses from the daemon
// (APIError(status:body:)) and the lookahead CLI form. The input is one body. A request that is accepted must
// hold only values the options promise, and a completion request must survive the client's own encoding.

import Foundation

enum WireFuzz {
    static func checkOptions(_ o: GenerationOptions) {
        fuzzCheck(o.maxTokens >= 0, "max_tokens \(o.maxTokens)")
        fuzzCheck((0...2).contains(o.temperature) && o.topP > 0 && o.topP <= 1, "temperature \(o.temperature) top_p \(o.topP)")
        fuzzCheck(o.topK >= 0 && o.stop.count <= GenerationOptions.maxStops, "top_k \(o.topK), \(o.stop.count) stops")
        fuzzCheck(o.stop.allSatisfy { !$0.isEmpty && $0.count <= 256 }, "stop strings \(o.stop)")
        fuzzCheck(o.logprobs.map { (0...20).contains($0) } ?? true, "logprobs \(String(describing: o.logprobs))")
        fuzzCheck((-100...100).contains(o.adapterScale), "adapter_scale \(o.adapterScale)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = fuzzInput(data, size)
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
    _ = APIError(status: 400, body: body)
    if body.count <= 64 { _ = try? LookaheadSetting(cli: String(decoding: body, as: UTF8.self)) }
    return 0
}
