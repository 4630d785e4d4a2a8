import Engine
import Foundation
import Model
import Testing
import TestSupport

@Suite struct FairnessTests {
    /// Tenant A floods the engine; tenant B's request still gets its first token within a bound stated in steps:
    /// admitted at the next step, its prompt gets the reserved quarter of the step budget first (it is the
    /// least-served tenant), so first token ≤ ceil(prompt / (budget / 4)) + 2 steps after submission.
    @Test func floodingTenantDoesNotDelayAnother() throws {
        var config = EngineConfiguration()
        config.maxBatchTokens = 16
        let engine = Engine(model: EngineFixture.model, tokenizer: EngineFixture.tokenizer, configuration: config)
        defer { engine.shutdown() }
        var flood: [Collector] = []
        for i in 0..<30 {
            let c = Collector()
            try engine.submit(GenerationRequest(tenant: "a", promptTokens: EngineFixture.refs.prompts[3 + i % 8].ids,
                                                maxTokens: 24), sink: c.sink)
            flood.append(c)
        }
        // Wait until A's flood is decoding, then B arrives.
        while engine.statistics.tokensGenerated < 40 { usleep(1000) }
        let promptB = Array(EngineFixture.refs.prompts[2].ids.prefix(10))
        let b = Collector()
        try engine.submit(GenerationRequest(tenant: "b", promptTokens: promptB, maxTokens: 4), sink: b.sink)
        let completion = try #require(b.wait())
        let bound = (promptB.count + 3) / 4 + 2
        #expect(completion.firstTokenAtStep - completion.submittedAtStep <= bound,
                "B waited \(completion.firstTokenAtStep - completion.submittedAtStep) steps, bound \(bound)")
        for c in flood { #expect(c.wait() != nil) }
    }

    @Test func perTenantConcurrencyLimit() throws {
        var config = EngineConfiguration()
        config.tenantLimit = { $0 == "small" ? 2 : nil }
        let engine = Engine(model: EngineFixture.model, tokenizer: nil, configuration: config)
        defer { engine.shutdown() }
        let request = GenerationRequest(tenant: "small", promptTokens: [1, 2, 3], maxTokens: 200)
        let h1 = try engine.submit(request) { _ in }
        let h2 = try engine.submit(request) { _ in }
        #expect(throws: EngineError.self) { try engine.submit(request) { _ in } }
        do { try engine.submit(request) { _ in } } catch let e as EngineError { #expect(e.kind == .rateLimited) }
        // Another tenant is unaffected.
        let other = try engine.submit(GenerationRequest(tenant: "big", promptTokens: [1], maxTokens: 1)) { _ in }
        h1.cancel(); h2.cancel(); other.cancel()
    }
}
