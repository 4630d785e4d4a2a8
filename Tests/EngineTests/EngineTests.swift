import Engine
import Foundation
import Model
import Testing
import TestSupport

@Suite(.serialized) struct EngineTests {
    static let engine = Engine(model: EngineFixture.model, tokenizer: EngineFixture.tokenizer)

    /// A greedy request gives the reference tokens alone and amid 15 concurrent requests on other adapters with
    /// other sampling settings (batch invariance).
    @Test func greedyOutputDoesNotDependOnTheBatch() throws {
        let refs = EngineFixture.refs
        for (variant, adapter) in [("__base__", nil), ("a2-r16-all-rslora", EngineFixture.adapters["a2-r16-all-rslora"])] {
            let target = GenerationRequest(promptTokens: refs.prompts[5].ids, adapter: adapter, maxTokens: 48)
            let alone = try Self.engine.run(target)
            #expect(alone.tokens == refs.variants[variant]![5].greedyIds, "\(variant) alone")

            var others: [Collector] = []
            let c = Collector()
            for i in 0..<15 {
                let name = EngineFixture.adapterNames[i % 4]
                let other = GenerationRequest(
                    tenant: "t\(i % 3)", promptTokens: refs.prompts[i % 12].ids,
                    adapter: i % 5 == 0 ? nil : EngineFixture.adapters[name],
                    sampling: SamplingParameters(temperature: Float(i % 3) * 0.5, topP: 0.9, topK: 40, seed: UInt64(i)),
                    maxTokens: 20 + i * 3)
                let o = Collector()
                try Self.engine.submit(other, sink: o.sink)
                others.append(o)
                if i == 7 { try Self.engine.submit(target, sink: c.sink) }   // joins a running batch
            }
            #expect(c.wait() != nil)
            #expect(c.tokens == alone.tokens, "\(variant) amid 15 others")
            for o in others { #expect(o.wait() != nil) }
        }
    }

    @Test func seedReproducesSampledOutput() throws {
        let prompt = EngineFixture.refs.prompts[2].ids
        let sampling = SamplingParameters(temperature: 0.9, topP: 0.95, topK: 50, seed: 1234)
        let a = try Self.engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 30))
        // The same request again, this time next to others.
        let noise = Collector()
        try Self.engine.submit(GenerationRequest(promptTokens: EngineFixture.refs.prompts[7].ids,
                                                 sampling: SamplingParameters(temperature: 1, seed: 9), maxTokens: 40),
                               sink: noise.sink)
        let b = try Self.engine.run(GenerationRequest(promptTokens: prompt, sampling: sampling, maxTokens: 30))
        _ = noise.wait()
        #expect(a.tokens.count == 30)
        #expect(a.tokens == b.tokens)
        var other = sampling
        other.seed = 4321
        let c = try Self.engine.run(GenerationRequest(promptTokens: prompt, sampling: other, maxTokens: 30))
        #expect(c.tokens != a.tokens)
    }

    /// A stop string that spans two tokens ends the text before it, and the streamed pieces never show any of it.
    @Test func stopStringAcrossTokenBoundary() throws {
        let tokenizer = EngineFixture.tokenizer
        let prompt = EngineFixture.refs.prompts[0].ids
        let full = try Self.engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 48))
        let fullText = full.wait()!.text
        #expect(full.pieces.joined() == fullText)
        #expect(fullText == tokenizer.decode(full.tokens, skipSpecialTokens: true))
        // Find a boundary between two tokens whose texts are both at least 2 characters.
        var stop: String?
        var boundaryText = ""
        for k in 2..<(full.tokens.count - 1) {
            let before = tokenizer.decode(Array(full.tokens[..<k]), skipSpecialTokens: true)
            let next = tokenizer.decode(Array(full.tokens[..<(k + 1)]), skipSpecialTokens: true)
            let piece = String(next.dropFirst(before.count))
            if before.count >= 2, piece.count >= 2, next.hasPrefix(before) {
                stop = String(before.suffix(2)) + String(piece.prefix(2))
                boundaryText = before
                break
            }
        }
        let s = try #require(stop)
        let expected = String(fullText[..<fullText.range(of: s)!.lowerBound])
        #expect(expected.count <= boundaryText.count)
        let r = try Self.engine.run(GenerationRequest(promptTokens: prompt, maxTokens: 48, stop: ["zzzz-never", s]))
        let completion = try #require(r.wait())
        #expect(completion.reason == .stop)
        #expect(completion.text == expected)
        #expect(r.pieces.joined() == expected)
        #expect(!r.pieces.joined().contains(s))
    }

    /// A stop token id (EOS) ends generation after it, with reason stop; max_tokens ends it with reason length.
    @Test func stopTokensAndMaxTokensEndGeneration() throws {
        let refs = EngineFixture.refs
        let greedy = refs.variants["__base__"]![4].greedyIds
        // The first token from position 5 on that has not appeared before: use it as the "EOS" id.
        let at = try #require((5..<greedy.count).first { !greedy[..<$0].contains(greedy[$0]) })
        let r = try Self.engine.run(GenerationRequest(promptTokens: refs.prompts[4].ids, maxTokens: 48,
                                                      stopTokenIds: [greedy[at]]))
        let c = try #require(r.wait())
        #expect(c.reason == .stop)
        #expect(c.generatedTokens == Array(greedy[...at]))
        let short = try Self.engine.run(GenerationRequest(promptTokens: refs.prompts[4].ids, maxTokens: 3))
        #expect(short.wait()?.reason == .length)
        #expect(short.tokens == Array(greedy.prefix(3)))
    }

    /// Cancelled requests leave the batch and give every KV block back.
    @Test func cancellationFreesEveryBlock() throws {
        let allocator = EngineFixture.model.transformer.kvAllocator
        var collectors: [(Collector, RequestHandle)] = []
        for i in 0..<6 {
            let c = Collector()
            let h = try Self.engine.submit(GenerationRequest(promptTokens: EngineFixture.refs.prompts[i].ids,
                                                             maxTokens: 400), sink: c.sink)
            collectors.append((c, h))
        }
        // Let them run a little, then cancel.
        let deadline = Date().addingTimeInterval(30)
        while collectors.contains(where: { $0.0.tokens.count < 3 }) && Date() < deadline { usleep(1000) }
        #expect(allocator.blocksInUse > 0)
        for (_, h) in collectors { h.cancel() }
        for (c, _) in collectors { #expect(c.wait()?.reason == .cancelled) }
        #expect(allocator.blocksInUse == 0)
        let settle = Date().addingTimeInterval(10)
        while Self.engine.statistics.running > 0 && Date() < settle { usleep(1000) }
        #expect(Self.engine.statistics.running == 0)
    }

    @Test func logprobsAreNormalised() throws {
        let r = try Self.engine.run(GenerationRequest(promptTokens: EngineFixture.refs.prompts[1].ids, maxTokens: 5,
                                                      logprobs: 3, wantLogprobs: true))
        #expect(r.logprobs.count == 5)
        for lp in r.logprobs {
            #expect(lp.top.count == 3)
            #expect(lp.top[0].token == lp.token)           // greedy: the chosen token is the most likely
            #expect(abs(lp.top[0].logprob - lp.logprob) < 1e-6)
            #expect(lp.logprob <= 0)
            #expect(lp.top[0].logprob >= lp.top[1].logprob)
        }
    }

    @Test func invalidRequestsAreRefused() {
        func error(_ r: GenerationRequest) -> EngineError? {
            do { try Self.engine.submit(r) { _ in }; return nil } catch { return error as? EngineError }
        }
        #expect(error(GenerationRequest(promptTokens: []))?.message == "the prompt is empty")
        #expect(error(GenerationRequest(promptTokens: [99999]))?.message.contains("outside the vocabulary") == true)
        #expect(error(GenerationRequest(promptTokens: [1], maxTokens: -1))?.kind == .invalid)
        #expect(error(GenerationRequest(promptTokens: [1], maxTokens: 600))?.kind == .tooLarge)
    }
}

/// Shutting down never leaves a request without an end: what was running, waiting, or submitted a moment before
/// (not yet taken by the engine thread) is cancelled, so every stream gets its last event.
@Suite struct ShutdownTests {
    @Test func submissionsRacingShutdownAllEnd() throws {
        for round in 0..<5 {
            let engine = Engine(model: EngineFixture.model, tokenizer: nil, configuration: EngineConfiguration())
            let busy = Collector()
            try engine.submit(GenerationRequest(tenant: "a", promptTokens: EngineFixture.refs.prompts[3].ids,
                                                maxTokens: 400), sink: busy.sink)
            let deadline = Date().addingTimeInterval(30)
            while busy.tokens.count < 2 && Date() < deadline { usleep(500) }
            // Submitted while the engine thread is inside a step, then shut down before it takes it.
            let late = Collector()
            try engine.submit(GenerationRequest(tenant: "b", promptTokens: [1, 2, 3], maxTokens: 8), sink: late.sink)
            engine.shutdown()
            #expect(busy.wait(timeout: 10)?.reason == .cancelled, "round \(round)")
            #expect(late.wait(timeout: 10) != nil, "round \(round): the late request never ended")
        }
    }
}
