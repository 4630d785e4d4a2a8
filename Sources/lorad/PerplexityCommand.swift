import Foundation
import Kernels
import Model

let perplexityUsage = """
    usage: lorad perplexity --model DIR|FILE.gguf --file TEXT [--ctx 512] [--chunks N] [--dtype D] [--threads N]
                            [--json]
      perplexity of a text, computed as llama.cpp's llama-perplexity computes it: the text is tokenized once (with
      BOS when the tokenizer adds one), cut into non-overlapping windows of --ctx tokens (the first token of each
      window replaced by BOS), and each window is scored on its second half (positions ctx/2 .. ctx-2 predicting
      the next token). Needs at least 2 x ctx tokens. --chunks limits the windows (default: all).
      example: lorad perplexity --model model.Q4_K_M.gguf --file wiki.test.raw --ctx 512
    """

/// The result of `lorad perplexity`: per-window and final figures, as llama-perplexity prints them.
struct PerplexityResult {
    var windows: [Double] = []          // running perplexity after each window
    var negativeLogLikelihood = 0.0      // sum over scored tokens (nats)
    var negativeLogLikelihoodSquared = 0.0
    var scored = 0
    var perplexity: Double { exp(negativeLogLikelihood / Double(max(scored, 1))) }
    /// llama-perplexity's "+/-": the standard error of the mean NLL carried through exp.
    var uncertainty: Double {
        let n = Double(scored), mean = negativeLogLikelihood / n
        let variance = negativeLogLikelihoodSquared / n - mean * mean
        guard n > 1, variance > 0 else { return 0 }
        return sqrt(variance / (n - 1)) * perplexity
    }
}

/// Scores `tokens` in windows of `ctx` as llama-perplexity does. `bos`: the id each window starts with (nil: none).
func perplexity(model: LoadedModel, tokens: [Int], ctx: Int, bos: Int?, maxWindows: Int?) throws -> PerplexityResult {
    let t = model.transformer, vocab = model.config.vocabSize
    var windows = tokens.count / ctx
    if let maxWindows { windows = min(windows, maxWindows) }
    let first = ctx / 2
    var result = PerplexityResult()
    for w in 0..<windows {
        var window = Array(tokens[(w * ctx)..<((w + 1) * ctx)])
        if let bos { window[0] = bos }
        var batch = StepBatch()
        batch.append(window, cache: t.makeCache(), wantLogits: false)
        batch.logitRows = Array(first..<(ctx - 1))
        let logits = try t.forward(batch, commit: false)
        for (i, position) in batch.logitRows.enumerated() {
            let target = window[position + 1]
            // log-softmax in double, as llama.cpp's log_softmax does (max-shifted, sum of exp in double)
            let row = logits[(i * vocab)..<((i + 1) * vocab)]
            let maxLogit = row.max() ?? 0
            var sum = 0.0
            for v in row { sum += exp(Double(v - maxLogit)) }
            let nll = -(Double(row[row.startIndex + target] - maxLogit) - log(sum))
            result.negativeLogLikelihood += nll
            result.negativeLogLikelihoodSquared += nll * nll
            result.scored += 1
        }
        result.windows.append(result.perplexity)
    }
    return result
}

func perplexityCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "file", "ctx", "chunks", "dtype", "threads"], switches: ["json", "help"])
    if a.has("help") { print(perplexityUsage); return }
    guard let path = a.string("file") else { throw UsageError("perplexity needs --file TEXT") }
    let ctx = try a.int("ctx") ?? 512
    guard ctx >= 4 else { throw UsageError("--ctx must be >= 4") }
    let chunks = try a.int("chunks")
    if let chunks, chunks < 1 { throw UsageError("--chunks must be >= 1") }
    if let threads = try a.int("threads") {
        guard threads >= 1 else { throw UsageError("--threads must be >= 1") }
        Parallel.configure(threads: threads)
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read \(path)") }
    let dir = try resolveModelDirectory(a.string("model"))
    let model = try LoadedModel(directory: dir, precision: try weightPrecision(a))
    guard ctx <= model.config.maxPositions else {
        throw UsageError("--ctx \(ctx) is longer than the model's context (\(model.config.maxPositions))")
    }
    let tokenizer = try modelTokenizer(dir)
    let tokens = tokenizer.encode(String(decoding: data, as: UTF8.self), addSpecialTokens: true)
    guard tokens.count >= 2 * ctx else {
        throw CommandError("\(path) is \(tokens.count) tokens; perplexity with --ctx \(ctx) needs at least \(2 * ctx)")
    }
    // llama-perplexity puts BOS first in every window when the tokenizer adds BOS.
    let addsBos = tokens.first != nil && tokens.first == tokenizer.bosTokenId
        && tokenizer.encode("a", addSpecialTokens: true).first == tokenizer.bosTokenId
    let start = DispatchTime.now().uptimeNanoseconds
    let r = try perplexity(model: model, tokens: tokens, ctx: ctx, bos: addsBos ? tokenizer.bosTokenId : nil,
                           maxWindows: chunks)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let weights = weightTypeSummary(model.transformer.weights)
    if a.has("json") {
        try printJSON(["model": dir.lastPathComponent, "weight_type": weights, "ctx": ctx, "tokens": tokens.count,
                       "windows": r.windows.count, "scored_tokens": r.scored, "perplexity": r.perplexity,
                       "uncertainty": r.uncertainty, "running_perplexity": r.windows, "seconds": seconds])
    } else {
        print(r.windows.enumerated().map { String(format: "[%d]%.4f", $0 + 1, $1) }.joined(separator: ","))
        print(String(format: "Final estimate: PPL = %.4f +/- %.5f  (%@ weights, %d windows of %d tokens, %.1f s)",
                     r.perplexity, r.uncertainty, weights, r.windows.count, ctx, seconds))
    }
}
