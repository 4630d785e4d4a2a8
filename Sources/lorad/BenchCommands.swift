import Foundation
import Kernels
import Model

let benchUsage = """
    usage: lorad bench SCENARIO [options] [--json]
      decode     --model DIR [--prompt-tokens 128] [--new-tokens 64] [--threads N]
                 prefill and batch-1 decode speed, weight bytes per token, read bandwidth, roofline fraction
      mixed      --model DIR [--batch 16] [--adapters 16] [--rank 16] [--new-tokens 32]
                 decode throughput of B sequences over K adapters against the same B with no adapter
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
      matmul     [--n 5632] [--k 2048] [--rows 1,2,4,...]   our kernel against OpenBLAS sgemm
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
    case "tokenizer": try benchTokenizerCommand(rest)
    case "--help", "-h", "help": print(benchUsage)
    default: throw UsageError("unknown bench scenario \"\(scenario)\"")
    }
}

private func benchDecode(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "prompt-tokens", "new-tokens", "threads", "seed"],
                          switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let promptTokens = try a.int("prompt-tokens") ?? 128
    let newTokens = try a.int("new-tokens") ?? 64
    guard promptTokens >= 1, newTokens >= 1 else { throw UsageError("--prompt-tokens and --new-tokens must be >= 1") }
    if let threads = try a.int("threads") { Parallel.configure(threads: threads) } else {
        Parallel.configure(threads: ProcessInfo.processInfo.activeProcessorCount)
    }
    let dir = try resolveModelDirectory(a.string("model"))
    log("loading \(dir.path)")
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let model = try LoadedModel(directory: dir)
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
    log(String(format: "loaded in %.1f s; measuring read bandwidth", loadSeconds))
    let bandwidth = ReadBandwidth.measure()

    var rng = SeededGenerator(seed: UInt64(try a.int("seed") ?? 7))
    let vocab = model.config.vocabSize
    let prompt = (0..<promptTokens).map { _ in Int(rng.next() % UInt64(vocab)) }
    // Warm-up: one short generation so first-touch page faults do not count.
    _ = try Generator(model: model).generate(prompt: Array(prompt.prefix(8)), maxTokens: 2, stopAtEOS: false)
    log("running: prompt \(promptTokens) tokens, \(newTokens) new tokens, batch 1, \(Parallel.threads) threads")
    let g = try Generator(model: model).generate(prompt: prompt, maxTokens: newTokens, stopAtEOS: false)
    // The first new token comes from the prefill pass; decode speed counts the passes after it.
    let decodeTokens = g.tokenIds.count - 1
    let prefillRate = Double(promptTokens) / g.prefillSeconds
    let decodeRate = Double(decodeTokens) / g.decodeSeconds
    let bytesPerToken = model.transformer.weights.bytesPerDecodedToken
    let roofline = Double(bytesPerToken) * decodeRate / bandwidth
    let result: [String: Any] = [
        "scenario": "decode",
        "model": dir.lastPathComponent,
        "threads": Parallel.threads,
        "prompt_tokens": promptTokens,
        "new_tokens": newTokens,
        "batch": 1,
        "prefill_tokens_per_s": prefillRate,
        "decode_tokens_per_s": decodeRate,
        "weight_bytes_per_token": bytesPerToken,
        "read_bandwidth_bytes_per_s": bandwidth,
        "weight_bandwidth_bytes_per_s": Double(bytesPerToken) * decodeRate,
        "roofline_fraction": roofline,
        "load_s": loadSeconds,
    ]
    if a.has("json") {
        try printJSON(result)
    } else {
        print(String(format: """
            decode  %@  (%d threads)
              prefill            %8.1f tokens/s  (%d tokens)
              decode (batch 1)   %8.2f tokens/s  (%d tokens)
              weights per token  %8.1f MB
              weight stream      %8.2f GB/s
              read bandwidth     %8.2f GB/s  (best of 5 passes over 1 GiB)
              roofline fraction  %8.3f
            """, dir.lastPathComponent, Parallel.threads, prefillRate, promptTokens, decodeRate, decodeTokens,
                     Double(bytesPerToken) / 1e6, Double(bytesPerToken) * decodeRate / 1e9, bandwidth / 1e9, roofline))
    }
}
