import Adapters
import Engine
import Foundation
import Kernels
import Model
import Synchronization
import Wire

/// `lorad bench lookahead`: tokens per step and decode throughput with lookahead against plain greedy decoding, on
/// the engine (continuous batching, the step cost measured at start), at each batch size (mixed adapters from
/// DIR/adapters above batch 1), on code-like and prose-like prompts, in one run.
func benchLookahead(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "batch", "new-tokens", "lookahead", "threads", "max-batch-tokens",
                                          "repeat", "prompts", "auto-shape", "prompt-tokens"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let batches = try a.intList("batch") ?? [1, 16]
    let newTokens = try a.int("new-tokens") ?? 64
    let repeats = try a.int("repeat") ?? 1
    let maxBatchTokens = try a.int("max-batch-tokens") ?? 256
    let promptTokens = try a.int("prompt-tokens") ?? Int.max
    let kinds = (a.string("prompts") ?? "code,prose").split(separator: ",").map(String.init)
    let mode = try lookaheadOption(a)
    guard mode != .off else { throw UsageError("--lookahead off has nothing to compare") }
    guard batches.allSatisfy({ (1...256).contains($0) }) else { throw UsageError("--batch sizes must be 1...256") }
    guard newTokens >= 2, repeats >= 1, maxBatchTokens >= 1 else {
        throw UsageError("--new-tokens >= 2, --repeat >= 1, --max-batch-tokens >= 1")
    }
    guard kinds.allSatisfy({ ["code", "prose"].contains($0) }) else { throw UsageError("--prompts is code,prose or one") }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)

    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let model = try LoadedModel(directory: dir)
    let text = try TextCodec(directory: dir)
    let adapters = try directoryAdapters(model: model, directory: dir, limit: batches.max() ?? 1)
    var configuration = EngineConfiguration()
    configuration.maxBatchTokens = maxBatchTokens
    configuration.maxRunning = max(64, batches.max() ?? 1)
    log("measuring step time against rows")
    let cost = try StepCostModel.measure(model.transformer, maxRows: maxBatchTokens)
    log("step seconds by rows: \(cost.summary)")
    configuration.stepCost = cost
    if let shape = try a.string("auto-shape").map({ try LookaheadSetting(cli: $0) }), case .explicit(let w, let n, let g) = shape {
        configuration.autoShape = LookaheadShape(w: w, n: n, g: g)
    }
    let engine = Engine(model: model, tokenizer: nil, configuration: configuration)
    defer { engine.shutdown() }

    var byBatch: [String: Any] = [:]
    var lines: [String] = []
    for batch in batches {
        var entry: [String: Any] = ["adapters": batch == 1 ? 0 : min(batch, adapters.count)]
        for kind in kinds {
            let texts = kind == "code" ? BenchPrompts.code : BenchPrompts.prose
            // At least one run of every prompt text: batch 1 runs them one after another.
            let count = max(batch, texts.count)
            let prompts = try (0..<count).map { Array(try text.encode(texts[$0 % texts.count]).prefix(promptTokens)) }
            let bindings: [AdapterBinding?] = (0..<count).map { i in
                batch == 1 || adapters.isEmpty ? nil : adapters[i % adapters.count]
            }
            var plain: BatchRun?, looked: BatchRun?
            var extraRows = 0.0
            var ratios: [Double] = [], cpuRatios: [Double] = []
            for r in 0..<repeats {
                // Alternate which goes first, so a trend in the machine's load does not favour either.
                let plainFirst = r % 2 == 0
                log("batch \(batch), \(kind) prompts, run \(r + 1)/\(repeats): " +
                    (plainFirst ? "plain, then lookahead \(mode)" : "lookahead \(mode), then plain"))
                let early = plainFirst ? try runBatches(engine, prompts, bindings, .off, newTokens, batch: batch) : nil
                let before = engine.statistics
                let l = try runBatches(engine, prompts, bindings, mode, newTokens, batch: batch)
                let after = engine.statistics
                let p = try early ?? runBatches(engine, prompts, bindings, .off, newTokens, batch: batch)
                extraRows = Double(after.lookaheadRows - before.lookaheadRows) / Double(max(1, l.steps.reduce(0, +)))
                // Adjacent runs see about the same load from whatever else shares the machine.
                ratios.append(l.rate / p.rate)
                cpuRatios.append(l.cpuRate / p.cpuRate)
                if plain == nil || p.rate > plain!.rate { plain = p }
                if looked == nil || l.rate > looked!.rate { looked = l }
            }
            let p = plain!, l = looked!
            let speedup = median(ratios), cpuSpeedup = median(cpuRatios)
            let result: [String: Any] = [
                "tokens_per_step": l.tokensPerStep, "plain_tokens_per_step": p.tokensPerStep,
                "speedup": speedup, "cpu_speedup": cpuSpeedup, "best_speedup": l.rate / p.rate,
                "tokens_per_s": l.rate, "plain_tokens_per_s": p.rate,
                "tokens_per_cpu_s": l.cpuRate, "plain_tokens_per_cpu_s": p.cpuRate,
                "identical": l.tokens == p.tokens, "tokens": l.tokens.reduce(0) { $0 + $1.count },
                "lookahead_rows_per_step": extraRows,
            ]
            entry[kind] = result
            lines.append(String(format: "  batch %3d  %-5@  %5.2f tokens/step  %8.2f tokens/s (plain %8.2f)  speedup %.3f (CPU time %.3f)%@",
                                batch, kind, l.tokensPerStep, l.rate, p.rate, speedup, cpuSpeedup,
                                l.tokens == p.tokens ? "" : "  OUTPUT DIFFERS"))
        }
        byBatch[String(batch)] = entry
    }
    if a.has("json") {
        try printBenchJSON(["scenario": "lookahead", "model": dir.lastPathComponent, "threads": Parallel.threads,
                       "lookahead": "\(mode)", "new_tokens": newTokens, "repeat": repeats,
                       "max_batch_tokens": maxBatchTokens, "step_cost": cost.points.map { [$0.rows, $0.seconds] },
                       "batches": byBatch])
    } else {
        print("lookahead  \(dir.lastPathComponent)  \(Parallel.threads) threads, \(newTokens) new tokens, median of \(repeats) paired runs (best rates shown)")
        lines.forEach { print($0) }
    }
}

/// The adapters in DIR/adapters (any rank), in name order, at most `limit`.
private func directoryAdapters(model: LoadedModel, directory: URL, limit: Int) throws -> [AdapterBinding] {
    let root = directory.appendingPathComponent("adapters")
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    var out: [AdapterBinding] = []
    for name in names where out.count < limit {
        guard let adapter = try? PeftAdapter(directory: root.appendingPathComponent(name), model: model.config) else { continue }
        out.append(AdapterBinding(name: name, weights: adapter.weights))
    }
    return out
}

/// One batch run: every sequence's tokens and steps, and the decode phase (after the last first token).
private struct BatchRun {
    var tokens: [[Int]]
    var steps: [Int]
    var decodeTokens: Int
    var decodeSeconds: Double
    /// Process CPU time over the decode phase (less disturbed than wall time by other work on the machine).
    var decodeCPUSeconds: Double
    var rate: Double { Double(decodeTokens) / max(decodeSeconds, 1e-9) }
    var cpuRate: Double { Double(decodeTokens) / max(decodeCPUSeconds, 1e-9) }
    var tokensPerStep: Double { Double(tokens.reduce(0) { $0 + $1.count }) / Double(max(1, steps.reduce(0, +))) }
}

/// Runs the prompts `batch` at a time; the decode phases add up.
private func runBatches(_ engine: Engine, _ prompts: [[Int]], _ adapters: [AdapterBinding?], _ mode: LookaheadMode,
                        _ newTokens: Int, batch: Int) throws -> BatchRun {
    var total = BatchRun(tokens: [], steps: [], decodeTokens: 0, decodeSeconds: 0, decodeCPUSeconds: 0)
    for start in stride(from: 0, to: prompts.count, by: batch) {
        let range = start..<min(prompts.count, start + batch)
        let run = try runBatch(engine, Array(prompts[range]), Array(adapters[range]), mode, newTokens)
        total.tokens += run.tokens
        total.steps += run.steps
        total.decodeTokens += run.decodeTokens
        total.decodeSeconds += run.decodeSeconds
        total.decodeCPUSeconds += run.decodeCPUSeconds
    }
    return total
}

/// Submits one request per prompt at once (greedy, EOS ignored) and waits for all.
private func runBatch(_ engine: Engine, _ prompts: [[Int]], _ adapters: [AdapterBinding?], _ mode: LookaheadMode,
                      _ newTokens: Int) throws -> BatchRun {
    struct Seen { var times: [[(wall: UInt64, cpu: Double)]]; var tokens: [[Int]]; var steps: [Int] }
    let seen = Mutex(Seen(times: prompts.map { _ in [] }, tokens: prompts.map { _ in [] }, steps: prompts.map { _ in 0 }))
    let group = DispatchGroup()
    for (i, prompt) in prompts.enumerated() {
        group.enter()
        let request = GenerationRequest(tenant: "bench", promptTokens: prompt, adapter: adapters[i], maxTokens: newTokens,
                                        lookahead: mode)
        try engine.submit(request) { event in
            switch event {
            case .token(let id, _, _):
                guard id >= 0 else { return }
                let now = (DispatchTime.now().uptimeNanoseconds, processCPUSeconds())
                seen.withLock { $0.times[i].append(now); $0.tokens[i].append(id) }
            case .finished(let c):
                seen.withLock { $0.steps[i] = c.steps }
                group.leave()
            case .failed(let e):
                log("request failed: \(e)")
                group.leave()
            case .promptLogprobs:
                break   // not asked for
            }
        }
    }
    group.wait()
    let s = seen.withLock { $0 }
    // The decode phase starts when the last sequence has its first token.
    let firsts = s.times.compactMap(\.first), lasts = s.times.compactMap(\.last)
    let start = firsts.max { $0.wall < $1.wall } ?? (0, 0)
    let end = lasts.max { $0.wall < $1.wall } ?? start
    let decodeTokens = s.times.reduce(0) { $0 + $1.filter { $0.wall > start.wall }.count }
    return BatchRun(tokens: s.tokens, steps: s.steps, decodeTokens: decodeTokens,
                    decodeSeconds: Double(end.wall - start.wall) / 1e9, decodeCPUSeconds: end.cpu - start.cpu)
}

/// User and system CPU time of this process so far.
private func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

private func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
