import Engine
import Foundation
import Testing
import TestSupport

/// Issue 21, item 6: logits that overflow end the request with an error naming the cause, never with NaN
/// logprobs (which the JSON encoder turned into a 200 with `{}`); other requests in the batch go on.
@Suite struct NonFiniteTests {
    @Test func overflowingAdapterFailsOnlyItsRequest() throws {
        let engine = Engine(model: EngineFixture.model, tokenizer: EngineFixture.tokenizer)
        let base = try #require(EngineFixture.adapters["a1-r8-qv"])
        let boom = AdapterBinding(name: "boom", weights: base.weights, scale: 3e38)   // deltas overflow to infinity: NaN after the norm
        let prompt = EngineFixture.refs.prompts[0].ids
        let bad = Collector(), good = Collector()
        try engine.submit(GenerationRequest(promptTokens: prompt, adapter: boom, maxTokens: 4, logprobs: 1,
                                            wantLogprobs: true), sink: bad.sink)
        try engine.submit(GenerationRequest(promptTokens: prompt, adapter: base, maxTokens: 4, logprobs: 1,
                                            wantLogprobs: true), sink: good.sink)
        #expect(bad.wait() == nil)
        let failure = try #require(bad.failure, "the overflowing request finished normally")
        #expect(failure.message.contains("non-finite logits"), "\(failure.message)")
        #expect(failure.message.contains("adapter \"boom\""))
        #expect(good.wait()?.generatedTokens.count == 4)
        #expect(good.logprobs.allSatisfy { $0.logprob.isFinite })
        engine.shutdown()
    }
}
