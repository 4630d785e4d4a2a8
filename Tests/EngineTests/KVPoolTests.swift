import Engine
import Foundation
import Model
import Testing
import TestSupport

/// KV cache in the unified pool: when KV outgrows the budget the newest sequence is preempted (its KV freed and
/// recomputed later) instead of failing; outputs are unchanged; every page comes back.
@Suite struct KVPoolTests {
    /// A fresh model (its KV allocator gets a pool of its own) and an engine over it.
    static func engine(poolPages: Int, maxBatchTokens: Int = 64) throws -> (Engine, PagePool) {
        let model = try LoadedModel(directory: Fixtures.tinyLlama)
        let kv = model.transformer.kvAllocator
        let pool = PagePool(budgetBytes: poolPages * kv.bytesPerBlock, pageBytes: kv.bytesPerBlock)
        kv.attach(pool)
        var config = EngineConfiguration()
        config.maxBatchTokens = maxBatchTokens
        return (Engine(model: model, tokenizer: EngineFixture.tokenizer, configuration: config), pool)
    }

    @Test func preemptionRecomputesAndKeepsEveryOutput() throws {
        let prompts = (0..<6).map { EngineFixture.refs.prompts[2 + $0].ids }
        func run(_ engine: Engine) throws -> [[Int]] {
            let collectors = try prompts.enumerated().map { i, p -> Collector in
                let c = Collector()
                let adapter = i % 2 == 0 ? nil : EngineFixture.adapters[EngineFixture.adapterNames[i % 4]]
                try engine.submit(GenerationRequest(promptTokens: p, adapter: adapter, maxTokens: 40), sink: c.sink)
                return c
            }
            return collectors.map { c in
                _ = c.wait()
                return c.tokens
            }
        }
        let (roomy, roomyPool) = try Self.engine(poolPages: 256)
        defer { roomy.shutdown() }
        let expected = try run(roomy)
        #expect(roomy.statistics.preemptions == 0)
        #expect(roomyPool.pagesInUse(.kv) == 0)

        // 6 sequences of ~50 positions need 4 blocks each; 9 pages hold about two at a time.
        let (tight, tightPool) = try Self.engine(poolPages: 9)
        defer { tight.shutdown() }
        let got = try run(tight)
        #expect(got == expected, "outputs changed under preemption")
        #expect(tight.statistics.preemptions > 0)
        #expect(tightPool.pagesInUse(.kv) == 0)
        #expect(tightPool.freePages == 9)
    }

    @Test func aRequestThatCanNeverFitIsRefused() throws {
        let (engine, _) = try Self.engine(poolPages: 3)
        defer { engine.shutdown() }
        #expect(throws: EngineError.self) {
            try engine.submit(GenerationRequest(promptTokens: EngineFixture.refs.prompts[0].ids, maxTokens: 100)) { _ in }
        }
        // One that fits runs.
        let c = try engine.run(GenerationRequest(promptTokens: EngineFixture.refs.prompts[0].ids, maxTokens: 8))
        #expect(c.tokens.count == 8 || c.tokens.last.map { [2038, 2046].contains($0) } == true)
    }
}
