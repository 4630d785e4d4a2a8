import Engine
import Foundation
import Grammar
import Synchronization
import Tokenization
import Wire

/// One prompt of a response: its tokens, the text `echo` puts before each of its choices, and how many choices it
/// gets (`n`) from how many candidates (`best_of`).
struct PromptPlan: Sendable {
    var tokens: [Int]
    var echoText: String
}

/// One response in the making: its choices (prompts x best_of engine requests) accumulate tokens, text and logprobs;
/// streamed as chunks with each choice's index, or answered whole at the end (best_of picks the n candidates of
/// each prompt with the highest cumulative logprob). Events arrive on the engine thread.
final class ChoiceStream: Sendable {
    private struct Candidate {
        var text = ""
        var tokens: [Int] = []
        var logprobs: [LogprobEntry] = []
        /// The prompt's entries when echoing with logprobs (first token: nil logprob).
        var promptLogprobs: [LogprobEntry] = []
        var cumulativeLogprob: Double = 0
        var sentRole = false
        var sentEcho = false
        var completion: Completion?
        /// Characters of `text` already streamed (with tools, text that could open a call is held back).
        var streamed = 0
    }
    private struct State {
        var candidates: [Candidate]
        var finished = 0
        var failed = false
    }
    private let service: APIService
    private let id: String
    private let model: String
    private let adapter: String?
    private let chat: Bool
    private let options: GenerationOptions
    private let prompts: [PromptPlan]
    private let reply: APIReply
    /// The format tool calls come in (chat with tools): calls are parsed out of each choice's text at its end.
    private let toolFormat: ToolCallFormat?
    private let created = Int(Date().timeIntervalSince1970)
    private let state: Mutex<State>
    /// The engine requests of the candidates, cancelled together (client gone, one failed).
    let handles = Mutex<[RequestHandle]>([])
    /// Called once when the whole response ends (finished or failed): gives its adapter back to the pool.
    private let onEnd: @Sendable () -> Void
    /// Orders event handling: until `goLive`, events are held (the response has not started yet).
    private let gate = NSLock()
    // `live` and `held` are only touched under `gate`.
    private nonisolated(unsafe) var live = false
    private nonisolated(unsafe) var held: [(Int, EngineEvent)] = []

    init(service: APIService, id: String, model: String, adapter: String?, chat: Bool, options: GenerationOptions,
         prompts: [PromptPlan], reply: APIReply, toolFormat: ToolCallFormat? = nil, onEnd: @escaping @Sendable () -> Void) {
        self.toolFormat = toolFormat
        self.service = service
        self.id = id
        self.model = model
        self.adapter = adapter
        self.chat = chat
        self.options = options
        self.prompts = prompts
        self.reply = reply
        self.onEnd = onEnd
        state = Mutex(State(candidates: Array(repeating: Candidate(), count: prompts.count * options.bestOf)))
    }

    var candidateCount: Int { prompts.count * options.bestOf }
    func prompt(ofCandidate c: Int) -> Int { c / options.bestOf }

    /// The sink of candidate `c`'s engine request.
    func sink(_ c: Int) -> @Sendable (EngineEvent) -> Void { { [self] event in receive(c, event) } }

    private func receive(_ c: Int, _ event: EngineEvent) {
        gate.lock()
        defer { gate.unlock() }
        guard live else {
            held.append((c, event))
            return
        }
        handle(c, event)
    }

    /// The response has started: replays held events, then handles the rest as they come.
    func goLive() {
        gate.lock()
        defer { gate.unlock() }
        live = true
        for (c, e) in held { handle(c, e) }
        held = []
    }

    private func entry(_ token: Int, _ lp: TokenLogprob?, offset: Int) -> LogprobEntry {
        let t = service.tokenizer
        return LogprobEntry(token: t.decode([token]), logprob: lp?.logprob,
                            top: lp.map { $0.top.map { (t.decode([$0.token]), $0.logprob) } }, textOffset: offset)
    }

    private func handle(_ c: Int, _ event: EngineEvent) {
        if state.withLock({ $0.failed }) { return }
        switch event {
        case .promptLogprobs(let lps):
            guard options.echo && options.logprobs != nil else { return }
            let tokens = prompts[prompt(ofCandidate: c)].tokens
            var offset = 0
            var entries: [LogprobEntry] = []
            for (i, token) in tokens.enumerated() {
                entries.append(entry(token, i == 0 ? nil : lps[i - 1], offset: offset))
                // Offsets into the echoed text, which has no special tokens (BOS).
                offset += service.tokenizer.decode([token], skipSpecialTokens: true).count
            }
            state.withLock { $0.candidates[c].promptLogprobs = entries }
        case .token(let token, let text, let lp):
            let echoText = options.echo ? prompts[prompt(ofCandidate: c)].echoText : ""
            let e = lp.map { lp in state.withLock { s in entry(token, lp, offset: echoText.count + s.candidates[c].text.count) } }
            let send = state.withLock { s -> String in
                if token >= 0 { s.candidates[c].tokens.append(token) }
                s.candidates[c].text += text
                if let e { s.candidates[c].logprobs.append(e); s.candidates[c].cumulativeLogprob += Double(e.logprob ?? 0) }
                guard let toolFormat else { return text }
                let upTo = toolFormat.streamableLength(s.candidates[c].text)
                guard upTo > s.candidates[c].streamed else { return "" }
                defer { s.candidates[c].streamed = upTo }
                return String(Array(s.candidates[c].text)[s.candidates[c].streamed..<upTo])
            }
            if options.stream && (!send.isEmpty || e != nil) {
                sendEchoIfDue(c)
                reply.send(Responses.sse(chunk(choice: c, text: send, logprobs: options.logprobs == nil ? nil : e.map { [$0] }, finish: nil)))
            }
        case .finished(let completion):
            let all = state.withLock { s -> Bool in
                s.candidates[c].completion = completion
                s.finished += 1
                return s.finished == s.candidates.count
            }
            var finish = Self.reason(completion)
            if options.stream, let toolFormat {
                // The held-back rest: content not yet sent (all of it when there were no calls), then the calls.
                let (content, calls) = Self.toolCalls(toolFormat, completion)
                let streamed = state.withLock { $0.candidates[c].streamed }
                let rest = calls.isEmpty ? String(Array(completion.text).dropFirst(streamed))
                    : String(Array(content ?? "").dropFirst(min(streamed, (content ?? "").count)))
                if !rest.isEmpty { reply.send(Responses.sse(chunk(choice: c, text: rest, logprobs: nil, finish: nil))) }
                if !calls.isEmpty {
                    reply.send(Responses.sse(chunk(choice: c, text: "", logprobs: nil, finish: nil,
                                                   toolCalls: ToolCallFormat.openAI(calls, requestId: "\(id)_\(c)", streamed: true))))
                    if completion.reason == .stop { finish = "tool_calls" }
                }
            }
            if options.stream {
                sendEchoIfDue(c)
                reply.send(Responses.sse(chunk(choice: c, text: "", logprobs: nil, finish: finish,
                                               steps: completion.steps,
                                               tokenIds: options.returnTokenIds ? completion.generatedTokens : nil)))
            }
            if all { finishAll() }
        case .failed(let error):
            state.withLock { $0.failed = true }
            handles.withLock { $0 }.forEach { $0.cancel() }
            onEnd()
            if options.stream {
                reply.send(Responses.sse(APIError.server(error.message).body))
                reply.end()
            } else {
                reply.fail(APIService.apiError(error))
            }
        }
    }

    static func reason(_ c: Completion) -> String { c.reason == .cancelled ? "cancelled" : c.reason.rawValue }

    /// A finished choice's text split into content and tool calls.
    static func toolCalls(_ format: ToolCallFormat, _ c: Completion) -> (content: String?, calls: [ParsedToolCall]) {
        format.parse(c.text)
    }

    /// Streams `echo`'s prompt text (and its logprobs) as a choice's first chunk.
    private func sendEchoIfDue(_ c: Int) {
        guard options.echo else { return }
        let entries: [LogprobEntry]? = state.withLock { s in
            guard !s.candidates[c].sentEcho else { return nil }
            s.candidates[c].sentEcho = true
            return s.candidates[c].promptLogprobs
        }
        guard let entries else { return }
        reply.send(Responses.sse(chunk(choice: c, text: prompts[prompt(ofCandidate: c)].echoText,
                                       logprobs: options.logprobs == nil ? nil : entries, finish: nil)))
    }

    /// Every candidate is done: the usage chunk and [DONE], or the whole response.
    func finishAll() {
        onEnd()
        let s = state.withLock { $0 }
        let usage = Responses.Usage(promptTokens: prompts.reduce(0) { $0 + $1.tokens.count },
                                    completionTokens: s.candidates.reduce(0) { $0 + ($1.completion?.generatedTokens.count ?? 0) })
        let steps = s.candidates.reduce(0) { $0 + ($1.completion?.steps ?? 0) }
        if options.stream {
            if options.includeUsage {
                reply.send(Responses.sse(Responses.usageChunk(id: id, created: created, model: model, chat: chat, usage: usage)))
            }
            reply.send(Responses.sseDone)
            reply.end()
            return
        }
        // Per prompt, the n candidates with the highest cumulative logprob (all of them, in order, without best_of).
        var choices: [Responses.Choice] = []
        for p in prompts.indices {
            var ids = Array((p * options.bestOf)..<((p + 1) * options.bestOf))
            if options.bestOf > options.n {
                ids = Array(ids.sorted { s.candidates[$0].cumulativeLogprob > s.candidates[$1].cumulativeLogprob }.prefix(options.n))
            }
            for c in ids {
                let cand = s.candidates[c]
                let echo = options.echo ? prompts[p].echoText : ""
                let completion = cand.completion
                var text = echo + (completion?.text ?? cand.text)
                var finish = completion.map(Self.reason)
                var calls: [[String: Any]]?
                if let toolFormat, let completion {
                    let parsed = Self.toolCalls(toolFormat, completion)
                    if !parsed.calls.isEmpty {
                        text = parsed.content ?? ""
                        calls = ToolCallFormat.openAI(parsed.calls, requestId: "\(id)_\(c)", streamed: false)
                        if completion.reason == .stop { finish = "tool_calls" }
                    }
                }
                choices.append(Responses.Choice(
                    text: text, finishReason: finish,
                    logprobs: options.logprobs == nil ? nil : cand.promptLogprobs + cand.logprobs,
                    promptTokenIds: options.returnTokenIds ? prompts[p].tokens : nil,
                    tokenIds: options.returnTokenIds ? completion?.generatedTokens ?? cand.tokens : nil, toolCalls: calls))
            }
        }
        let body = Responses.response(id: id, created: created, model: model, chat: chat, choices: choices, usage: usage,
                                      adapter: adapter, steps: steps)
        reply.respond(status: 200, contentType: "application/json", body: body)
    }

    private func chunk(choice c: Int, text: String, logprobs: [LogprobEntry]?, finish: String?, steps: Int? = nil,
                       tokenIds: [Int]? = nil, toolCalls: [[String: Any]]? = nil) -> [UInt8] {
        let index = c   // streaming never ranks (best_of with stream is refused): candidate c is choice c
        let first = chat && state.withLock { s -> Bool in defer { s.candidates[c].sentRole = true }; return !s.candidates[c].sentRole }
        let p = prompts[prompt(ofCandidate: c)]
        let choice = Responses.Choice(text: text, finishReason: finish, logprobs: logprobs,
                                      promptTokenIds: finish != nil && options.returnTokenIds ? p.tokens : nil,
                                      tokenIds: tokenIds, toolCalls: toolCalls)
        return Responses.chunk(id: id, created: created, model: model, chat: chat, index: index, choice: choice,
                               role: first, adapter: adapter, steps: steps)
    }
}
