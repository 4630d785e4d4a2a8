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

    func completions(_ req: CompletionRequest, identity: Identity, reply: APIReply,
                     constraint: TokenConstraintFactory? = nil) throws {
        let prompt: [Int]
        switch req.prompt {
        case .text(let s): prompt = tokenizer.encode(s, addSpecialTokens: true)
        case .tokens(let t): prompt = t
        }
        try generate(model: req.model, prompt: prompt, options: req.options, identity: identity, chat: false, reply: reply,
                     constraint: constraint)
    }

    /// `body`: the request's JSON as sent (response_format, tools and tool_choice are read from it in order).
    func chatCompletions(_ req: ChatRequest, body: [UInt8], identity: Identity, reply: APIReply) throws {
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
            throw APIError.invalid("the chat template failed: \(error)", code: "chat_template_error")
        }
        let prompt = tokenizer.encode(text, addSpecialTokens: false)
        try generate(model: req.model, prompt: prompt, options: req.options, identity: identity, chat: true, reply: reply,
                     constraint: constraint, toolFormat: tools?.format)
    }

    /// `model` is an adapter name, the base model id (the tenant's default adapter, else the base model), or "auto".
    func resolveModel(_ model: String, identity: Identity, prompt: [Int], scale: Double) throws -> ResolvedModel {
        var name: String?
        if model == "auto" {
            let candidates = try registry.adapters(visibleTo: identity.tenant, isAdmin: false).filter { !$0.isBroken }
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

    private func generate(model: String, prompt: [Int], options o: GenerationOptions, identity: Identity, chat: Bool,
                          reply: APIReply, constraint: TokenConstraintFactory?, toolFormat: ToolCallFormat? = nil) throws {
        let resolved = try resolveModel(model, identity: identity, prompt: prompt, scale: o.adapterScale)
        let residency = self.residency
        let releaseOnce = OnceAction { if let r = resolved.record { residency.release(r) } }
        let release: @Sendable () -> Void = { releaseOnce.run() }
        var submitted = false
        defer { if !submitted { release() } }
        var sampling = SamplingParameters(temperature: Float(o.temperature), topP: Float(o.topP), topK: o.topK, seed: o.seed)
        if o.temperature == 0 { sampling = SamplingParameters(temperature: 0, seed: o.seed) }
        let request = GenerationRequest(
            tenant: identity.tenant, promptTokens: prompt, adapter: resolved.binding, sampling: sampling,
            maxTokens: o.maxTokens, stop: o.stop,
            stopTokenIds: o.ignoreEOS ? [] : Set(engine.model.generation.eosTokenIds),
            logprobs: o.logprobs ?? 0, wantLogprobs: o.logprobs != nil, lookahead: LookaheadMode(o.lookahead),
            constraint: constraint)
        let stream = StreamState(service: self, id: newId(chat ? "chatcmpl" : "cmpl"), model: model,
                                 adapter: resolved.name, chat: chat, options: o, prompt: prompt, reply: reply,
                                 toolFormat: toolFormat, onEnd: release)
        if o.maxTokens == 0 {
            if o.stream { reply.startEventStream() }
            stream.finish(Completion(reason: .length, promptTokens: prompt.count, generatedTokens: [], text: "", steps: 0,
                                     adapter: resolved.name, submittedAtStep: 0, firstTokenAtStep: 0))
            return
        }
        // Submit first, so a refusal (429, 503, 400) is an HTTP error, not a broken stream; events that arrive
        // before the stream has started are held and replayed in order.
        let handle = try engine.submit(request) { event in stream.receive(event) }
        submitted = true
        if o.stream { reply.startEventStream() }
        stream.goLive()
        reply.onClose { handle.cancel() }
        counters.withLock { $0.byTenant[identity.tenant, default: 0] += 1 }
    }
}

/// One request's response in the making: accumulates tokens, text and logprobs; streams chunks when asked.
/// Events arrive on the engine thread, one at a time.
final class StreamState: Sendable {
    private struct Progress {
        var text = ""
        var tokens: [Int] = []
        var logprobs: [LogprobEntry] = []
        var sentRole = false
        /// Characters of `text` already streamed (with tools, text that could open a call is held back).
        var streamed = 0
    }
    private let service: APIService
    private let id: String
    private let model: String
    private let adapter: String?
    private let chat: Bool
    private let options: GenerationOptions
    private let prompt: [Int]
    private let reply: APIReply
    /// The format tool calls come in (chat with tools): calls are parsed out of the text at the end.
    private let toolFormat: ToolCallFormat?
    private let created = Int(Date().timeIntervalSince1970)
    private let progress = Mutex(Progress())
    /// Called once when the request ends (finished or failed): gives its adapter back to the pool.
    private let onEnd: @Sendable () -> Void

    init(service: APIService, id: String, model: String, adapter: String?, chat: Bool, options: GenerationOptions,
         prompt: [Int], reply: APIReply, toolFormat: ToolCallFormat? = nil, onEnd: @escaping @Sendable () -> Void) {
        self.onEnd = onEnd
        self.toolFormat = toolFormat
        self.service = service
        self.id = id
        self.model = model
        self.adapter = adapter
        self.chat = chat
        self.options = options
        self.prompt = prompt
        self.reply = reply
    }

    /// Orders event handling: until `goLive`, events are held (the response has not started yet).
    private let gate = NSLock()
    // `live` and `held` are only touched under `gate`.
    private nonisolated(unsafe) var live = false
    private nonisolated(unsafe) var held: [EngineEvent] = []

    func receive(_ event: EngineEvent) {
        gate.lock()
        defer { gate.unlock() }
        guard live else {
            held.append(event)
            return
        }
        handle(event)
    }

    /// The response has started: replays held events, then handles the rest as they come.
    func goLive() {
        gate.lock()
        defer { gate.unlock() }
        live = true
        for e in held { handle(e) }
        held = []
    }

    private func handle(_ event: EngineEvent) {
        switch event {
        case .token(let token, let text, let lp):
            let entry = lp.map { lp in
                progress.withLock { p in
                    LogprobEntry(token: service.tokenizer.decode([token]), logprob: lp.logprob,
                                 top: lp.top.map { (service.tokenizer.decode([$0.token]), $0.logprob) },
                                 textOffset: p.text.count)
                }
            }
            let send = progress.withLock { p -> String in
                if token >= 0 { p.tokens.append(token) }
                p.text += text
                if let entry { p.logprobs.append(entry) }
                guard let toolFormat else { return text }
                let upTo = toolFormat.streamableLength(p.text)
                guard upTo > p.streamed else { return "" }
                defer { p.streamed = upTo }
                return String(Array(p.text)[p.streamed..<upTo])
            }
            if options.stream && (!send.isEmpty || entry != nil) {
                reply.send(Responses.sse(chunk(text: send, logprobs: entry.map { [$0] }, finish: nil)))
            }
        case .finished(let completion):
            finish(completion)
        case .failed(let error):
            onEnd()
            if options.stream {
                reply.send(Responses.sse(APIError.server(error.message).body))
                reply.end()
            } else {
                reply.fail(APIService.apiError(error))
            }
        }
    }

    func finish(_ c: Completion) {
        onEnd()
        var reason = c.reason == .cancelled ? "cancelled" : c.reason.rawValue
        let p = progress.withLock { $0 }
        let usage = Responses.Usage(promptTokens: prompt.count, completionTokens: c.generatedTokens.count)
        // Tool calls: parsed out of the whole text; the content is what comes before them.
        var content = c.text
        var calls: [ParsedToolCall] = []
        if let toolFormat {
            let parsed = toolFormat.parse(c.text)
            calls = parsed.calls
            content = parsed.content ?? ""
            if !calls.isEmpty && c.reason == .stop { reason = "tool_calls" }
        }
        if options.stream {
            if toolFormat != nil {
                // The held-back rest: content not yet sent (all of it when there were no calls), then the calls.
                let rest = calls.isEmpty ? String(Array(c.text).dropFirst(p.streamed)) : String(Array(content).dropFirst(min(p.streamed, content.count)))
                if !rest.isEmpty { reply.send(Responses.sse(chunk(text: rest, logprobs: nil, finish: nil))) }
                if !calls.isEmpty {
                    reply.send(Responses.sse(chunk(text: "", logprobs: nil, finish: nil,
                                                   toolCalls: ToolCallFormat.openAI(calls, requestId: id, streamed: true))))
                }
            }
            reply.send(Responses.sse(chunk(text: "", logprobs: nil, finish: reason, usage: usage, steps: c.steps,
                                           tokenIds: options.returnTokenIds ? c.generatedTokens : nil)))
            reply.send(Responses.sseDone)
            reply.end()
            return
        }
        let logprobs = options.logprobs == nil ? nil : p.logprobs
        let body: [UInt8]
        if chat {
            body = Responses.chat(id: id, created: created, model: model,
                                  content: calls.isEmpty || !content.isEmpty ? content : nil, role: true,
                                  finishReason: reason, logprobs: logprobs, usage: usage, adapter: adapter,
                                  steps: c.steps, chunk: false, promptTokenIds: options.returnTokenIds ? prompt : nil,
                                  tokenIds: options.returnTokenIds ? c.generatedTokens : nil,
                                  toolCalls: calls.isEmpty ? nil : ToolCallFormat.openAI(calls, requestId: id, streamed: false))
        } else {
            body = Responses.completion(id: id, created: created, model: model, choice: Responses.Choice(
                text: c.text, finishReason: reason, logprobs: logprobs,
                promptTokenIds: options.returnTokenIds ? prompt : nil,
                tokenIds: options.returnTokenIds ? c.generatedTokens : nil), usage: usage, adapter: adapter, steps: c.steps)
        }
        reply.respond(status: 200, contentType: "application/json", body: body)
    }

    private func chunk(text: String, logprobs: [LogprobEntry]?, finish: String?, usage: Responses.Usage? = nil,
                       steps: Int? = nil, tokenIds: [Int]? = nil, toolCalls: [[String: Any]]? = nil) -> [UInt8] {
        if chat {
            let first = progress.withLock { p -> Bool in defer { p.sentRole = true }; return !p.sentRole }
            return Responses.chat(id: id, created: created, model: model,
                                  content: finish == nil && toolCalls == nil ? text : nil, role: first,
                                  finishReason: finish, logprobs: logprobs, usage: usage, adapter: adapter, steps: steps,
                                  chunk: true, promptTokenIds: finish != nil && options.returnTokenIds ? prompt : nil,
                                  tokenIds: tokenIds, toolCalls: toolCalls)
        }
        return Responses.completion(id: id, created: created, model: model, choice: Responses.Choice(
            text: text, finishReason: finish, logprobs: logprobs,
            promptTokenIds: finish != nil && options.returnTokenIds ? prompt : nil, tokenIds: tokenIds),
            usage: usage, adapter: adapter, steps: steps)
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
