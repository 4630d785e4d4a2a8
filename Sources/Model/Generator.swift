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
    /// With `lookahead`, steps verify n-gram candidates next to the input token (output unchanged: greedy output is
    /// plain greedy output, sampled output plain sampled output for the same seed); `stepCost` prices the rows for
    /// `auto`, and no step exceeds `maxStepRows` rows.
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopAtEOS: Bool = true,
                         adapter: LoRAWeights? = nil, adapterScale: Float = 1, lookahead: LookaheadMode = .off,
                         stepCost: StepCostModel = .proportional, maxStepRows: Int = 256,
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
        let vocab = config.vocabSize

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
        /// Emits a token; true when generation is over.
        func emit(_ token: Int) -> Bool {
            output.append(token)
            onToken(token)
            if stopAtEOS && eos.contains(token) {
                finish = .stop
                return true
            }
            return output.count == maxTokens
        }
        var done = maxTokens == 0
        if !done {
            steps = 1
            done = emit(logits.withUnsafeBufferPointer { sampler.sample($0.row(0, width: vocab)) })
        }
        let state = lookahead.shape.map { LookaheadState(shape: $0, context: prompt + output) }
        while !done {
            let pending = output[output.count - 1], position = cache.length, maxNew = maxTokens - output.count
            var draft: LookaheadDraft?
            if let state {
                let demand = LookaheadDemand(
                    fixed: !lookahead.isAuto, candidateRows: state.candidateRowCount(input: pending, maxNew: maxNew),
                    windowRows: state.windowRowCount(position: position, maxNew: maxNew, maxPositions: config.maxPositions),
                    verifyGain: state.verifyGain, fullGain: state.fullGain)
                let grant = LookaheadBudget.allocate([demand], baseRows: 1, rowLimit: maxStepRows, cost: stepCost)[0]
                if grant.isEmpty {
                    state.shadow(input: pending, maxNew: maxNew)
                } else {
                    draft = state.draft(input: pending, position: position, maxNew: maxNew,
                                        candidateRows: grant.candidateRows, withWindow: grant.window)
                }
            }
            var batch = StepBatch()
            if let draft {
                batch.append(draft, cache: cache, adapter: adapter, adapterScale: adapterScale)
            } else {
                batch.append([pending], cache: cache, adapter: adapter, adapterScale: adapterScale)
            }
            steps += 1
            guard let draft else {
                logits = try transformer.forward(batch)
                let token = logits.withUnsafeBufferPointer { sampler.sample($0.row(0, width: vocab)) }
                done = emit(token)
                state?.record(nil, emitted: [token]) { _ in 0 }
                continue
            }
            try transformer.forward(batch) { logits, commit in
                logits.withUnsafeBufferPointer { all in
                    let walk = draft.verify { r in
                        let token = sampler.sample(all.row(draft.logitIndex(of: r), width: vocab))
                        done = emit(token)
                        return (token, done)
                    }
                    commit(batch.spans[0], walk.rows)
                    state?.record(draft, emitted: walk.tokens) { r in
                        Sampler.argmax(all.row(draft.logitIndex(of: r), width: vocab))
                    }
                }
            }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return Generation(promptTokenIds: prompt, tokenIds: output, finishReason: finish, steps: steps,
                          prefillSeconds: Double(prefillEnd - start) / 1e9, decodeSeconds: Double(end - prefillEnd) / 1e9)
    }
}
