import Adapters
import Engine
import Foundation
import Model
import ModelFactory
import Synchronization
import Testing
import TestSupport

/// A model of its own for the lookahead suites, so their KV blocks never show in other suites' block counts.
enum LookaheadFixture {
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
}

/// Lookahead decoding inside the engine's mixed batch: the same tokens as plain decoding, alone and next to other
/// sequences on other adapters, for every shape; sampling unchanged for a seed; the row budget never exceeded.
@Suite(.serialized) struct LookaheadEngineTests {
    /// Every step's composition, recorded by the observer.
    final class Steps: Sendable {
        private let records = Mutex<[StepRecord]>([])
        var observer: @Sendable (StepRecord) -> Void { { [self] r in records.withLock { $0.append(r) } } }
        var all: [StepRecord] { records.withLock { $0 } }
    }

    static func engine(maxBatchTokens: Int = 256, cost: StepCostModel = .flat, steps: Steps? = nil) -> Engine {
        var c = EngineConfiguration()
        c.maxBatchTokens = maxBatchTokens
        c.stepCost = cost
        c.stepObserver = steps?.observer
        return Engine(model: LookaheadFixture.model, tokenizer: EngineFixture.tokenizer, configuration: c)
    }

    static let shapes: [LookaheadMode] = [
        .fixed(LookaheadShape(w: 1, n: 1, g: 0)), .fixed(LookaheadShape(w: 4, n: 3, g: 4)),
        .fixed(LookaheadShape(w: 15, n: 5, g: 15)), .auto,
    ]

    /// Greedy output with lookahead equals the reference alone and amid concurrent requests on other adapters
    /// (themselves with other lookahead shapes and sampling).
    @Test(arguments: shapes)
    func greedyEqualsReferencesInMixedBatch(_ mode: LookaheadMode) throws {
        let refs = EngineFixture.refs
        let steps = Steps()
        let engine = Self.engine(steps: steps)
        defer { engine.shutdown() }
        let variants: [(String, AdapterBinding?)] = [("__base__", nil)] + EngineFixture.adapterNames.map {
            ($0, EngineFixture.adapters[$0])
        }
        for (v, (variant, adapter)) in variants.enumerated() {
            let prompt = [1, 6, 9][v % 3]
            let alone = try engine.run(GenerationRequest(promptTokens: refs.prompts[prompt].ids, adapter: adapter,
                                                         maxTokens: 48, lookahead: mode))
            #expect(alone.tokens == refs.variants[variant]![prompt].greedyIds, "\(variant) alone \(mode)")
            #expect((alone.wait()?.steps ?? 99) <= 48)
        }
        // All variants at once, plus sampled and lookahead-off neighbours, on a shared step.
        var collectors: [(Collector, [Int], String)] = []
        for (v, (variant, adapter)) in variants.enumerated() {
            for prompt in [v, 11 - v] {
                let c = Collector()
                try engine.submit(GenerationRequest(tenant: "t\(v % 2)", promptTokens: refs.prompts[prompt].ids,
                                                    adapter: adapter, maxTokens: 48, lookahead: mode), sink: c.sink)
                collectors.append((c, refs.variants[variant]![prompt].greedyIds, "\(variant) prompt \(prompt)"))
            }
            let noise = Collector()
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[(v + 4) % 12].ids, adapter: adapter,
                                                sampling: SamplingParameters(temperature: 0.8, seed: UInt64(v)),
                                                maxTokens: 30, lookahead: v % 2 == 0 ? .off : mode), sink: noise.sink)
        }
        for (c, expected, label) in collectors {
            #expect(c.wait() != nil)
            #expect(c.tokens == expected, "\(label) in the mixed batch, \(mode)")
        }
        #expect(steps.all.allSatisfy { $0.rows <= $0.rowLimit })
        if mode != .fixed(LookaheadShape(w: 1, n: 1, g: 0)) {
            #expect(steps.all.contains { $0.lookaheadSequences > 1 && $0.decodeSequences > $0.lookaheadSequences })
        }
    }

    /// The demo model and its three adapters: every (prompt, adapter) pair decoded plainly one at a time, then all
    /// at once with lookahead shapes mixed in one batch; the tokens are the same.
    @Test func demoModelMixedBatchEqualsPlain() throws {
        let dir = try DemoModel.cachedDirectory()
        let model = try LoadedModel(directory: dir)
        let adapters: [AdapterBinding?] = [nil] + (try DemoModel.adapters.map { spec in
            let a = try PeftAdapter(directory: dir.appendingPathComponent("adapters").appendingPathComponent(spec.name),
                                    model: model.config)
            return AdapterBinding(name: spec.name, weights: a.weights)
        })
        var c = EngineConfiguration()
        c.stepCost = .flat
        let engine = Engine(model: model, tokenizer: nil, configuration: c)
        defer { engine.shutdown() }
        let unit = [510, 84, 104, 101, 32, 113, 117, 105]
        let prompts = [Array((0..<5).map { _ in unit }.joined()), [510, 72, 101, 108, 108, 111, 44, 32, 119, 111]]
        let modes: [LookaheadMode] = [.fixed(LookaheadShape(w: 15, n: 5, g: 15)), .fixed(LookaheadShape(w: 5, n: 4, g: 5)),
                                      .auto, .fixed(LookaheadShape(w: 1, n: 1, g: 0))]
        var jobs: [(GenerationRequest, [Int])] = []
        for (p, prompt) in prompts.enumerated() {
            for (k, adapter) in adapters.enumerated() {
                var r = GenerationRequest(promptTokens: prompt, adapter: adapter, maxTokens: 32, lookahead: .off)
                let plain = try engine.run(r).tokens
                #expect(plain.count == 32)
                r.lookahead = modes[(p + k) % modes.count]
                jobs.append((r, plain))
            }
        }
        let collectors = try jobs.map { job in
            let c = Collector()
            try engine.submit(job.0, sink: c.sink)
            return c
        }
        for (c, job) in zip(collectors, jobs) {
            #expect(c.wait() != nil)
            #expect(c.tokens == job.1, "\(job.0.adapter?.name ?? "base") \(job.0.lookahead)")
        }
        #expect(engine.statistics.lookaheadExtraTokens > 0)
    }

    /// Sampling verifies by sample-and-match with the request's own generator: for a seed, the tokens are those of
    /// plain sampling, with any shape, alone or batched.
    @Test func sampledOutputIsPlainSampledOutputForTheSeed() throws {
        let engine = Self.engine()
        defer { engine.shutdown() }
        let prompt = EngineFixture.refs.prompts[2].ids
        let sampling = SamplingParameters(temperature: 0.7, topP: 0.95, topK: 40, seed: 77)
        let plain = try engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 40,
                                                     lookahead: .off)).tokens
        #expect(plain.count == 40)
        for mode in Self.shapes {
            let again = try engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 40,
                                                         lookahead: mode))
            #expect(again.tokens == plain, "\(mode)")
        }
        let neighbour = Collector()
        try engine.submit(GenerationRequest(promptTokens: EngineFixture.refs.prompts[8].ids, maxTokens: 40,
                                            lookahead: .fixed(LookaheadShape(w: 15, n: 5, g: 15))), sink: neighbour.sink)
        let batched = try engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 40,
                                                       lookahead: .fixed(LookaheadShape(w: 5, n: 4, g: 5))))
        _ = neighbour.wait()
        #expect(batched.tokens == plain)
        var other = sampling
        other.seed = 78
        #expect(try engine.run(GenerationRequest(promptTokens: prompt, sampling: other, maxTokens: 40)).tokens != plain)
    }

    /// With a small row budget and many sequences asking for big windows, no step has more rows than the budget,
    /// lookahead gets only what is spare, and the output is unchanged.
    @Test func rowBudgetIsNeverExceeded() throws {
        let refs = EngineFixture.refs
        let steps = Steps()
        let engine = Self.engine(maxBatchTokens: 24, steps: steps)
        defer { engine.shutdown() }
        var collectors: [(Collector, [Int])] = []
        for i in 0..<8 {
            let c = Collector()
            let big = LookaheadShape(w: 15, n: 5, g: 15)
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[i].ids, maxTokens: 48,
                                                lookahead: i % 2 == 0 ? .fixed(big) : .auto), sink: c.sink)
            collectors.append((c, refs.variants["__base__"]![i].greedyIds))
        }
        for (c, expected) in collectors {
            #expect(c.wait() != nil)
            #expect(c.tokens == expected)
        }
        let all = steps.all
        #expect(!all.isEmpty)
        #expect(all.allSatisfy { $0.rows <= 24 }, "largest step: \(all.map(\.rows).max() ?? 0) rows")
        #expect(all.allSatisfy { $0.lookaheadRows == 0 || $0.rows <= $0.rowLimit })
        #expect(all.contains { $0.lookaheadRows > 0 })
        // Steps that are full of prompt and decode rows get no lookahead rows.
        #expect(all.filter { $0.decodeSequences + $0.prefillRows >= 24 }.allSatisfy { $0.lookaheadRows == 0 })
    }

    /// With rows priced as they are on a compute-bound machine (each row as dear as the first), `auto` spends
    /// none on a random model whose candidates rarely match, and never more than the budget.
    @Test func autoStaysPlainWhenRowsAreDearAndAcceptanceLow() throws {
        let steps = Steps()
        let engine = Self.engine(cost: .proportional, steps: steps)
        defer { engine.shutdown() }
        let refs = EngineFixture.refs
        var collectors: [Collector] = []
        for i in 0..<6 {
            let c = Collector()
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[i].ids, maxTokens: 32), sink: c.sink)
            collectors.append(c)
        }
        for (i, c) in collectors.enumerated() {
            #expect(c.wait() != nil)
            #expect(c.tokens == Array(refs.variants["__base__"]![i].greedyIds.prefix(32)))
        }
        let total = steps.all.reduce(0) { $0 + $1.rows }, extra = steps.all.reduce(0) { $0 + $1.lookaheadRows }
        #expect(Double(extra) <= 0.25 * Double(total), "\(extra) lookahead rows of \(total)")
    }

    /// Stop strings, stop tokens and max_tokens end generation exactly where plain decoding does, even when a step
    /// accepts several tokens at once.
    @Test func stopConditionsAreThoseOfPlainDecoding() throws {
        let engine = Self.engine()
        defer { engine.shutdown() }
        let refs = EngineFixture.refs
        // A repetitive prompt, so candidates get accepted.
        let unit = Array(refs.prompts[3].ids.dropFirst().prefix(6))
        let prompt = [2037] + Array((0..<8).map { _ in unit }.joined())
        let big = LookaheadMode.fixed(LookaheadShape(w: 5, n: 5, g: 8))
        let plain = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 40, lookahead: .off))
        let plainText = try #require(plain.wait()).text
        for maxTokens in [1, 2, 5, 17] {
            let r = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: maxTokens, lookahead: big))
            #expect(r.tokens == Array(plain.tokens.prefix(maxTokens)))
            #expect(r.wait()?.reason == .length)
        }
        let stopId = plain.tokens[9]
        let firstStop = try #require(plain.tokens.firstIndex(of: stopId))
        let r = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 40, stopTokenIds: [stopId], lookahead: big))
        #expect(r.tokens == Array(plain.tokens[...firstStop]))
        #expect(r.wait()?.reason == .stop)
        if plainText.count > 12 {
            let stop = String(plainText.dropFirst(8).prefix(3))
            let expected = String(plainText[..<plainText.range(of: stop)!.lowerBound])
            let s = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 40, stop: [stop], lookahead: big))
            #expect(s.wait()?.text == expected)
            #expect(s.pieces.joined() == expected)
        }
        let full = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 40, lookahead: big))
        #expect(full.tokens == plain.tokens)
        let c = try #require(full.wait())
        #expect(c.steps < 40, "\(c.steps) steps for 40 tokens on a repetitive prompt")
        #expect(engine.statistics.lookaheadExtraTokens > 0)
    }
}
