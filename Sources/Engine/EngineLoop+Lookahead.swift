import Foundation
import Model

/// Lookahead decoding inside the mixed batch: which decoding sequences get lookahead rows this step (the row
/// budget), and the verification of their rows after the forward pass.
extension EngineLoop {
    /// The step cost model: configured, or measured now on this thread when `auto` lookahead may need it.
    func measureStepCost() -> StepCostModel {
        let configuration = engine.configuration
        let cost: StepCostModel
        if let configured = configuration.stepCost {
            cost = configured
        } else if configuration.lookahead == .auto,
                  let measured = try? StepCostModel.measure(transformer, maxRows: configuration.maxBatchTokens,
                                                            timeLimit: configuration.calibrationSeconds) {
            cost = measured
        } else {
            cost = .proportional
        }
        engine.updateStats { $0.stepCost = cost }
        return cost
    }

    /// The lookahead a sequence runs with: its own setting, or the engine's for `auto`.
    func lookaheadMode(_ seq: SequenceState) -> LookaheadMode {
        seq.request.lookahead == .auto ? engine.configuration.lookahead : seq.request.lookahead
    }

    /// Hands the step's `spareRows` to decoding sequences as lookahead rows (`LookaheadBudget`) and builds their
    /// drafts. Sequences without rows this step decode plainly (an `auto` one notes what its candidates would have
    /// matched, to learn whether they are worth rows).
    func planLookahead(_ plan: [(seq: SequenceState, tokens: [Int], producesToken: Bool)],
                       spareRows: Int) -> [ObjectIdentifier: LookaheadDraft] {
        let maxPositions = transformer.config.maxPositions
        var chosen: [(seq: SequenceState, state: LookaheadState, input: Int, position: Int, maxNew: Int, auto: Bool,
                      forced: [Int])] = []
        for item in plan where item.producesToken && !item.seq.isPrefilling {
            let seq = item.seq
            let mode = lookaheadMode(seq)
            guard let shape = mode.isAuto ? engine.configuration.autoShape : mode.shape, let cache = seq.cache, let input = seq.pendingToken else { continue }
            if seq.lookahead?.shape != shape {
                seq.lookahead = LookaheadState(shape: shape, context: seq.request.promptTokens + seq.generated)
            }
            let maxNew = seq.request.maxTokens - seq.generated.count
            // Tokens the sequence's grammar forces after `input` (already accepted by it; known without the model):
            // proposed first, so one step verifies them all, keeping them exactly as plain decoding would.
            let forced = seq.processor.forcedContinuation(limit: shape.n - 1)
            chosen.append((seq, seq.lookahead!, input, cache.length, maxNew, mode.isAuto, forced))
        }
        guard !chosen.isEmpty else { return [:] }
        let demands = chosen.map { c in
            LookaheadDemand(fixed: !c.auto, candidateRows: c.state.candidateRowCount(input: c.input, maxNew: c.maxNew,
                                                                                     legalPrefix: c.seq.processor.legalPrefix,
                                                                                     forced: c.forced),
                            windowRows: c.state.windowRowCount(position: c.position, maxNew: c.maxNew,
                                                               maxPositions: maxPositions),
                            verifyGain: c.state.verifyGain, fullGain: c.state.fullGain)
        }
        let baseRows = plan.reduce(0) { $0 + $1.tokens.count }
        let grants = LookaheadBudget.allocate(demands, baseRows: baseRows, rowLimit: baseRows + max(0, spareRows),
                                              cost: stepCost)
        var drafts: [ObjectIdentifier: LookaheadDraft] = [:]
        for (c, grant) in zip(chosen, grants) {
            if grant.isEmpty {
                if c.auto { c.state.shadow(input: c.input, maxNew: c.maxNew) }
                continue
            }
            // Candidates are cut where the sequence's grammar (if any) rejects them: never proposed, so no rows spent.
            drafts[ObjectIdentifier(c.seq)] = c.state.draft(input: c.input, position: c.position, maxNew: c.maxNew,
                                                            candidateRows: grant.candidateRows, withWindow: grant.window,
                                                            legalPrefix: c.seq.processor.legalPrefix, forced: c.forced)
        }
        return drafts
    }

    /// Verifies a sequence's lookahead rows (inside the step, while their K/V are at hand): emits the tokens plain
    /// decoding would have chosen, one per row along the matching candidate, stopping at the first finish; keeps
    /// the K/V of the input and matched candidate rows only. Returns the tokens emitted and why it finished.
    func verify(_ seq: SequenceState, _ draft: LookaheadDraft, logits: [Float], first: Int, span: SequenceSpan,
                commit: (SequenceSpan, [Int]) -> Void) -> (emitted: Int, reason: CompletionReason?) {
        let vocab = transformer.config.vocabSize
        var reason: CompletionReason?
        let walk = logits.withUnsafeBufferPointer { all in
            let walk = draft.verify { r in
                // Each row goes through the processor after the previous row's token was accepted: the same
                // history plain decoding would have given it.
                let modelRow = all.row(first + draft.logitIndex(of: r), width: vocab)
                let (token, row) = choose(seq, logits: modelRow)
                reason = emit(seq, token: token, logits: row, modelRow: modelRow)
                return (token, reason != nil)
            }
            seq.lookahead?.record(draft, emitted: walk.tokens) { r in
                Sampler.argmax(all.row(first + draft.logitIndex(of: r), width: vocab))
            }
            return walk
        }
        if reason == nil { commit(span, walk.rows.map { span.rows.lowerBound + $0 }) }
        seq.steps += 1
        let extra = walk.tokens.count - 1, rows = draft.rowCount - 1
        engine.updateStats { s in
            s.lookaheadSequenceSteps += 1
            s.lookaheadRows += rows
            s.lookaheadExtraTokens += extra
        }
        return (walk.tokens.count, reason)
    }

    /// Tells the step observer what this step holds.
    func report(_ batch: StepBatch, plan: [(seq: SequenceState, tokens: [Int], producesToken: Bool)],
                drafts: [ObjectIdentifier: LookaheadDraft]) {
        guard let observer = engine.configuration.stepObserver else { return }
        let decoding = plan.filter { !$0.seq.isPrefilling }
        observer(StepRecord(rows: batch.rowCount, rowLimit: engine.configuration.maxBatchTokens,
                            decodeSequences: decoding.count,
                            prefillRows: plan.filter(\.seq.isPrefilling).reduce(0) { $0 + $1.tokens.count },
                            lookaheadRows: drafts.values.reduce(0) { $0 + $1.rowCount - 1 },
                            lookaheadSequences: drafts.count))
    }
}
