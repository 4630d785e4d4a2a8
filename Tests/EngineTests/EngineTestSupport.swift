import Adapters
import Engine
import Foundation
import Model
import Synchronization
import Tokenization
import TestSupport

/// The fixture model, its tokenizer and adapters, shared by the engine tests.
enum EngineFixture {
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let tokenizer: Tokenizer = {
        do { return try Tokenizer.load(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let adapterNames = ["a0-r4-all", "a1-r8-qv", "a2-r16-all-rslora", "a3-r8-all-alpha24"]
    static let adapters: [String: AdapterBinding] = {
        var out: [String: AdapterBinding] = [:]
        for name in adapterNames {
            let dir = Fixtures.tinyLlama.appendingPathComponent("adapters").appendingPathComponent(name)
            do {
                let a = try PeftAdapter(directory: dir, model: model.config)
                out[name] = AdapterBinding(name: name, weights: a.weights)
            } catch { fatalError("\(error)") }
        }
        return out
    }()
    static let refs = References.tinyLlama
}

/// Collects one request's events; `wait()` returns its completion.
final class Collector: Sendable {
    private struct State {
        var tokens: [Int] = []
        var pieces: [String] = []
        var logprobs: [TokenLogprob] = []
        var promptLogprobs: [TokenLogprob]?
        var completion: Completion?
        var failure: EngineError?
    }
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    var sink: @Sendable (EngineEvent) -> Void {
        { [self] event in
            switch event {
            case .token(let id, let text, let lp):
                state.withLock { s in
                    if id >= 0 { s.tokens.append(id) }
                    s.pieces.append(text)
                    if let lp { s.logprobs.append(lp) }
                }
            case .promptLogprobs(let lps):
                state.withLock { $0.promptLogprobs = lps }
            case .finished(let c):
                state.withLock { $0.completion = c }
                done.signal()
            case .failed(let e):
                state.withLock { $0.failure = e }
                done.signal()
            }
        }
    }

    /// Waits for the end (at most `timeout` seconds); nil on timeout or failure.
    func wait(timeout: Double = 120) -> Completion? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        done.signal()   // later waits return at once
        return state.withLock { $0.completion }
    }

    var tokens: [Int] { state.withLock { $0.tokens } }
    var pieces: [String] { state.withLock { $0.pieces } }
    var logprobs: [TokenLogprob] { state.withLock { $0.logprobs } }
    var failure: EngineError? { state.withLock { $0.failure } }
    var promptLogprobs: [TokenLogprob]? { state.withLock { $0.promptLogprobs } }
}

extension Engine {
    /// Submits and waits; returns the collector.
    func run(_ request: GenerationRequest) throws -> Collector {
        let c = Collector()
        try submit(request, sink: c.sink)
        _ = c.wait()
        return c
    }
}
