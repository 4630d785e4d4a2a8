import Adapters
import Engine
import Foundation
import Kernels
import Model
import Synchronization

/// `lorad bench serve`: C concurrent clients against the engine (in process), requests spread over K adapters;
/// throughput, time to first token and inter-token latency percentiles at each concurrency.
func benchServe(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "concurrency", "adapters", "rank", "prompt-tokens", "new-tokens",
                                          "requests-per-client", "threads", "max-batch-tokens"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let levels = try a.intList("concurrency") ?? [1, 4, 16, 64]
    let adapterCount = try a.int("adapters") ?? 4
    let rank = try a.int("rank") ?? 16
    let promptTokens = try a.int("prompt-tokens") ?? 64
    let newTokens = try a.int("new-tokens") ?? 32
    let perClient = try a.int("requests-per-client") ?? 2
    guard levels.allSatisfy({ $0 >= 1 && $0 <= 1024 }) else { throw UsageError("--concurrency values must be 1...1024") }
    guard adapterCount >= 0, promptTokens >= 1, newTokens >= 1, perClient >= 1 else { throw UsageError("bad bench options") }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)

    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let model = try LoadedModel(directory: dir)
    let adapters = try adapterCount == 0 ? [] : benchAdapters(model: model, directory: dir, count: adapterCount, rank: rank)
    var config = EngineConfiguration()
    if let t = try a.int("max-batch-tokens") { config.maxBatchTokens = t }
    config.maxRunning = max(config.maxRunning, levels.max() ?? 1)
    let engine = Engine(model: model, tokenizer: nil, configuration: config)
    defer { engine.shutdown() }

    // Warm-up outside the timings: the engine measures its step cost when it starts (for `auto` lookahead), and
    // first-touch page faults of the KV pool and the adapters belong to no concurrency level.
    log("warm-up")
    _ = try runClients(engine: engine, model: model, adapters: adapters, clients: 1, perClient: 1,
                       promptTokens: promptTokens, newTokens: 2)
    var results: [[String: Any]] = []
    for c in levels {
        log("concurrency \(c): \(c * perClient) requests of \(promptTokens) prompt + \(newTokens) new tokens over \(adapters.count) adapters")
        let r = try runClients(engine: engine, model: model, adapters: adapters, clients: c, perClient: perClient,
                               promptTokens: promptTokens, newTokens: newTokens)
        results.append(r.merging(["concurrency": c]) { $1 })
        if !a.has("json") {
            print(String(format: "C=%3d  %8.2f tokens/s   TTFT p50 %7.3f s  p99 %7.3f s   ITL p50 %7.3f s  p99 %7.3f s",
                         c, r["tokens_per_s"] as! Double, r["ttft_p50_s"] as! Double, r["ttft_p99_s"] as! Double,
                         r["itl_p50_s"] as! Double, r["itl_p99_s"] as! Double))
        }
    }
    if a.has("json") {
        try printBenchJSON(["scenario": "serve", "model": dir.lastPathComponent, "adapters": adapters.count, "rank": rank,
                       "prompt_tokens": promptTokens, "new_tokens": newTokens, "threads": Parallel.threads,
                       "max_batch_tokens": engine.configuration.maxBatchTokens, "results": results])
    }
}

/// Runs `clients` closed-loop clients, each sending `perClient` requests one after another.
private func runClients(engine: Engine, model: LoadedModel, adapters: [PeftAdapter], clients: Int, perClient: Int,
                        promptTokens: Int, newTokens: Int) throws -> [String: Any] {
    struct Timing { var ttft: [Double] = []; var itl: [Double] = []; var tokens = 0 }
    let timing = Mutex(Timing())
    let vocab = model.config.vocabSize
    let start = DispatchTime.now().uptimeNanoseconds
    let group = DispatchGroup()
    let failures = Mutex<[String]>([])
    for client in 0..<clients {
        group.enter()
        Thread {
            defer { group.leave() }
            var rng = SeededGenerator(seed: UInt64(client * 7919 + 1))
            for i in 0..<perClient {
                let prompt = (0..<promptTokens).map { _ in Int(rng.next() % UInt64(vocab)) }
                let adapter = adapters.isEmpty ? nil : adapters[(client + i) % adapters.count]
                let request = GenerationRequest(
                    tenant: "tenant-\(client % 4)", promptTokens: prompt,
                    adapter: adapter.map { AdapterBinding(name: $0.name, weights: $0.weights) },
                    maxTokens: newTokens)
                let done = DispatchSemaphore(value: 0)
                let submitted = DispatchTime.now().uptimeNanoseconds
                let last = Mutex<UInt64>(0)
                do {
                    try engine.submit(request) { event in
                        let now = DispatchTime.now().uptimeNanoseconds
                        switch event {
                        case .token(let id, _, _) where id >= 0:
                            let previous = last.withLock { p -> UInt64 in defer { p = now }; return p }
                            timing.withLock { t in
                                if previous == 0 { t.ttft.append(Double(now - submitted) / 1e9) }
                                else { t.itl.append(Double(now - previous) / 1e9) }
                                t.tokens += 1
                            }
                        case .finished, .failed: done.signal()
                        default: break
                        }
                    }
                    done.wait()
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }.start()
    }
    group.wait()
    if let f = failures.withLock({ $0.first }) { throw CommandError("bench request failed: \(f)") }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let t = timing.withLock { $0 }
    func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
    return ["tokens_per_s": Double(t.tokens) / seconds, "requests": clients * perClient, "seconds": seconds,
            "ttft_p50_s": percentile(t.ttft, 0.5), "ttft_p99_s": percentile(t.ttft, 0.99),
            "itl_p50_s": percentile(t.itl, 0.5), "itl_p99_s": percentile(t.itl, 0.99)]
}
