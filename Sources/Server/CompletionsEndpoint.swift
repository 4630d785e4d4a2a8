import Adapters
import Engine
import Foundation
import Grammar
import Model
import Registry
import Synchronization
import Tokenization
import Wire

/// `/v1/completions` and `/v1/chat/completions`: resolve the adapter, tokenize, run on the engine, answer whole or
/// as server-sent events.
extension APIService {
    struct ResolvedModel {
        var binding: AdapterBinding?
        var name: String?
        /// The adapter acquired from the pool for this request (released when it ends).
        var record: AdapterRecord?
    }

    /// `constraint`: structured output (the grammar work's `TokenConstraint`), applied to every choice.
    func completions(_ req: CompletionRequest, identity: Identity, reply: APIReply, gone: ClientGone,
                     constraint: TokenConstraintFactory? = nil) throws {
        let prompts = try req.prompts.map { p -> PromptPlan in
            switch p {
            case .text(let s): return PromptPlan(tokens: try encodeUntrusted(s, addSpecialTokens: true, gone: gone), echoText: s)
            case .tokens(let t): return PromptPlan(tokens: t, echoText: tokenizer.decode(t.filter { $0 >= 0 && $0 < tokenizer.vocabularySize },
                                                                                 skipSpecialTokens: true))
            }
        }
        try generate(model: req.model, prompts: prompts, options: req.options, identity: identity, chat: false, reply: reply,
                     constraint: constraint)
    }

    /// `body`: the request's JSON as sent (response_format, tools and tool_choice are read from it in order).
    func chatCompletions(_ req: ChatRequest, body: [UInt8], identity: Identity, reply: APIReply, gone: ClientGone) throws {
        guard let renderChat else {
            throw APIError.invalid("the model has no chat template; use /v1/completions", code: "no_chat_template")
        }
        let tools = try toolRequest(body)
        var constraint = try structuredOutput(body)
        if let forced = tools?.constraint {
            guard constraint == nil else {
                throw APIError.invalid("response_format cannot be combined with tool_choice required or a named function",
                                       code: "invalid_tools")
            }
            constraint = forced
        }
        let text: String
        do { text = try renderChat(req.messages, true, tools?.toolsJSON) } catch {
            throw APIError.invalid("the chat template failed: \(error)", code: "chat_template_error", param: "messages")
        }
        let prompt = try encodeUntrusted(text, addSpecialTokens: false, gone: gone)
        try generate(model: req.model, prompts: [PromptPlan(tokens: prompt, echoText: "")], options: req.options,
                     identity: identity, chat: true, reply: reply, constraint: constraint, toolFormat: tools?.format)
    }

    /// `model` is an adapter name, the base model id (the tenant's default adapter, else the base model), or "auto".
    func resolveModel(_ model: String, identity: Identity, prompt: [Int], scale: Double) throws -> ResolvedModel {
        var name: String?
        if model == "auto" {
            // Only the caller's own adapters and those an admin published: a tenant's public adapter cannot
            // capture other tenants' prompts by its description.
            let candidates = try registry.adapters(routableFor: identity.tenant)
            name = try router.choose(promptTokens: prompt, among: candidates.map {
                AdapterRouter.Candidate(name: $0.name, description: $0.description)
            })?.name
        } else if model == modelId {
            name = try registry.tenant(named: identity.tenant)?.defaultAdapter
        } else {
            name = model
        }
        guard let name else { return ResolvedModel(binding: nil, name: nil) }
        guard let record = try registry.adapter(named: name, visibleTo: identity.tenant, isAdmin: identity.isAdmin) else {
            throw APIError.notFound("the model \"\(name)\" does not exist", code: "model_not_found")
        }
        if let reason = record.brokenReason {
            throw APIError.unprocessable("adapter \"\(name)\" is broken: \(reason)", code: "adapter_broken")
        }
        let adapter = try residency.acquire(record)
        try? registry.recordUse(name: name)
        let s = Float(scale * (record.scale ?? 1))
        return ResolvedModel(binding: AdapterBinding(name: name, weights: adapter.weights, scale: s), name: name,
                             record: record)
    }

    /// Token ids of `logit_bias` and `stop_token_ids` must be in the vocabulary.
    private func checkTokenIds(_ o: GenerationOptions) throws {
        let vocab = engine.model.config.vocabSize
        if let bad = o.logitBias.keys.sorted().first(where: { $0 >= vocab }) {
            throw APIError.invalid("\"logit_bias\" names token id \(bad), outside the vocabulary (0..<\(vocab))", code: "invalid_value", param: "logit_bias")
        }
        if let bad = o.stopTokenIds.first(where: { $0 >= vocab }) {
            throw APIError.invalid("\"stop_token_ids\" holds token id \(bad), outside the vocabulary (0..<\(vocab))", code: "invalid_value", param: "stop_token_ids")
        }
    }

    /// Runs every candidate (prompts x best_of) as its own engine request and answers them as one response.
    private func generate(model: String, prompts: [PromptPlan], options o: GenerationOptions, identity: Identity, chat: Bool,
                          reply: APIReply, constraint: TokenConstraintFactory?, toolFormat: ToolCallFormat? = nil) throws {
        try checkTokenIds(o)
        // LoRAX: `adapter_id` names the adapter; `model` then names the base model (or anything: LoRAX ignores it).
        let resolved = try resolveModel(o.adapterId ?? model, identity: identity, prompt: prompts[0].tokens, scale: o.adapterScale)
        let residency = self.residency
        let releaseOnce = OnceAction { if let r = resolved.record { residency.release(r) } }
        let release: @Sendable () -> Void = { releaseOnce.run() }
        var submitted = false
        defer { if !submitted { release() } }
        let stream = ChoiceStream(service: self, id: newId(chat ? "chatcmpl" : "cmpl"), model: model,
                                  adapter: resolved.name, chat: chat, options: o, prompts: prompts, reply: reply,
                                  toolFormat: toolFormat, onEnd: release)
        let eos = o.ignoreEOS ? Set<Int>() : Set(engine.model.generation.eosTokenIds)
        let controls = LogitControls(presencePenalty: Float(o.presencePenalty), frequencyPenalty: Float(o.frequencyPenalty),
                                     repetitionPenalty: Float(o.repetitionPenalty),
                                     logitBias: o.logitBias.mapValues { Float($0) }, minTokens: o.minTokens)
        // best_of ranks by cumulative logprob: candidates report their tokens' logprobs even when not asked.
        let ranks = o.bestOf > o.n
        let promptLogprobs = o.echo && o.logprobs != nil ? o.logprobs : nil
        var requests: [GenerationRequest] = []
        for c in 0..<stream.candidateCount {
            let p = prompts[stream.prompt(ofCandidate: c)]
            let j = c % o.bestOf
            // Candidate j of a seeded request draws from seed + j: reproducible, and different from its siblings.
            let seed = o.seed.map { $0 &+ UInt64(j) }
            var sampling = SamplingParameters(temperature: Float(o.temperature), topP: Float(o.topP), topK: o.topK,
                                              seed: seed, minP: Float(o.minP))
            if o.temperature == 0 { sampling = SamplingParameters(temperature: 0, seed: seed) }
            requests.append(GenerationRequest(
                tenant: identity.tenant, promptTokens: p.tokens, adapter: resolved.binding, sampling: sampling,
                maxTokens: o.maxTokens, stop: o.stop, stopTokenIds: eos.union(o.stopTokenIds),
                logprobs: o.logprobs ?? 0, wantLogprobs: o.logprobs != nil || ranks, lookahead: LookaheadMode(o.lookahead),
                controls: controls, constraint: constraint, promptLogprobs: promptLogprobs))
        }
        // Nothing to run: max_tokens 0 without prompt logprobs answers at once.
        if o.maxTokens == 0 && promptLogprobs == nil {
            submitted = true
            if o.stream { reply.startEventStream() }
            stream.goLive()
            for c in 0..<stream.candidateCount {
                stream.sink(c)(.finished(Completion(reason: .length, promptTokens: requests[c].promptTokens.count,
                                                    generatedTokens: [], text: "", steps: 0, adapter: resolved.name,
                                                    submittedAtStep: 0, firstTokenAtStep: 0)))
            }
            return
        }
        // Submit first, so a refusal (429, 503, 400) is an HTTP error, not a broken stream; events that arrive
        // before the stream has started are held and replayed in order. A refusal cancels the candidates already
        // submitted (their events are never answered).
        // Each prompt's candidates are one group: the prompt is prefilled once and its KV pages shared.
        do {
            for p in prompts.indices {
                let candidates = (p * o.bestOf)..<((p + 1) * o.bestOf)
                let handle = try engine.submit(group: candidates.map { (requests[$0], stream.sink($0)) })
                stream.handles.withLock { $0.append(handle) }
            }
        } catch {
            stream.handles.withLock { $0 }.forEach { $0.cancel() }
            throw error
        }
        submitted = true
        if o.stream { reply.startEventStream() }
        stream.goLive()
        reply.onClose { stream.handles.withLock { $0 }.forEach { $0.cancel() } }
        counters.withLock { $0.byTenant[identity.tenant, default: 0] += 1 }
    }
}

/// A closure that runs at most once, whichever thread calls first.
final class OnceAction: Sendable {
    private let done = Atomic<Bool>(false)
    private let action: @Sendable () -> Void
    init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    func run() {
        if !done.exchange(true, ordering: .acquiringAndReleasing) { action() }
    }
}

extension LookaheadMode {
    /// The engine's form of a request's (or `--lookahead`'s) lookahead setting.
    public init(_ setting: LookaheadSetting) {
        switch setting {
        case .auto: self = .auto
        case .off: self = .off
        case .explicit(let w, let n, let g): self = .fixed(LookaheadShape(w: w, n: n, g: g))
        }
    }
}
