import Engine
import Foundation
import Model
import Testing
import TestSupport

/// The logit controls (presence/frequency/repetition penalties, logit bias, min_tokens) as the engine applies them
/// through each sequence's `LogitsProcessor`: equal to a plain decoding loop written here from the formulas, the
/// same with lookahead rows in a mixed batch, and per sequence (neighbours without controls are unchanged).
@Suite(.serialized) struct LogitControlTests {
    /// Greedy decoding on the fixture model with the controls applied by hand (OpenAI's and HF's formulas).
    static func reference(_ prompt: [Int], _ c: LogitControls, stops: Set<Int>, maxTokens: Int) throws -> [Int] {
        let t = LookaheadFixture.model.transformer
        let cache = t.makeCache()
        var batch = StepBatch()
        batch.append(prompt, cache: cache)
        var logits = try t.forward(batch)
        var out: [Int] = []
        while out.count < maxTokens {
            var counts: [Int: Int] = [:]
            for id in out { counts[id, default: 0] += 1 }
            for (id, b) in c.logitBias { logits[id] += b }
            if out.count < c.minTokens { for id in stops { logits[id] = -.infinity } }
            for id in Set(prompt).union(out) where c.repetitionPenalty != 1 {
                logits[id] = logits[id] > 0 ? logits[id] / c.repetitionPenalty : logits[id] * c.repetitionPenalty
            }
            for (id, n) in counts { logits[id] -= c.presencePenalty + Float(n) * c.frequencyPenalty }
            let token = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
            out.append(token)
            if stops.contains(token) { break }
            var next = StepBatch()
            next.append([token], cache: cache)
            logits = try t.forward(next)
        }
        return out
    }

    static let cases: [LogitControls] = [
        LogitControls(presencePenalty: 1.5),
        LogitControls(frequencyPenalty: 2),
        LogitControls(presencePenalty: -0.5, frequencyPenalty: 0.7),
        LogitControls(repetitionPenalty: 1.3),
        LogitControls(logitBias: [65: 100]),
        LogitControls(repetitionPenalty: 0.9, logitBias: [100: 7.5, 200: -100]),
    ]

    @Test(arguments: cases)
    func greedyWithControlsEqualsTheFormulasWithAndWithoutLookahead(_ controls: LogitControls) throws {
        let refs = EngineFixture.refs
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        let prompt = refs.prompts[3].ids
        let expected = try Self.reference(prompt, controls, stops: [], maxTokens: 40)
        #expect(expected != refs.variants["__base__"]![3].greedyIds.prefix(40).map { $0 }, "the controls change the output")
        for mode in [LookaheadMode.off, .fixed(LookaheadShape(w: 4, n: 3, g: 4)), .fixed(LookaheadShape(w: 8, n: 4, g: 8))] {
            // In a mixed batch: the same prompt without controls, and another prompt with lookahead, beside it.
            let plain = Collector(), other = Collector(), mine = Collector()
            try engine.submit(GenerationRequest(promptTokens: prompt, maxTokens: 40, lookahead: mode), sink: plain.sink)
            try engine.submit(GenerationRequest(promptTokens: prompt, maxTokens: 40, lookahead: mode, controls: controls),
                              sink: mine.sink)
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[5].ids, maxTokens: 40, lookahead: mode),
                              sink: other.sink)
            #expect(mine.wait() != nil && plain.wait() != nil && other.wait() != nil)
            #expect(mine.tokens == expected, "\(controls) with \(mode)")
            #expect(plain.tokens == Array(refs.variants["__base__"]![3].greedyIds.prefix(40)), "neighbour, \(mode)")
            #expect(other.tokens == Array(refs.variants["__base__"]![5].greedyIds.prefix(40)), "neighbour, \(mode)")
        }
    }

    @Test func logitBiasOfPlus100ForcesTheToken() throws {
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        let r = try engine.run(GenerationRequest(promptTokens: EngineFixture.refs.prompts[0].ids, maxTokens: 8,
                                                 controls: LogitControls(logitBias: [65: 100])))
        #expect(r.tokens == [Int](repeating: 65, count: 8))
    }

    /// min_tokens holds back a stop token id that greedy decoding would choose first.
    @Test func minTokensHoldsBackStopTokens() throws {
        let refs = EngineFixture.refs
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        let prompt = refs.prompts[2].ids, greedy = refs.variants["__base__"]![2].greedyIds
        let early = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 20, stopTokenIds: [greedy[0]]))
        #expect(early.tokens == [greedy[0]])
        for mode in [LookaheadMode.off, .fixed(LookaheadShape(w: 4, n: 3, g: 4))] {
            let held = try engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 20, stopTokenIds: [greedy[0]],
                                                        lookahead: mode, controls: LogitControls(minTokens: 5)))
            let expected = try Self.reference(prompt, LogitControls(minTokens: 5), stops: [greedy[0]], maxTokens: 20)
            #expect(held.tokens == expected)
            #expect(held.tokens.count >= 5 && !held.tokens.prefix(5).contains(greedy[0]))
        }
    }

    /// Sampling with penalties: lookahead gives the tokens of plain sampling for the same seed.
    @Test func sampledWithPenaltiesIsLosslessWithLookahead() throws {
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        let controls = LogitControls(presencePenalty: 0.8, frequencyPenalty: 0.4, repetitionPenalty: 1.1)
        let sampling = SamplingParameters(temperature: 0.7, topP: 0.95, topK: 40, seed: 31, minP: 0.05)
        let prompt = EngineFixture.refs.prompts[7].ids
        let plain = try engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 40,
                                                     lookahead: .off, controls: controls))
        let ahead = try engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 40,
                                                     lookahead: .fixed(LookaheadShape(w: 6, n: 4, g: 6)), controls: controls))
        #expect(plain.tokens.count == 40)
        #expect(ahead.tokens == plain.tokens)
    }
}

extension LogitControls: CustomTestStringConvertible {
    public var testDescription: String {
        "presence \(presencePenalty) frequency \(frequencyPenalty) repetition \(repetitionPenalty) bias \(logitBias.sorted { $0.key < $1.key })"
    }
}
