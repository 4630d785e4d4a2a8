import Foundation

/// Why a generation ended.
public enum FinishReason: String, Sendable {
    case length, stop
}

/// The result of one offline generation.
public struct Generation: Sendable {
    public var promptTokenIds: [Int]
    public var tokenIds: [Int]
    public var finishReason: FinishReason
    /// Forward passes spent on the new tokens (the prompt's prefill counts once, in the first).
    public var steps: Int
    public var prefillSeconds: Double
    public var decodeSeconds: Double
}

/// Single-sequence generation over the batched forward pass: chunked prefill, then one row per step.
public struct Generator {
    public let model: LoadedModel
    public var prefillChunk: Int

    public init(model: LoadedModel, prefillChunk: Int = 512) {
        self.model = model
        self.prefillChunk = max(1, prefillChunk)
    }

    /// Generates up to `maxTokens` tokens after `prompt`. Stops at an EOS id of the generation config when
    /// `stopAtEOS` (the EOS token is kept in the output, as HF does). `onToken` sees each token as it is chosen.
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopAtEOS: Bool = true,
                         adapter: LoRAWeights? = nil, adapterScale: Float = 1,
                         onToken: (Int) -> Void = { _ in }) throws -> Generation {
        let config = model.config
        guard !prompt.isEmpty else { throw ModelError("the prompt is empty") }
        for t in prompt where t < 0 || t >= config.vocabSize {
            throw ModelError("prompt token id \(t) is outside the vocabulary (0..<\(config.vocabSize))")
        }
        guard maxTokens >= 0 else { throw ModelError("max tokens must not be negative") }
        guard prompt.count + maxTokens <= config.maxPositions else {
            throw ModelError("prompt (\(prompt.count) tokens) plus \(maxTokens) new tokens exceeds the context of \(config.maxPositions)")
        }
        let transformer = model.transformer
        let cache = transformer.makeCache()
        var sampler = Sampler(sampling)
        let eos = Set(model.generation.eosTokenIds)

        var output: [Int] = []
        var steps = 0
        var finish = FinishReason.length
        let start = DispatchTime.now().uptimeNanoseconds
        var logits: [Float] = []
        var offset = 0
        while offset < prompt.count {
            let end = min(prompt.count, offset + prefillChunk)
            var batch = StepBatch()
            batch.append(Array(prompt[offset..<end]), cache: cache, wantLogits: end == prompt.count,
                         adapter: adapter, adapterScale: adapterScale)
            logits = try transformer.forward(batch)
            offset = end
        }
        let prefillEnd = DispatchTime.now().uptimeNanoseconds
        while output.count < maxTokens {
            let next = logits.withUnsafeBufferPointer { sampler.sample($0) }
            steps += 1
            output.append(next)
            onToken(next)
            if stopAtEOS && eos.contains(next) {
                finish = .stop
                break
            }
            if output.count == maxTokens { break }
            var batch = StepBatch()
            batch.append([next], cache: cache, adapter: adapter, adapterScale: adapterScale)
            logits = try transformer.forward(batch)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return Generation(promptTokenIds: prompt, tokenIds: output, finishReason: finish, steps: steps,
                          prefillSeconds: Double(prefillEnd - start) / 1e9, decodeSeconds: Double(end - prefillEnd) / 1e9)
    }
}
