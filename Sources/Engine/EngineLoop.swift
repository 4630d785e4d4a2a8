import Foundation
import Model

/// The engine thread's state and its step: schedule, assemble, forward, finish. Only the engine thread touches it.
final class EngineLoop {
    let engine: Engine
    let transformer: Transformer
    private var waiting: [String: [SequenceState]] = [:]   // tenant -> FIFO
    private var running: [SequenceState] = []
    private var fair = FairShare()
    private var stepCount = 0
    /// Step time against rows, for `auto` lookahead (measured at start unless configured).
    var stepCost = StepCostModel.proportional

    init(engine: Engine) {
        self.engine = engine
        self.transformer = engine.model.transformer
        stepCost = measureStepCost()
    }

    func run() {
        while let incoming = engine.takePending(idle: running.isEmpty && waiting.isEmpty) {
            for seq in incoming {
                if !hasWork(seq.tenant) { fair.activate(seq.tenant, active: activeTenants()) }
                waiting[seq.tenant, default: []].append(seq)
            }
            dropCancelled()
            admit()
            if !running.isEmpty { step() }
            publishCounts()
        }
        // Shutting down: everything left is cancelled, submissions not yet taken included.
        for seq in running + waiting.values.flatMap({ $0 }) + engine.takeLeftovers() { finish(seq, .cancelled) }
        running.removeAll()
        waiting.removeAll()
    }

    private func hasWork(_ tenant: String) -> Bool {
        !(waiting[tenant]?.isEmpty ?? true) || running.contains { $0.tenant == tenant }
    }

    private func activeTenants() -> Set<String> {
        Set(waiting.filter { !$0.value.isEmpty }.keys).union(running.map(\.tenant))
    }

    private func dropCancelled() {
        for (tenant, queue) in waiting {
            let (gone, kept) = queue.partitioned { $0.handle.isCancelled }
            gone.forEach { finish($0, .cancelled) }
            waiting[tenant] = kept.isEmpty ? nil : kept
        }
        let (gone, kept) = running.partitioned { $0.handle.isCancelled }
        gone.forEach { finish($0, .cancelled) }
        running = kept
    }

    /// Moves waiting requests into the running set, least-served tenant first, while the pool has room for the
    /// newcomer's context (its prompt) on top of what the running sequences need for their next step.
    private func admit() {
        while running.count < engine.configuration.maxRunning {
            let candidates = waiting.filter { !$0.value.isEmpty }.map(\.key)
            guard let tenant = fair.order(candidates).first, var queue = waiting[tenant] else { return }
            if let pool = transformer.kvAllocator.pool, let first = queue.first {
                let allocator = transformer.kvAllocator
                let growth = running.count   // at most one new block each next step
                let needed = allocator.blocks(forPositions: first.context.count + 1) + growth
                if needed > pool.freePages {
                    _ = engine.configuration.reclaim(needed - pool.freePages)
                    // Nothing running: admit anyway (reservation preempts or fails it); else wait for room.
                    if needed > pool.freePages && !running.isEmpty { return }
                }
            }
            let seq = queue.removeFirst()
            waiting[tenant] = queue.isEmpty ? nil : queue
            seq.cache = transformer.makeCache()
            running.append(seq)
        }
    }

    /// One forward pass over the running sequences.
    private func step() {
        let start = DispatchTime.now().uptimeNanoseconds
        var budget = engine.configuration.maxBatchTokens
        // Decode rows first (one each), then prompt chunks; both in fair-share order, then arrival.
        let tenantRank = Dictionary(uniqueKeysWithValues: fair.order(Array(Set(running.map(\.tenant))))
            .enumerated().map { ($1, $0) })
        let ordered = running.enumerated().sorted { a, b in
            (tenantRank[a.element.tenant] ?? 0, a.offset) < (tenantRank[b.element.tenant] ?? 0, b.offset)
        }.map(\.element)
        var plan: [(seq: SequenceState, tokens: [Int], producesToken: Bool)] = []
        // Prompts always progress: while any wait for prefill, a quarter of the budget is kept for them, so a tenant
        // with many decoding streams cannot hold a newcomer's first token back (the decoders of the most-served
        // tenants wait a step instead).
        let prefillDemand = ordered.reduce(0) { $0 + ($1.isPrefilling ? $1.context.count - $1.prefilled : 0) }
        let reserve = prefillDemand > 0 ? min(prefillDemand, max(1, budget / 4)) : 0
        var decodeBudget = budget - reserve
        for seq in ordered where !seq.isPrefilling && decodeBudget > 0 {
            decodeBudget -= 1
            guard let token = seq.pendingToken else { continue }
            plan.append((seq, [token], true))
            budget -= 1
        }
        for seq in ordered where seq.isPrefilling && budget > 0 {
            let context = seq.context
            let n = min(context.count - seq.prefilled, budget)
            // A recomputed context ends before the pending token: its last row produces no new token.
            let produces = seq.prefilled + n == context.count && seq.generated.isEmpty
            plan.append((seq, Array(context[seq.prefilled..<(seq.prefilled + n)]), produces))
            budget -= n
        }
        plan = reserveKV(plan)
        guard !plan.isEmpty else { return }
        // Rows of one adapter form one segment: order by adapter (base model first), keeping the order above inside.
        let byAdapter = plan.enumerated().sorted { a, b in
            let ka = a.element.seq.adapterKey.map { UInt(bitPattern: $0.hashValue) } ?? 0
            let kb = b.element.seq.adapterKey.map { UInt(bitPattern: $0.hashValue) } ?? 0
            return (ka, a.offset) < (kb, b.offset)
        }.map(\.element)
        var drafts = planLookahead(byAdapter, spareRows: budget)
        // A verified draft commits up to `maxCommit` rows: reserve their KV, or decode plainly this step.
        for item in byAdapter {
            let id = ObjectIdentifier(item.seq)
            guard let draft = drafts[id], let cache = item.seq.cache else { continue }
            if !cache.reserve(positions: cache.length + draft.maxCommit) { drafts[id] = nil }
        }
        var batch = StepBatch()
        var firstLogit: [Int] = []   // per item: its first row among the step's logits
        for item in byAdapter {
            let adapter = item.seq.request.adapter
            firstLogit.append(batch.logitRows.count)
            if let draft = drafts[ObjectIdentifier(item.seq)] {
                batch.append(draft, cache: item.seq.cache!, adapter: adapter?.weights, adapterScale: adapter?.scale ?? 1)
                continue
            }
            let allRows = item.seq.wantsPromptLogits
            batch.append(item.tokens, cache: item.seq.cache!, wantLogits: item.producesToken && !allRows,
                         adapter: adapter?.weights, adapterScale: adapter?.scale ?? 1)
            if allRows { batch.logitRows += batch.spans[batch.spans.count - 1].rows }
        }
        report(batch, plan: byAdapter, drafts: drafts)
        var logits: [Float] = []
        var verified: [ObjectIdentifier: (emitted: Int, reason: CompletionReason?)] = [:]
        do {
            try transformer.forward(batch) { out, commit in
                logits = out
                for (k, item) in byAdapter.enumerated() {
                    let span = batch.spans[k]
                    guard let draft = drafts[ObjectIdentifier(item.seq)] else {
                        commit(span, Array(span.rows))
                        continue
                    }
                    verified[ObjectIdentifier(item.seq)] = verify(item.seq, draft, logits: out, first: firstLogit[k],
                                                                  span: span, commit: commit)
                }
            }
            // Drop the batch's cache references now, so a sequence that finishes below frees its KV pages before
            // its client hears the end.
            batch = StepBatch()
        } catch {
            for item in byAdapter {
                item.seq.fail(EngineError(.internalError, "forward pass failed: \(error)"))
                finish(item.seq, nil)
            }
            running.removeAll { seq in byAdapter.contains { $0.seq === seq } }
            return
        }
        stepCount += 1
        let vocab = transformer.config.vocabSize
        var done: [SequenceState] = []
        var generatedThisStep = 0, prefilledThisStep = 0
        for (k, item) in byAdapter.enumerated() {
            let seq = item.seq
            // The row the next token comes from: the chunk's last when every row has logits.
            var tokenRow = firstLogit[k]
            if seq.wantsPromptLogits {
                tokenRow += item.tokens.count - 1
                gatherPromptLogprobs(seq, chunk: item.tokens.count, logits: logits, first: firstLogit[k])
            }
            if seq.isPrefilling {
                seq.prefilled += item.tokens.count
                prefilledThisStep += item.tokens.count
                fair.charge(seq.tenant, prefill: item.tokens.count, decode: 0)
            }
            guard item.producesToken else { continue }
            // The prompt is done: its forks (the other choices of the prompt) start here, on its KV pages shared
            // copy-on-write, each choosing its first token from the same row.
            let forks = seq.forks.isEmpty ? [] : spawnForks(seq)
            running += forks
            for member in [seq] + forks {
                if member.request.promptLogprobs != nil && member.generated.isEmpty {
                    member.sink(.promptLogprobs(member.promptLogprobs))
                }
                if member.request.maxTokens == 0 {   // the prompt alone (prompt logprobs): nothing to generate
                    finish(member, .length)
                    done.append(member)
                    continue
                }
                let emitted: Int, reason: CompletionReason?
                if let outcome = verified[ObjectIdentifier(member)] {
                    (emitted, reason) = outcome
                } else {
                    let row = tokenRow
                    reason = logits.withUnsafeBufferPointer { all in accept(member, logits: all.row(row, width: vocab)) }
                    emitted = 1
                }
                generatedThisStep += emitted
                fair.charge(member.tenant, prefill: 0, decode: emitted)
                if let reason {
                    finish(member, reason)
                    done.append(member)
                }
            }
        }
        running.removeAll { seq in done.contains { $0 === seq } }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let generated = generatedThisStep, prompt = prefilledThisStep
        engine.updateStats { s in
            s.steps += 1
            s.tokensGenerated += generated
            s.promptTokens += prompt
            s.stepSecondsSum += seconds
            let bucket = EngineStats.stepBuckets.firstIndex { seconds <= $0 } ?? EngineStats.stepBuckets.count
            for b in bucket..<s.stepBucketCounts.count { s.stepBucketCounts[b] += 1 }
        }
        fair.prune(keeping: activeTenants())
    }

    /// The sequences of a prompt's other choices, made when its prefill ends: each shares the prompt's KV pages
    /// (copy-on-write), its prompt logprobs and its progress, and has its own request (seed, sink).
    private func spawnForks(_ leader: SequenceState) -> [SequenceState] {
        defer { leader.forks = [] }
        return leader.forks.map { f in
            let child = SequenceState(handle: leader.handle, request: f.request, tokenizer: engine.tokenizer,
                                      submittedAtStep: leader.submittedAtStep, sink: f.sink)
            child.cache = leader.cache?.fork()
            child.prefilled = leader.prefilled
            child.promptLogprobs = leader.promptLogprobs
            return child
        }
    }

    /// Adds the logprobs of the prompt tokens a prefill chunk's rows predict: row i (logits at `first + i`) gives
    /// the token at `prefilled + i + 1`, while that is still a prompt token.
    private func gatherPromptLogprobs(_ seq: SequenceState, chunk: Int, logits: [Float], first: Int) {
        let prompt = seq.request.promptTokens, top = seq.request.promptLogprobs ?? 0
        let vocab = transformer.config.vocabSize
        logits.withUnsafeBufferPointer { all in
            for i in 0..<chunk where seq.prefilled + i + 1 < prompt.count {
                seq.promptLogprobs.append(tokenLogprob(all.row(first + i, width: vocab), chosen: prompt[seq.prefilled + i + 1], top: top))
            }
        }
    }

    /// Makes sure every planned sequence's cache has blocks for this step's rows. When the pool is short it first
    /// asks for idle adapters to be evicted, then preempts the newest running sequence (its KV freed, recomputed
    /// when it runs again), and repeats; a sequence that cannot fit even alone fails with an error.
    private func reserveKV(_ plan: [(seq: SequenceState, tokens: [Int], producesToken: Bool)])
        -> [(seq: SequenceState, tokens: [Int], producesToken: Bool)] {
        guard let pool = transformer.kvAllocator.pool else { return plan }
        var plan = plan
        var i = 0
        while i < plan.count {
            let item = plan[i]
            guard let cache = item.seq.cache else { i += 1; continue }
            let positions = cache.length + item.tokens.count
            if cache.reserve(positions: positions) { i += 1; continue }
            let short = transformer.kvAllocator.blocks(forPositions: positions) - cache.blockCount - pool.freePages
            if engine.configuration.reclaim(max(1, short)) > 0, cache.reserve(positions: positions) { i += 1; continue }
            // Preempt the newest other running sequence; if this one is the only one left, it can never fit.
            guard let victim = running.filter({ $0 !== item.seq && $0.cache != nil }).max(by: { $0.handle.id < $1.handle.id }) else {
                item.seq.fail(EngineError(.tooLarge, "the memory pool cannot hold this request's KV cache (\(positions) positions); raise --pool-memory"))
                finish(item.seq, nil)
                running.removeAll { $0 === item.seq }
                plan.remove(at: i)
                continue
            }
            victim.preempt()
            running.removeAll { $0 === victim }
            waiting[victim.tenant, default: []].insert(victim, at: 0)
            engine.updateStats { $0.preemptions += 1 }
            if let j = plan.firstIndex(where: { $0.seq === victim }) {
                plan.remove(at: j)
                if j < i { i -= 1 }
            }
        }
        return plan
    }

    /// Samples the next token from `logits` (the model's row), streams it, and says whether the sequence is done.
    private func accept(_ seq: SequenceState, logits: UnsafeBufferPointer<Float>) -> CompletionReason? {
        let (token, row) = choose(seq, logits: logits)
        seq.steps += 1
        seq.lookahead?.record(nil, emitted: [token]) { _ in 0 }
        return emit(seq, token: token, logits: row, modelRow: logits)
    }

    /// Chooses a sequence's next token from the model's row of logits: the row goes through the sequence's
    /// `LogitsProcessor` (the one seam for logit controls), then the sampler (greedy or seeded draw). Returns the
    /// token and the processed row it was chosen from.
    func choose(_ seq: SequenceState, logits: UnsafeBufferPointer<Float>) -> (token: Int, row: UnsafeBufferPointer<Float>) {
        let row = seq.processor.process(logits)
        return (seq.sampler.sample(row), row)
    }

    /// Streams one chosen token (`logits`: the processed row it was chosen from; `modelRow`: the model's own row) and
    /// says whether the sequence is done. A model row that is not all finite (an adapter whose weights overflow the
    /// activations) ends the request with an error, never with NaN logprobs or a token drawn from garbage; the
    /// processed row may hold -inf by design (masked tokens), so the check is on the model's row.
    func emit(_ seq: SequenceState, token: Int, logits: UnsafeBufferPointer<Float>,
              modelRow: UnsafeBufferPointer<Float>) -> CompletionReason? {
        let r = seq.request
        if !allFinite(modelRow) {
            let adapter = r.adapter.map { "adapter \"\($0.name)\"" } ?? "the base model"
            let error = EngineError(.internalError, "the model produced non-finite logits (NaN or infinity) at generated token \(seq.generated.count + 1) with \(adapter); the request was stopped")
            FileHandle.standardError.write(Data("lorad: request of tenant \(seq.tenant) failed: \(error.message)\n".utf8))
            seq.failure = error
            return .cancelled
        }
        let logprob = r.wantLogprobs ? tokenLogprob(logits, chosen: token, top: r.logprobs) : nil
        seq.processor.accepted(token)
        seq.generated.append(token)
        seq.pendingToken = token
        if seq.firstTokenAtStep < 0 { seq.firstTokenAtStep = stepCount }
        let isStopToken = r.stopTokenIds.contains(token)
        var text = ""
        if !isStopToken, let decoder = seq.decoder {
            text = seq.stopMatcher.append(decoder.append(token))
        }
        seq.sink(.token(id: token, text: text, logprob: logprob))
        if isStopToken || seq.stopMatcher.stopped { return .stop }
        if seq.generated.count >= r.maxTokens { return .length }
        if r.promptTokens.count + seq.generated.count >= transformer.config.maxPositions { return .length }
        return nil
    }

    /// Ends a sequence: frees its KV cache and its tenant slot, then reports (so a client that sees the end also
    /// sees the memory back).
    private func finish(_ seq: SequenceState, _ reason: CompletionReason?) {
        var tail = ""
        if let reason, reason != .cancelled, !seq.stopMatcher.stopped, let decoder = seq.decoder {
            tail = seq.stopMatcher.append(decoder.finish()) + seq.stopMatcher.flush()
        }
        seq.cache = nil
        engine.finished(seq.tenant)
        // Forks not started yet (the prompt never finished) end with it.
        for f in seq.forks {
            engine.finished(seq.tenant)
            if let failure = seq.failure {
                f.sink(.failed(failure))
            } else if let reason {
                f.sink(.finished(Completion(reason: reason, promptTokens: f.request.promptTokens.count, generatedTokens: [],
                                            text: "", steps: 0, adapter: f.request.adapter?.name,
                                            submittedAtStep: seq.submittedAtStep, firstTokenAtStep: -1)))
            }
        }
        seq.forks = []
        if let failure = seq.failure {
            seq.sink(.failed(failure))
            return
        }
        guard let reason else { return }
        engine.updateStats { $0.requestsFinished[reason, default: 0] += 1 }
        if !tail.isEmpty { seq.sink(.token(id: -1, text: tail, logprob: nil)) }
        seq.sink(.finished(Completion(
            reason: reason, promptTokens: seq.request.promptTokens.count, generatedTokens: seq.generated,
            text: seq.stopMatcher.text, steps: seq.steps, adapter: seq.request.adapter?.name,
            submittedAtStep: seq.submittedAtStep, firstTokenAtStep: seq.firstTokenAtStep)))
    }

    private func publishCounts() {
        let runningCount = running.count
        let waitingCount = waiting.values.reduce(0) { $0 + $1.count }
        var byTenant: [String: Int] = [:]
        for seq in running { byTenant[seq.tenant, default: 0] += 1 }
        for (t, q) in waiting { byTenant[t, default: 0] += q.count }
        engine.updateStats { s in
            s.running = runningCount
            s.waiting = waitingCount
            s.activeByTenant = byTenant
        }
    }
}

extension Array {
    /// (elements matching, elements not matching), each in order.
    func partitioned(_ matches: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = [], no: [Element] = []
        for e in self { if matches(e) { yes.append(e) } else { no.append(e) } }
        return (yes, no)
    }
}
