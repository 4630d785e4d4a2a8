import Foundation
import Model
import Synchronization
import Tokenization

/// Engine limits, sized for the machine at start-up (`lorad serve --max-batch-tokens`).
public struct EngineConfiguration: Sendable {
    /// Rows per forward pass: decode rows first, the rest filled with prompt chunks.
    public var maxBatchTokens: Int = 256
    /// Sequences decoding at once.
    public var maxRunning: Int = 64
    /// Requests queued or running across all tenants; beyond it submissions are refused (503).
    public var maxQueued: Int = 4096
    /// Concurrent requests per tenant when `tenantLimit` says nothing (429 beyond it).
    public var defaultTenantConcurrency: Int = 64
    /// Per-tenant concurrent request limit (from the registry); nil: the default.
    public var tenantLimit: @Sendable (String) -> Int? = { _ in nil }
    /// Called on the engine thread when the KV cache needs `pages` more pool pages than are free: frees what it
    /// can (idle adapters) and returns how many pages it freed.
    public var reclaim: @Sendable (_ pages: Int) -> Int = { _ in 0 }
    /// What requests asking for `auto` lookahead get (`lorad serve --lookahead`): `auto` (budgeted), `off`, or a shape.
    public var lookahead: LookaheadMode = .auto
    /// The shape `auto` runs when the budget allows.
    public var autoShape: LookaheadShape = .automatic
    /// Step time against rows, for `auto` lookahead; nil: measured when the engine starts (about a second).
    public var stepCost: StepCostModel?
    public var calibrationSeconds: Double = 1.5
    /// Called on the engine thread with each step's composition (tests assert on what the engine schedules).
    public var stepObserver: (@Sendable (StepRecord) -> Void)?

    public init() {}
}

/// Counters the metrics endpoint reads.
public struct EngineStats: Sendable {
    public var running = 0
    public var waiting = 0
    public var steps = 0
    public var tokensGenerated = 0
    public var promptTokens = 0
    public var requestsFinished: [CompletionReason: Int] = [:]
    /// Step wall time histogram: upper bounds in seconds and cumulative counts (Prometheus style).
    public static let stepBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public var stepBucketCounts = [Int](repeating: 0, count: EngineStats.stepBuckets.count + 1)
    public var stepSecondsSum = 0.0
    public var activeByTenant: [String: Int] = [:]
    /// Sequences whose KV cache was freed to make room (and recomputed later).
    public var preemptions = 0
    /// Lookahead: steps of sequences that ran lookahead rows, the rows they added, the tokens beyond one per step
    /// they gained, and the step cost model in use.
    public var lookaheadSequenceSteps = 0
    public var lookaheadRows = 0
    public var lookaheadExtraTokens = 0
    public var stepCost: StepCostModel?
}

/// The rows of one engine step, by kind.
public struct StepRecord: Sendable {
    public var rows: Int
    public var rowLimit: Int
    /// Decoding sequences (one input row each, lookahead or not).
    public var decodeSequences: Int
    public var prefillRows: Int
    /// Rows beyond the input row of sequences decoding with lookahead, and how many such sequences.
    public var lookaheadRows: Int
    public var lookaheadSequences: Int
}

/// Continuous batching: one thread runs forward passes back to back over every running sequence. A request joins at
/// the next step and leaves as soon as it finishes; prompts are prefilled in chunks next to decode rows; tenants
/// share step tokens fairly. Submit and cancel from any thread; events arrive on the engine thread.
public final class Engine: Sendable {
    public let model: LoadedModel
    public let tokenizer: Tokenizer?
    public let configuration: EngineConfiguration

    private struct Inbox {
        var pending: [SequenceState] = []
        var nextId: UInt64 = 1
        var active: [String: Int] = [:]    // tenant -> queued + running requests
        var total = 0
        var accepting = true
        var shuttingDown = false
    }
    private let inbox = Mutex(Inbox())
    private let stats = Mutex(EngineStats())
    private let wakeup = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    public init(model: LoadedModel, tokenizer: Tokenizer?, configuration: EngineConfiguration = EngineConfiguration()) {
        self.model = model
        self.tokenizer = tokenizer
        var c = configuration
        c.maxBatchTokens = max(1, c.maxBatchTokens)
        c.maxRunning = max(1, c.maxRunning)
        self.configuration = c
        let thread = Thread { [self] in
            let loop = EngineLoop(engine: self)
            loop.run()
            self.stopped.signal()
        }
        thread.name = "lorad-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a request. Throws when it can never run (invalid, too long for the context) or when the tenant or the
    /// engine is at its limit. `sink` receives the request's events on the engine thread.
    @discardableResult
    public func submit(_ request: GenerationRequest, sink: @escaping @Sendable (EngineEvent) -> Void) throws -> RequestHandle {
        try submit(group: [(request, sink)])
    }

    /// Queues the choices of one prompt: requests with the same prompt, adapter and prompt logprobs (their seeds,
    /// sinks and other options may differ). The prompt is prefilled once; when it ends, the others start on its KV
    /// pages, shared copy-on-write. Each counts as one request against the limits; one handle cancels them all.
    @discardableResult
    public func submit(group: [(request: GenerationRequest, sink: @Sendable (EngineEvent) -> Void)]) throws -> RequestHandle {
        guard let (request, sink) = group.first else { throw EngineError(.invalid, "no request") }
        for member in group {
            try validate(member.request)
            let r = member.request
            guard r.promptTokens == request.promptTokens, r.tenant == request.tenant,
                  r.adapter?.weights === request.adapter?.weights, r.adapter?.scale == request.adapter?.scale,
                  r.promptLogprobs == request.promptLogprobs else {
                throw EngineError(.invalid, "the requests of a group must share their prompt, tenant and adapter")
            }
        }
        let limit = configuration.tenantLimit(request.tenant) ?? configuration.defaultTenantConcurrency
        guard group.count <= limit else {
            throw EngineError(.invalid, "\(group.count) choices of one prompt exceed tenant \"\(request.tenant)\"'s limit of \(limit) concurrent requests")
        }
        let handle: RequestHandle = try inbox.withLock { box in
            guard box.accepting else { throw EngineError(.unavailable, "the server is shutting down") }
            guard box.total + group.count <= configuration.maxQueued else {
                throw EngineError(.unavailable, "the server has \(box.total) requests queued; try again later")
            }
            guard box.active[request.tenant, default: 0] + group.count <= limit else {
                throw EngineError(.rateLimited, "tenant \"\(request.tenant)\" already has \(box.active[request.tenant, default: 0]) requests running (its limit is \(limit))")
            }
            let handle = RequestHandle(id: box.nextId)
            box.nextId += 1
            box.active[request.tenant, default: 0] += group.count
            box.total += group.count
            let step = stats.withLock { $0.steps }
            let leader = SequenceState(handle: handle, request: request, tokenizer: tokenizer, submittedAtStep: step, sink: sink)
            leader.forks = group.dropFirst().map { ($0.request, $0.sink) }
            box.pending.append(leader)
            return handle
        }
        wakeup.signal()
        return handle
    }

    private func validate(_ r: GenerationRequest) throws {
        let c = model.config
        guard !r.promptTokens.isEmpty else { throw EngineError(.invalid, "the prompt is empty") }
        if let bad = r.promptTokens.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw EngineError(.invalid, "prompt token id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        guard r.maxTokens >= 0 else { throw EngineError(.invalid, "max_tokens must not be negative") }
        guard r.promptTokens.count + r.maxTokens <= c.maxPositions else {
            throw EngineError(.tooLarge, "the prompt (\(r.promptTokens.count) tokens) plus max_tokens (\(r.maxTokens)) exceeds the model's context of \(c.maxPositions) tokens")
        }
        guard r.logprobs >= 0, r.logprobs <= 20 else { throw EngineError(.invalid, "logprobs must be in 0...20") }
        if let p = r.promptLogprobs, !(0...20).contains(p) { throw EngineError(.invalid, "prompt logprobs must be in 0...20") }
        if let bad = (Array(r.stopTokenIds) + Array(r.controls.logitBias.keys)).first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw EngineError(.invalid, "token id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        let allocator = model.transformer.kvAllocator
        if let pool = allocator.pool {
            let blocks = allocator.blocks(forPositions: r.promptTokens.count + r.maxTokens)
            guard blocks <= pool.pageCount else {
                throw EngineError(.tooLarge, "the prompt (\(r.promptTokens.count) tokens) plus max_tokens (\(r.maxTokens)) needs \(blocks) KV pages; the memory pool has \(pool.pageCount) pages in all (raise --pool-memory)")
            }
        }
        if let a = r.adapter, a.weights.pairs.count != c.layerCount {
            throw EngineError(.invalid, "adapter \"\(a.name)\" does not fit the base model")
        }
    }

    public var statistics: EngineStats { stats.withLock { $0 } }

    /// Stops accepting requests and waits (up to `timeout`) for every queued and running request to finish.
    /// Returns true when all finished in time.
    public func drain(timeout: Double) -> Bool {
        inbox.withLock { $0.accepting = false }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if inbox.withLock({ $0.total }) == 0 { return true }
            usleep(10_000)
        }
        return inbox.withLock { $0.total } == 0
    }

    /// Ends the engine thread after the current step; unfinished requests are cancelled.
    public func shutdown() {
        let wasRunning = inbox.withLock { box -> Bool in
            defer { box.shuttingDown = true; box.accepting = false }
            return !box.shuttingDown
        }
        guard wasRunning else { return }
        wakeup.signal()
        stopped.wait()
    }

    // MARK: engine-thread interface

    /// New submissions; blocks while the engine has nothing to do. nil when shutting down (what was submitted but
    /// not taken stays for `takeLeftovers`).
    func takePending(idle: Bool) -> [SequenceState]? {
        while true {
            let (batch, down) = inbox.withLock { box -> ([SequenceState], Bool) in
                if box.shuttingDown { return ([], true) }
                defer { box.pending.removeAll() }
                return (box.pending, false)
            }
            if down { return nil }
            if !batch.isEmpty || !idle { return batch }
            wakeup.wait()
        }
    }

    /// After shutdown: the submissions the engine never took (submitted just before it stopped), to be cancelled
    /// like the rest. Without this their streams never ended.
    func takeLeftovers() -> [SequenceState] {
        inbox.withLock { box in
            defer { box.pending.removeAll() }
            return box.pending
        }
    }

    func finished(_ tenant: String) {
        inbox.withLock { box in
            box.active[tenant, default: 1] -= 1
            if box.active[tenant] == 0 { box.active[tenant] = nil }
            box.total -= 1
        }
    }

    func updateStats(_ body: (inout EngineStats) -> Void) { stats.withLock { body(&$0) } }
}
