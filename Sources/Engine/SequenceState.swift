import Foundation
import Model
import Synchronization
import Tokenization

/// A handle on a submitted request: its id and a way to cancel it. Cancelling is safe from any thread; the engine
/// drops the sequence and frees its KV cache at its next step.
public final class RequestHandle: Sendable {
    public let id: UInt64
    private let cancelled = Atomic<Bool>(false)

    init(id: UInt64) { self.id = id }

    public func cancel() { cancelled.store(true, ordering: .releasing) }
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

/// One request's state inside the engine. Owned by the engine thread.
final class SequenceState {
    let handle: RequestHandle
    let request: GenerationRequest
    let sink: @Sendable (EngineEvent) -> Void
    let submittedAtStep: Int
    var cache: KVCache?
    /// Prompt tokens whose K/V are committed (prefill progress).
    var prefilled = 0
    var generated: [Int] = []
    /// The token to feed in the next decode step (the last generated one).
    var pendingToken: Int?
    /// Why the sequence failed (it then ends with `.failed`, not `.finished`).
    var failure: EngineError?
    var sampler: Sampler
    /// Every row a token is chosen from passes through it first (penalties, bias, min_tokens, constraints).
    let processor: LogitsProcessor
    /// Window, n-gram pool and acceptance of lookahead decoding, from the first decode step (nil: plain).
    var lookahead: LookaheadState?
    var decoder: StreamingDecoder?
    var stopMatcher: StopMatcher
    var steps = 0
    var firstTokenAtStep = -1
    /// The tokens whose K/V must be in the cache before the next decode step: the prompt, or after a preemption
    /// (its KV freed for others) the prompt and every generated token but the pending one, recomputed.
    var context: [Int]
    /// Times this sequence's KV was freed to make room and recomputed.
    var preemptions = 0
    /// The other choices of this prompt (`Engine.submit(group:)`), started when the prompt's prefill ends.
    var forks: [(request: GenerationRequest, sink: @Sendable (EngineEvent) -> Void)] = []
    /// Prompt logprobs gathered chunk by chunk during the first prefill (`request.promptLogprobs`).
    var promptLogprobs: [TokenLogprob] = []

    init(handle: RequestHandle, request: GenerationRequest, tokenizer: Tokenizer?, submittedAtStep: Int,
         sink: @escaping @Sendable (EngineEvent) -> Void) {
        self.handle = handle
        self.request = request
        self.sink = sink
        self.submittedAtStep = submittedAtStep
        sampler = Sampler(request.sampling)
        processor = LogitsProcessor(controls: request.controls, stopTokenIds: request.stopTokenIds,
                                    promptTokens: request.promptTokens, constraint: request.constraint?())
        decoder = tokenizer?.makeStreamingDecoder(skipSpecialTokens: true)
        stopMatcher = StopMatcher(stops: request.stop)
        context = request.promptTokens
    }

    var tenant: String { request.tenant }
    var isPrefilling: Bool { prefilled < context.count }
    /// This step's prefill rows all need logits (prompt logprobs; a recomputation after preemption needs none).
    var wantsPromptLogits: Bool { request.promptLogprobs != nil && isPrefilling && generated.isEmpty }

    /// Reports a failure to this sequence's client and to those of its forks not started yet.
    func fail(_ error: EngineError) {
        sink(.failed(error))
        for f in forks { f.sink(.failed(error)) }
    }

    /// Frees the KV cache; the sequence recomputes it (prompt + generated tokens) when it runs again.
    func preempt() {
        cache = nil
        prefilled = 0
        context = request.promptTokens + generated.dropLast()
        if generated.isEmpty { promptLogprobs = [] }
        preemptions += 1
    }
    /// Identity of the adapter weights, for grouping rows into segments (nil: base model).
    var adapterKey: ObjectIdentifier? { request.adapter.map { ObjectIdentifier($0.weights) } }
}
