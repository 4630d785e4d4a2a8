import Foundation
import Kernels
import Model

let benchUsage = """
    usage: lorad bench SCENARIO [options] [--json]
      decode     --model DIR|FILE.gguf [--prompt-tokens 128] [--new-tokens 64] [--threads N]
                 [--dtype stored|f32|bf16|q8_0|q4_0|q4_k|q6_k]
                 [--batch 1] [--repeat 1]
                 prefill and decode speed (B sequences decoded together), weight bytes per step, read bandwidth,
                 roofline fraction; best of --repeat runs
      mixed      --model DIR [--batch 16] [--adapters 16] [--rank 16] [--new-tokens 32] [--repeat 3]
                 decode throughput of B sequences over K adapters against the same B with no adapter, in
                 rounds that decode both step by step in turn (after one warm-up round); the median round
      serve      --model DIR [--concurrency 1,4,16,64] [--adapters 4] [--rank 16] [--prompt-tokens 64]
                 [--new-tokens 32] [--requests-per-client 2] [--max-batch-tokens N]
                 continuous batching throughput, TTFT and inter-token latency p50/p99 per concurrency
      pool       --model DIR [--registered 1000] [--resident-budget 32] [--zipf 1.0] [--requests 256]
                 [--concurrency 16] [--ranks 8,16,32,64] [--targets q_proj,v_proj] [--adapter-dir DIR]
                 paged adapters against all resident, and cold-load time against a raw read of the same bytes
      load       --models a,b,... [--socket PATH] [--clients 256] [--requests N | --duration S] [--tokens t1,t2]
                 [--max-tokens 16]   streaming clients against a running daemon; every response checked; RSS trend
      lookahead  --model DIR [--batch 1,16] [--new-tokens 64] [--lookahead auto|W,N,G] [--prompts code,prose]
                 [--repeat 1] [--max-batch-tokens 256]
                 tokens per step and decode speedup of lookahead against plain greedy decoding, per batch size
                 (mixed adapters from DIR/adapters above batch 1) and prompt kind, outputs checked identical
      grammar    --tokenizer DIR [--schema FILE] [--steps 256] [--sequences 8]
                 constrained decoding's mask time per step per sequence (JSON schema and json_object), walking
                 seeded random legal tokens; the trie build and grammar compile times
      matmul     [--n 5632] [--k 2048] [--rows 1,2,4,...] [--paths avx2,avx512]
                 our kernel against OpenBLAS sgemm (and on each CPU path, the paths taking turns)
      qmatmul    [--types q4_K,q6_K,...] [--rows 1,128] [--paths avx512,avx2]   quantized products per type and
                 path: GB/s of weights against the read-bandwidth probe, GFLOP/s
    Every report names the CPU path it ran on (cpu_path); LORAD_ISA=scalar|avx2|avx512 forces a lower one.
      tokenizer  --model DIR --file F      encode MB/s
    example: lorad bench decode --model /tmp/tinyllama --json
    """

func benchCommand(_ args: [String]) throws {
    guard let scenario = args.first else { throw UsageError("bench needs a scenario") }
    let rest = Array(args.dropFirst())
    switch scenario {
    case "decode": try benchDecode(rest)
    case "mixed": try benchMixed(rest)
    case "serve": try benchServe(rest)
    case "pool": try benchPool(rest)
    case "load": try benchLoad(rest)
    case "lookahead": try benchLookahead(rest)
    case "matmul": try benchMatmul(rest)
    case "qmatmul": try benchQuantMatmul(rest)
    case "grammar": try benchGrammar(rest)
    case "tokenizer": try benchTokenizerCommand(rest)
    case "--help", "-h", "help": print(benchUsage)
    default: throw UsageError("unknown bench scenario \"\(scenario)\"")
    }
}

private func benchDecode(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "prompt-tokens", "new-tokens", "threads", "seed", "dtype", "batch",
                                          "repeat"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let promptTokens = try a.int("prompt-tokens") ?? 128
    let newTokens = try a.int("new-tokens") ?? 64
    let batch = try a.int("batch") ?? 1
    let repeats = try a.int("repeat") ?? 1
    guard promptTokens >= 1, newTokens >= 2 else { throw UsageError("--prompt-tokens must be >= 1, --new-tokens >= 2") }
    guard batch >= 1, batch <= 256 else { throw UsageError("--batch must be 1...256") }
    guard repeats >= 1 else { throw UsageError("--repeat must be >= 1") }
    if let threads = try a.int("threads") { Parallel.configure(threads: threads) } else {
        Parallel.configure(threads: ProcessInfo.processInfo.activeProcessorCount)
    }
    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let precision = try weightPrecision(a)
    let model = try LoadedModel(directory: dir, precision: precision)
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
    log(String(format: "loaded in %.1f s", loadSeconds))

    var rng = SeededGenerator(seed: UInt64(try a.int("seed") ?? 7))
    let vocab = model.config.vocabSize
    let prompts = (0..<batch).map { _ in (0..<promptTokens).map { _ in Int(rng.next() % UInt64(vocab)) } }
    // Warm-up: one short generation so first-touch page faults do not count.
    _ = try Generator(model: model).generate(prompt: Array(prompts[0].prefix(8)), maxTokens: 2, stopAtEOS: false)
    // Each run decodes between two read-bandwidth measurements and is held to the better of the two (the cores are
    // shared, so either may be disturbed); the run with the best decode rate is reported.
    var bandwidth = 0.0, prefillRate = 0.0, decodeRate = 0.0
    for r in 0..<repeats {
        log("run \(r + 1)/\(repeats): prompt \(promptTokens) tokens, \(newTokens) new tokens, batch \(batch), "
            + "\(Parallel.threads) threads")
        let before = ReadBandwidth.measure()
        var prefill = 0.0, decode = 0.0
        if batch == 1 {
            let g = try Generator(model: model).generate(prompt: prompts[0], maxTokens: newTokens, stopAtEOS: false)
            // The first new token comes from the prefill pass; decode speed counts the passes after it.
            prefill = Double(promptTokens) / g.prefillSeconds
            decode = Double(g.tokenIds.count - 1) / g.decodeSeconds
        } else {
            let seconds = try decodeTogether(model, prompts: prompts, adapters: Array(repeating: nil, count: batch),
                                             steps: newTokens)
            decode = Double(batch * newTokens) / seconds
        }
        let after = ReadBandwidth.measure()
        if decode > decodeRate { (decodeRate, prefillRate, bandwidth) = (decode, prefill, max(before, after)) }
    }
    let bytesPerToken = model.transformer.weights.bytesPerDecodedToken
    let stepsPerSecond = decodeRate / Double(batch)
    let roofline = Double(bytesPerToken) * stepsPerSecond / bandwidth
    var result: [String: Any] = [
        "scenario": "decode",
        "model": dir.lastPathComponent,
        "dtype": precision.rawValue,
        "weight_elements": weightTypeSummary(model.transformer.weights),
        "threads": Parallel.threads,
        "prompt_tokens": promptTokens,
        "new_tokens": newTokens,
        "batch": batch,
        "repeat": repeats,
        "decode_tokens_per_s": decodeRate,
        "decode_step_ms": 1000 / stepsPerSecond,
        "weight_bytes_per_token": bytesPerToken,
        "read_bandwidth_bytes_per_s": bandwidth,
        "weight_bandwidth_bytes_per_s": Double(bytesPerToken) * stepsPerSecond,
        "roofline_fraction": roofline,
        "load_s": loadSeconds,
    ]
    if batch == 1 { result["prefill_tokens_per_s"] = prefillRate }
    if a.has("json") {
        try printBenchJSON(result)
    } else {
        let prefill = batch == 1 ? String(format: "  prefill            %8.1f tokens/s  (%d tokens)\n", prefillRate,
                                          promptTokens) : ""
        print(String(format: """
            decode  %@  (%@ weights, %d threads, cpu path %@, best of %d)
            %@  decode (batch %d)   %8.2f tokens/s  (%.1f ms per step)
              weights per step   %8.1f MB
              weight stream      %8.2f GB/s
              read bandwidth     %8.2f GB/s  (best of 5 passes over 1 GiB)
              roofline fraction  %8.3f
            """, dir.lastPathComponent, weightTypeSummary(model.transformer.weights), Parallel.threads,
                     CPUPath.current.description, repeats, prefill,
                     batch, decodeRate, 1000 / stepsPerSecond, Double(bytesPerToken) / 1e6,
                     Double(bytesPerToken) * stepsPerSecond / 1e9, bandwidth / 1e9, roofline))
    }
}

/// The weight types of the model's projections ("bf16", "Q4_K+Q6_K", ...).
func weightTypeSummary(_ w: ModelWeights) -> String { w.weightType }
