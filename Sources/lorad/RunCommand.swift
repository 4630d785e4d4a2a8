import Foundation
import Kernels
import Model
import Adapters
import Server
import Wire

let runUsage = """
    usage: lorad run --model DIR|FILE.gguf|demo [--adapter PATH[:SCALE]] (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N]
                     [--temperature T] [--top-p P] [--top-k K] [--seed S] [--lookahead auto|off|W,N,G] [--json]
                     [--threads N] [--dtype stored|f32|bf16|q8_0|q4_0|q4_k|q6_k]
      one-shot generation without a daemon; greedy when temperature is 0 (the default); lookahead decoding
      (default auto: used when a quick measurement of step time says the extra rows pay) never changes the output;
      --dtype f32 widens BF16/F16 weights to F32, bf16 rounds them, q8_0/q4_0/q4_k/q6_k quantize the projections
      at load (default: keep them as stored; a GGUF file's quantized blocks stay as they are)
      example: lorad run --model demo --prompt "The quick brown fox" --max-tokens 32
    """

func runCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "prompt", "prompt-ids", "max-tokens", "temperature", "top-p",
                                          "top-k", "seed", "threads", "adapter", "lookahead", "dtype"],
                          switches: ["json", "help"])
    if a.has("help") { print(runUsage); return }
    let lookahead = try lookaheadOption(a)
    let sampling = try samplingParameters(a)
    let maxTokens = try a.int("max-tokens") ?? 16
    guard maxTokens >= 0 else { throw UsageError("--max-tokens must not be negative") }
    if let threads = try a.int("threads") {
        guard threads >= 1 else { throw UsageError("--threads must be >= 1") }
        Parallel.configure(threads: threads)
    }
    guard a.has("prompt") != a.has("prompt-ids") else { throw UsageError("give exactly one of --prompt and --prompt-ids") }

    let dir = try resolveModelDirectory(a.string("model"))
    let model = try LoadedModel(directory: dir, precision: try weightPrecision(a))
    let text = try TextCodec(directory: dir)
    var adapter: PeftAdapter?
    var adapterScale: Float = 1
    if let spec = a.string("adapter") {
        let (path, scale) = try parseAdapterSpec(spec)
        adapter = try PeftAdapter(directory: URL(fileURLWithPath: path), model: model.config)
        adapterScale = scale
    }
    let prompt: [Int]
    if let ids = try a.intList("prompt-ids") {
        prompt = ids
    } else {
        prompt = try text.encode(a.string("prompt") ?? "")
    }
    let stepCost = lookahead == .auto ? try StepCostModel.measure(model.transformer, maxRows: 64, timeLimit: 0.5)
                                      : .proportional
    let start = DispatchTime.now().uptimeNanoseconds
    let streamed = text.streaming()
    let json = a.has("json")
    let g = try Generator(model: model).generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling,
                                                 adapter: adapter?.weights, adapterScale: adapterScale,
                                                 lookahead: lookahead, stepCost: stepCost) { id in
        guard !json, let piece = streamed?.append(id) else { return }
        FileHandle.standardOutput.write(Data(piece.utf8))
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    if json {
        var result: [String: Any] = [
            "prompt_token_ids": g.promptTokenIds, "token_ids": g.tokenIds, "finish_reason": g.finishReason.rawValue,
            "steps": g.steps, "elapsed_s": elapsed,
        ]
        result["text"] = text.decode(g.tokenIds) ?? NSNull()
        try printJSON(result)
    } else {
        let tail = streamed?.finish() ?? g.tokenIds.map(String.init).joined(separator: " ")
        FileHandle.standardOutput.write(Data((tail + "\n").utf8))
    }
}

/// `--dtype stored|f32`: how the model's projections are held (default: as stored).
func weightPrecision(_ a: Arguments) throws -> WeightPrecision {
    guard let s = a.string("dtype") else { return .asStored }
    guard let p = WeightPrecision(rawValue: s.lowercased()) else {
        throw UsageError("--dtype must be one of \(WeightPrecision.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
    }
    return p
}

/// `PATH[:SCALE]`: the scale is taken only when what follows the last colon is a number, so paths with colons work.
func parseAdapterSpec(_ spec: String) throws -> (path: String, scale: Float) {
    if let colon = spec.lastIndex(of: ":"), let scale = Float(spec[spec.index(after: colon)...]) {
        guard scale.isFinite, abs(scale) <= 100 else { throw UsageError("adapter scale must be a number in -100...100") }
        return (String(spec[..<colon]), scale)
    }
    return (spec, 1)
}

/// `--lookahead auto|off|W,N,G` (default auto).
func lookaheadOption(_ a: Arguments) throws -> LookaheadMode {
    guard let text = a.string("lookahead") else { return .auto }
    do { return LookaheadMode(try LookaheadSetting(cli: text)) } catch {
        throw UsageError("--lookahead must be auto, off or W,N,G with 1 <= W <= 64, 1 <= N <= 16, 0 <= G <= 64 (got \"\(text)\")")
    }
}

func samplingParameters(_ a: Arguments) throws -> SamplingParameters {
    var p = SamplingParameters()
    if let t = try a.double("temperature") {
        guard t >= 0, t <= 100 else { throw UsageError("--temperature must be in 0...100") }
        p.temperature = Float(t)
    }
    if let tp = try a.double("top-p") {
        guard tp > 0, tp <= 1 else { throw UsageError("--top-p must be in (0, 1]") }
        p.topP = Float(tp)
    }
    if let k = try a.int("top-k") {
        guard k >= 0 else { throw UsageError("--top-k must not be negative") }
        p.topK = k
    }
    if let s = try a.int("seed") { p.seed = UInt64(bitPattern: Int64(s)) }
    return p
}
