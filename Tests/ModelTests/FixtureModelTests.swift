import Foundation
import Model
import Kernels
import Testing
import TestSupport

/// The base model must reproduce Hugging Face transformers: logits within 1e-4 and identical greedy tokens.
@Suite(.serialized) struct FixtureModelTests {
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let refs = References.tinyLlama

    @Test func configIsRead() {
        let c = Self.model.config
        #expect(c.architecture == "LlamaForCausalLM")
        #expect(c.hiddenSize == 64 && c.layerCount == 2 && c.headCount == 4 && c.kvHeadCount == 2 && c.headDim == 16)
        #expect(Self.model.generation.eosTokenIds == [2038, 2046])
    }

    @Test(arguments: 0..<12)
    func lastPromptLogitsMatch(promptIndex: Int) throws {
        let prompt = Self.refs.prompts[promptIndex]
        let reference = Self.refs.variants["__base__"]![promptIndex]
        let t = Self.model.transformer
        var batch = StepBatch()
        batch.append(prompt.ids, cache: t.makeCache())
        let logits = try t.forward(batch)
        #expect(logits.count == reference.lastPromptLogits.count)
        let maxDiff = zip(logits, reference.lastPromptLogits).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff <= 1e-4, "prompt \(promptIndex): max |logit diff| \(maxDiff)")
    }

    @Test(arguments: 0..<12)
    func greedyTokensMatch(promptIndex: Int) throws {
        let prompt = Self.refs.prompts[promptIndex]
        let reference = Self.refs.variants["__base__"]![promptIndex]
        let g = try Generator(model: Self.model).generate(prompt: prompt.ids, maxTokens: 48, stopAtEOS: false)
        #expect(g.tokenIds == reference.greedyIds, "prompt \(promptIndex)")
    }

    /// Prefill in small chunks, and several sequences in one step, give the same tokens as one sequence alone.
    @Test func chunkedPrefillAndSharedStepsMatch() throws {
        let g = try Generator(model: Self.model, prefillChunk: 7)
            .generate(prompt: Self.refs.prompts[11].ids, maxTokens: 48, stopAtEOS: false)
        #expect(g.tokenIds == Self.refs.variants["__base__"]![11].greedyIds)

        // All 12 prompts decoded together, one row each per step.
        let t = Self.model.transformer
        let caches = Self.refs.prompts.map { _ in t.makeCache() }
        var batch = StepBatch()
        for (i, p) in Self.refs.prompts.enumerated() { batch.append(p.ids, cache: caches[i]) }
        var logits = try t.forward(batch)
        var outputs = [[Int]](repeating: [], count: caches.count)
        for _ in 0..<48 {
            var next = StepBatch()
            for i in caches.indices {
                let row = logits[(i * t.config.vocabSize)..<((i + 1) * t.config.vocabSize)]
                let token = row.withUnsafeBufferPointer { Sampler.argmax($0) }
                outputs[i].append(token)
                next.append([token], cache: caches[i])
            }
            logits = try t.forward(next)
        }
        for i in caches.indices {
            #expect(outputs[i] == Self.refs.variants["__base__"]![i].greedyIds, "prompt \(i) in a 12-sequence batch")
        }
    }

    @Test func cachesReturnEveryBlock() throws {
        let t = Self.model.transformer
        let before = t.kvAllocator.blocksInUse
        do {
            _ = try Generator(model: Self.model).generate(prompt: Self.refs.prompts[3].ids, maxTokens: 20)
        }
        #expect(t.kvAllocator.blocksInUse == before)
    }
}
