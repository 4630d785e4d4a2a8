import Engine
import Foundation
import Model
import Testing
import TestSupport

/// `n`/`best_of` in the engine: a group of requests on one prompt prefills it once, and its members start on the
/// prompt's KV pages shared copy-on-write; each member's tokens are those of the same request run alone.
@Suite(.serialized) struct ChoiceGroupTests {
    /// A model of its own, so the page counts are this suite's alone.
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()

    static func engine(maxBatchTokens: Int = 256, steps: LookaheadEngineTests.Steps? = nil) -> Engine {
        var c = EngineConfiguration()
        c.maxBatchTokens = maxBatchTokens
        c.stepCost = .flat
        c.stepObserver = steps?.observer
        return Engine(model: model, tokenizer: EngineFixture.tokenizer, configuration: c)
    }

    @Test func membersEqualSeparateRunsAndThePromptIsPrefilledOnce() throws {
        let steps = LookaheadEngineTests.Steps()
        let engine = Self.engine(maxBatchTokens: 16, steps: steps)   // the prompt takes 3 chunks
        defer { engine.shutdown() }
        let prompt = EngineFixture.refs.prompts[3].ids
        func request(_ j: Int, _ mode: LookaheadMode = .off) -> GenerationRequest {
            GenerationRequest(promptTokens: prompt, sampling: SamplingParameters(temperature: 1, seed: UInt64(40 + j)),
                              maxTokens: 24, lookahead: mode,
                              controls: j == 3 ? LogitControls(presencePenalty: 1) : .none)
        }
        let alone = try (0..<4).map { try engine.run(request($0)).tokens }
        let before = steps.all.count
        let members = (0..<4).map { _ in Collector() }
        try engine.submit(group: (0..<4).map { (request($0, $0 == 2 ? .fixed(LookaheadShape(w: 4, n: 3, g: 4)) : .off), members[$0].sink) })
        for (j, c) in members.enumerated() {
            #expect(c.wait() != nil)
            #expect(c.tokens == alone[j], "member \(j)")
        }
        #expect(Set(alone).count > 1, "the seeds give different samples")
        let prefilled = steps.all[before...].reduce(0) { $0 + $1.prefillRows }
        #expect(prefilled == prompt.count, "the group prefilled \(prefilled) rows for a \(prompt.count)-token prompt")
        #expect(Self.model.transformer.kvAllocator.blocksInUse == 0)
    }

    @Test func forkSharesPagesAndCopiesOnlyWhatItWrites() throws {
        let t = Self.model.transformer
        let allocator = t.kvAllocator
        let base = allocator.blocksInUse
        do {
            let cache = t.makeCache()
            var batch = StepBatch()
            batch.append(Array(EngineFixture.refs.prompts[3].ids.prefix(20)), cache: cache)   // 2 blocks of 16
            _ = try t.forward(batch)
            #expect(allocator.blocksInUse == base + 2)
            let fork = cache.fork()
            #expect(allocator.blocksInUse == base + 2, "a fork takes no pages")
            var next = StepBatch()
            next.append([39], cache: fork)
            let forked = try t.forward(next)
            #expect(allocator.blocksInUse == base + 3, "writing copies the shared partly filled page, only it")
            var same = StepBatch()
            same.append([39], cache: cache)
            #expect(try t.forward(same) == forked, "the original is unchanged by its fork's write")
            #expect(cache.length == 21 && fork.length == 21)
        }
        #expect(allocator.blocksInUse == base, "every page comes back")
    }

    @Test func promptLogprobsReachEveryMemberAndCancellingEndsThemAll() throws {
        let engine = Self.engine()
        defer { engine.shutdown() }
        let prompt = EngineFixture.refs.prompts[5].ids
        let members = (0..<3).map { _ in Collector() }
        try engine.submit(group: members.map { (GenerationRequest(promptTokens: prompt, maxTokens: 0, promptLogprobs: 2), $0.sink) })
        for c in members {
            #expect(c.wait()?.reason == .length)
            #expect(c.promptLogprobs?.count == prompt.count - 1)
            #expect(c.promptLogprobs == members[0].promptLogprobs)
        }
        let cancelled = (0..<3).map { _ in Collector() }
        let long = [Int](repeating: 39, count: 400)
        let handle = try engine.submit(group: cancelled.map { (GenerationRequest(promptTokens: long, maxTokens: 50), $0.sink) })
        handle.cancel()
        for c in cancelled { #expect(c.wait()?.reason == .cancelled) }
    }
}
