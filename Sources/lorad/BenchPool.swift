import Adapters
import Engine
import Foundation
import Kernels
import Model
import ModelFactory
import Safetensors
import Server
import Synchronization

/// `lorad bench pool`: many registered adapters (ranks mixed), Zipf-distributed popularity, a pool that holds only
/// `--resident-budget` of them; throughput against the same traffic with every adapter it uses resident, and the
/// cold-load time of an adapter against the raw time to read its bytes from disk, in the same run.
func benchPool(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "registered", "resident-budget", "zipf", "requests", "concurrency",
                                          "ranks", "targets", "prompt-tokens", "new-tokens", "adapter-dir", "threads"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let registered = try a.int("registered") ?? 1000
    let budget = try a.int("resident-budget") ?? 32
    let zipf = try a.double("zipf") ?? 1.0
    let requests = try a.int("requests") ?? 256
    let concurrency = try a.int("concurrency") ?? 16
    let ranks = try a.intList("ranks") ?? [8, 16, 32, 64]
    let targets = (a.string("targets") ?? "q_proj,v_proj").split(separator: ",").map(String.init)
    let promptTokens = try a.int("prompt-tokens") ?? 16
    let newTokens = try a.int("new-tokens") ?? 16
    guard registered >= 1, budget >= 1, requests >= 1, concurrency >= 1, zipf >= 0, !ranks.isEmpty,
          ranks.allSatisfy({ (1...256).contains($0) }) else { throw UsageError("bad bench pool options") }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)

    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let model = try LoadedModel(directory: dir)
    let c = model.config
    let adapterDir = URL(fileURLWithPath: a.string("adapter-dir") ?? dir.appendingPathComponent("pool-adapters").path)
    let shape = ModelShape(config: c, name: "bench")
    var written: [URL] = []
    for i in 0..<registered {
        let rank = ranks[i % ranks.count]
        let path = adapterDir.appendingPathComponent(String(format: "a%04d-r%d", i, rank))
        if !FileManager.default.fileExists(atPath: path.appendingPathComponent("adapter_model.safetensors").path) {
            if i % 50 == 0 { log("writing adapters \(i)..<\(min(registered, i + 50)) into \(adapterDir.path)") }
            try ModelWriter.writeAdapter(shape: shape, rank: rank, alpha: Double(2 * rank), targets: targets,
                                         seed: UInt64(90_000 + i), dtype: .bf16, to: path)
        }
        written.append(path)
    }
    let paths = written

    // The traffic: Zipf popularity over the registered adapters (seeded), random prompts.
    var rng = SeededGenerator(seed: 42)
    let weights = (1...registered).map { 1 / pow(Double($0), zipf) }
    let cumulative = weights.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1) }
    let order = Array(0..<registered).shuffled(using: &rng)   // popularity rank -> adapter
    let traffic = (0..<requests).map { _ -> (adapter: Int, prompt: [Int]) in
        let u = Double(rng.next() >> 11) / Double(1 << 53) * cumulative.last!
        let k = cumulative.firstIndex { $0 >= u } ?? registered - 1
        return (order[k], (0..<promptTokens).map { _ in Int(rng.next() % UInt64(c.vocabSize)) })
    }
    let used = Set(traffic.map(\.adapter))
    log("\(requests) requests over \(used.count) distinct adapters of \(registered) (zipf \(zipf))")

    // Page size and pages per adapter (averaged over the rank mix).
    let kv = model.transformer.kvAllocator
    let rankRow = Projection.allCases.map { p -> Int in let s = p.shape(c); return (s.input + s.output) * 4 }.max() ?? 0
    let pageBytes = max(kv.bytesPerBlock, rankRow)
    var pagesByRank: [Int: Int] = [:]
    for r in Set(ranks) {
        let i = ranks.firstIndex(of: r)!
        let adapter = try PeftAdapterFiles(directory: paths[i], model: c)
        pagesByRank[r] = try PooledAdapter.pagesNeeded(adapter, pageBytes: pageBytes, config: c)
    }
    let avgPages = ranks.map { pagesByRank[$0]! }.reduce(0, +) / ranks.count
    let kvPages = concurrency * kv.blocks(forPositions: promptTokens + newTokens) * 2
    let smallPool = PagePool(budgetBytes: (budget * avgPages + kvPages) * pageBytes, pageBytes: pageBytes)
    kv.attach(smallPool)
    var config = EngineConfiguration()
    config.maxRunning = max(config.maxRunning, concurrency)
    let residency = AdapterResidency(modelConfig: c, pool: smallPool, waitSeconds: 600)
    config.reclaim = { residency.evictIdle(pages: $0) }
    let engine = Engine(model: model, tokenizer: nil, configuration: config)
    defer { engine.shutdown() }

    func run(_ residency: AdapterResidency) throws -> Double {
        let next = Mutex(0)
        let tokens = Mutex(0)
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<concurrency {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    let i = next.withLock { n -> Int in defer { n += 1 }; return n }
                    guard i < traffic.count else { return }
                    let (index, prompt) = traffic[i]
                    let key = paths[index].path
                    do {
                        let pooled = try residency.acquire(key: key) { try PeftAdapterFiles(directory: paths[index], model: c) }
                        defer { residency.release(key: key) }
                        let done = DispatchSemaphore(value: 0)
                        try engine.submit(GenerationRequest(promptTokens: prompt,
                                                            adapter: AdapterBinding(name: pooled.name, weights: pooled.weights),
                                                            maxTokens: newTokens)) { event in
                            switch event {
                            case .token(let id, _, _) where id >= 0: tokens.withLock { $0 += 1 }
                            case .finished, .failed: done.signal()
                            default: break
                            }
                        }
                        done.wait()
                    } catch { failures.withLock { $0.append("\(error)") } }
                }
            }.start()
        }
        group.wait()
        if let f = failures.withLock({ $0.first }) { throw CommandError("bench request failed: \(f)") }
        return Double(tokens.withLock { $0 }) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    log("paged: pool of \(smallPool.pageCount) pages (\(budget) adapters of ~\(avgPages) pages + KV), cold adapters load on demand")
    let paged = try run(residency)
    let counts = residency.counts
    // All resident: the same traffic with every adapter it uses loaded beforehand into a pool that holds them all.
    let bigPool = PagePool(budgetBytes: (used.count * (pagesByRank.values.max() ?? 1) + kvPages) * pageBytes,
                           pageBytes: pageBytes)
    let everything = AdapterResidency(modelConfig: c, pool: bigPool)
    log("all resident: loading \(used.count) adapters")
    for i in used { _ = try everything.load(key: paths[i].path) { try PeftAdapterFiles(directory: paths[i], model: c) } }
    // The KV cache still comes from the small pool's allocator; it only ever holds KV now.
    residency.evictIdle(pages: Int.max)
    let resident = try run(everything)

    // Cold load against a raw read of the same bytes, each from a cold page cache (posix_fadvise DONTNEED), over
    // 16 adapters, the two taken in turn first (the disk and the cores are shared, so order must not favour one).
    var coldRatios: [(cold: Double, raw: Double)] = []
    for (n, i) in Array(used.prefix(16)).enumerated() {
        let files = ["adapter_config.json", "adapter_model.safetensors"].map { paths[i].appendingPathComponent($0).path }
        let probe = AdapterResidency(modelConfig: c, pool: bigPool)
        func rawRead() -> Double {
            dropCache(files)
            return time { for f in files { _ = FileManager.default.contents(atPath: f) } }
        }
        func coldLoad() throws -> Double {
            dropCache(files)
            defer { probe.evictIdle(pages: Int.max) }
            return try time { _ = try probe.load(key: "probe") { try PeftAdapterFiles(directory: paths[i], model: c) } }
        }
        if n % 2 == 0 {
            let raw = rawRead()
            coldRatios.append((try coldLoad(), raw))
        } else {
            let cold = try coldLoad()
            coldRatios.append((cold, rawRead()))
        }
    }
    let coldMedian = coldRatios.map(\.cold).sorted()[coldRatios.count / 2]
    let rawMedian = coldRatios.map(\.raw).sorted()[coldRatios.count / 2]

    let result: [String: Any] = [
        "scenario": "pool", "model": dir.lastPathComponent, "registered": registered, "resident_budget": budget,
        "zipf": zipf, "requests": requests, "concurrency": concurrency, "distinct_adapters": used.count,
        "ranks": ranks, "targets": targets, "pool_pages": smallPool.pageCount, "page_bytes": pageBytes,
        "tokens_per_s": paged, "all_resident_tokens_per_s": resident, "ratio": paged / resident,
        "loads": counts.loads, "evictions": counts.evictions,
        "cold_load_s": coldMedian, "raw_read_s": rawMedian, "cold_over_raw": coldMedian / rawMedian,
    ]
    if a.has("json") { try printBenchJSON(result) } else {
        print(String(format: """
            pool  %@  %d registered, budget %d resident, zipf %.1f, %d requests over %d adapters
              paged          %8.2f tokens/s  (%d loads, %d evictions)
              all resident   %8.2f tokens/s
              ratio          %8.3f
              cold load      %8.4f s  (raw read %.4f s, %.2fx)
            """, dir.lastPathComponent, registered, budget, zipf, requests, used.count, paged, counts.loads,
                     counts.evictions, resident, paged / resident, coldMedian, rawMedian, coldMedian / rawMedian))
    }
}

private func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Evicts the files from the page cache, so the next read comes from the disk.
private func dropCache(_ paths: [String]) {
    for p in paths {
        let fd = open(p, O_RDONLY)
        guard fd >= 0 else { continue }
        fdatasync(fd)
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}
