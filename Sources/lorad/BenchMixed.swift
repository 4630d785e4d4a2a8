import Adapters
import Foundation
import Kernels
import Model
import ModelFactory

/// `lorad bench mixed`: decode throughput of B sequences spread over K distinct adapters, against the same B
/// sequences with no adapter, in the same run: `--repeat` rounds, each decoding both batches step by step in turn,
/// so each ratio compares steps a fraction of a second apart; the median round is reported.
func benchMixed(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "batch", "adapters", "rank", "prompt-tokens", "new-tokens", "threads", "repeat"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let batch = try a.int("batch") ?? 16
    let adapterCount = try a.int("adapters") ?? 16
    let rank = try a.int("rank") ?? 16
    let promptTokens = try a.int("prompt-tokens") ?? 32
    let newTokens = try a.int("new-tokens") ?? 32
    let repeats = try a.int("repeat") ?? 3
    guard repeats >= 1, repeats <= 100 else { throw UsageError("--repeat must be 1...100") }
    guard batch >= 1, batch <= 256 else { throw UsageError("--batch must be 1...256") }
    guard adapterCount >= 1, adapterCount <= batch else { throw UsageError("--adapters must be 1...batch") }
    guard rank >= 1, rank <= 256 else { throw UsageError("--rank must be 1...256") }
    guard promptTokens >= 1, newTokens >= 2 else { throw UsageError("--prompt-tokens >= 1 and --new-tokens >= 2") }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)

    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let model = try LoadedModel(directory: dir)
    let adapters = try benchAdapters(model: model, directory: dir, count: adapterCount, rank: rank)

    var rng = SeededGenerator(seed: 11)
    let prompts = (0..<batch).map { _ in (0..<promptTokens).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) } }
    // Sequence i uses adapter i mod K; rows are ordered by adapter so each adapter is one segment.
    let assignment = (0..<batch).map { adapters[$0 % adapterCount].weights }
    let noAdapter = [LoRAWeights?](repeating: nil, count: batch)
    log("warming up")
    // A whole round, shorter: the first runs pay for first touches of caches, scratch and adapter pages.
    _ = try pairedRound(model, prompts: prompts, base: noAdapter, mixed: assignment, steps: 4)
    var rounds: [(base: Double, mixed: Double)] = []   // tokens/s
    for round in 1...repeats {
        log("round \(round)/\(repeats): \(batch) sequences with no adapter and over \(adapterCount) adapters of rank \(rank), \(newTokens) steps each, interleaved")
        let (base, mixed) = try pairedRound(model, prompts: prompts, base: noAdapter, mixed: assignment, steps: newTokens)
        rounds.append((Double(batch * newTokens) / base, Double(batch * newTokens) / mixed))
    }
    let median = rounds.sorted { $0.mixed / $0.base < $1.mixed / $1.base }[(rounds.count - 1) / 2]
    let baseRate = median.base, mixedRate = median.mixed
    let result: [String: Any] = [
        "scenario": "mixed", "model": dir.lastPathComponent, "batch": batch, "adapters": adapterCount, "rank": rank,
        "threads": Parallel.threads, "new_tokens": newTokens,
        "tokens_per_s": mixedRate, "baseline_tokens_per_s": baseRate, "ratio": mixedRate / baseRate,
        "adapter_bytes_each": adapters[0].byteCount, "repeat": repeats,
        "round_ratios": rounds.map { $0.mixed / $0.base },
    ]
    if a.has("json") { try printBenchJSON(result) } else {
        print(String(format: """
            mixed  %@  batch %d, %d adapters of rank %d, %d threads
              no adapter       %8.2f tokens/s
              mixed adapters   %8.2f tokens/s
              ratio            %8.3f   (median of %d rounds: %@)
            """, dir.lastPathComponent, batch, adapterCount, rank, Parallel.threads, baseRate, mixedRate,
                     mixedRate / baseRate, repeats, rounds.map { String(format: "%.3f", $0.mixed / $0.base) }.joined(separator: " ")))
    }
}

/// One round: the same prompts decoded with no adapter and with `mixed`, step by step in turn (base, mixed, mixed,
/// base, ...), so a shift in the machine's speed (this VM's memory bandwidth swings within seconds) falls on both
/// alike. Returns the decode seconds of each.
func pairedRound(_ model: LoadedModel, prompts: [[Int]], base: [LoRAWeights?], mixed: [LoRAWeights?],
                 steps: Int) throws -> (base: Double, mixed: Double) {
    let b = try DecodeBatch(model, prompts: prompts, adapters: base)
    let m = try DecodeBatch(model, prompts: prompts, adapters: mixed)
    var seconds = (base: 0.0, mixed: 0.0)
    for s in 0..<steps {
        if s % 2 == 0 {
            seconds.base += try b.step()
            seconds.mixed += try m.step()
        } else {
            seconds.mixed += try m.step()
            seconds.base += try b.step()
        }
    }
    return seconds
}

/// K adapters of rank R for the model: those in DIR/adapters when they fit, else written to a temporary folder.
func benchAdapters(model: LoadedModel, directory: URL, count: Int, rank: Int) throws -> [PeftAdapter] {
    let fm = FileManager.default
    let existing = directory.appendingPathComponent("adapters")
    var out: [PeftAdapter] = []
    if let names = try? fm.contentsOfDirectory(atPath: existing.path).sorted() {
        for name in names where out.count < count {
            if let adapter = try? PeftAdapter(directory: existing.appendingPathComponent(name), model: model.config),
               adapter.rank == rank {
                out.append(adapter)
            }
        }
    }
    if out.count == count { return out }
    let tmp = fm.temporaryDirectory.appendingPathComponent("lorad-bench-adapters-\(getpid())")
    defer { try? fm.removeItem(at: tmp) }
    let shape = ModelShape(config: model.config, name: directory.lastPathComponent)
    let all = Projection.allCases.map(\.moduleName)
    log("writing \(count - out.count) random adapters of rank \(rank)")
    while out.count < count {
        let dir = tmp.appendingPathComponent("adapter-\(out.count)")
        try ModelWriter.writeAdapter(shape: shape, rank: rank, alpha: Double(2 * rank), targets: all,
                                     seed: UInt64(500 + out.count), to: dir)
        out.append(try PeftAdapter(directory: dir, model: model.config))
    }
    return out
}

/// B sequences decoding together, one row each per step (greedy): prefilled at init, then `step()` runs one decode
/// step and returns its seconds. Sequences are ordered so equal adapters are adjacent (one segment each).
final class DecodeBatch {
    private let transformer: Transformer
    private let order: [Int]
    private let caches: [KVCache]
    private let adapters: [LoRAWeights?]
    private var logits: [Float]

    init(_ model: LoadedModel, prompts: [[Int]], adapters: [LoRAWeights?]) throws {
        transformer = model.transformer
        self.adapters = adapters
        order = prompts.indices.sorted {
            (adapters[$0].map { ObjectIdentifier($0).hashValue } ?? 0, $0) < (adapters[$1].map { ObjectIdentifier($0).hashValue } ?? 0, $1)
        }
        caches = prompts.map { _ in model.transformer.makeCache() }
        var batch = StepBatch()
        for i in order { batch.append(prompts[i], cache: caches[i], adapter: adapters[i]) }
        logits = try transformer.forward(batch)
    }

    func step() throws -> Double {
        let vocab = transformer.config.vocabSize
        var next = StepBatch()
        for (k, i) in order.enumerated() {
            let token = logits[(k * vocab)..<((k + 1) * vocab)].withUnsafeBufferPointer { Sampler.argmax($0) }
            next.append([token], cache: caches[i], adapter: adapters[i])
        }
        let start = DispatchTime.now().uptimeNanoseconds
        logits = try transformer.forward(next)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

/// Prefills every prompt, then decodes `steps` tokens for all sequences together. Returns the seconds spent in the
/// decode steps.
func decodeTogether(_ model: LoadedModel, prompts: [[Int]], adapters: [LoRAWeights?], steps: Int) throws -> Double {
    let run = try DecodeBatch(model, prompts: prompts, adapters: adapters)
    var seconds = 0.0
    for _ in 0..<steps { seconds += try run.step() }
    return seconds
}
