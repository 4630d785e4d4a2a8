import Foundation
import Tokenization

let tokenizeUsage = """
    usage: lorad tokenize --model DIR|demo (--text S | --jsonl) [--no-special]
      prints the token ids of S as a JSON array, e.g. [2037,9906,1917], with the special tokens the tokenizer
      adds (BOS) unless --no-special. With --jsonl, reads one JSON string per line on stdin and writes one JSON
      array of ids per line.
    """

let detokenizeUsage = """
    usage: lorad detokenize --model DIR|demo --ids 1,2,3 [--skip-special]
      prints the text of the ids (special tokens included unless --skip-special).
    """

let benchTokenizerUsage = """
    usage: lorad bench tokenizer --model DIR --file F [--runs 5] [--json]
      encode speed on one thread. The file is split into lines at "\\n" (each keeps its "\\n") and every line is
      encoded separately without special tokens; one untimed warm-up pass, then --runs timed passes; the best pass
      gives MB/s (10^6 bytes of UTF-8 per second). scripts/bench_hf_tokenizer.py measures Hugging Face tokenizers
      the same way.
    """

/// Loads the tokenizer of `--model DIR|demo`.
private func loadTokenizer(_ spec: String?) throws -> Tokenizer {
    let dir = try resolveModelDirectory(spec)
    do {
        return try modelTokenizer(dir)
    } catch let error as TokenizerError {
        throw CommandError("cannot load the tokenizer of \(dir.path): \(error.description)")
    }
}

private func jsonArray(_ ids: [Int]) -> String {
    "[" + ids.map(String.init).joined(separator: ",") + "]"
}

/// `lorad tokenize`
func tokenizeCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "text"], switches: ["jsonl", "no-special", "help"])
    if a.has("help") { print(tokenizeUsage); return }
    guard a.positional.isEmpty else { throw UsageError("unexpected argument \"\(a.positional[0])\"") }
    let text = a.string("text")
    guard (text != nil) != a.has("jsonl") else { throw UsageError("tokenize needs exactly one of --text S and --jsonl") }
    let tokenizer = try loadTokenizer(a.string("model"))
    let addSpecial = !a.has("no-special")
    if let text {
        print(jsonArray(tokenizer.encode(text, addSpecialTokens: addSpecial)))
        return
    }
    var lineNumber = 0
    while let line = readLine(strippingNewline: true) {
        lineNumber += 1
        let data = Data(line.utf8)
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
              let string = value as? String else {
            throw CommandError("stdin line \(lineNumber) is not a JSON string")
        }
        print(jsonArray(tokenizer.encode(string, addSpecialTokens: addSpecial)))
    }
}

/// `lorad detokenize`
func detokenizeCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "ids"], switches: ["skip-special", "help"])
    if a.has("help") { print(detokenizeUsage); return }
    guard a.positional.isEmpty else { throw UsageError("unexpected argument \"\(a.positional[0])\"") }
    guard let ids = try a.intList("ids") else { throw UsageError("detokenize needs --ids 1,2,3") }
    let tokenizer = try loadTokenizer(a.string("model"))
    for id in ids where tokenizer.token(forId: id) == nil {
        if id < 0 || id >= tokenizer.vocabularySize {
            throw CommandError("token id \(id) is out of range (the vocabulary has ids 0...\(tokenizer.vocabularySize - 1))")
        }
        throw CommandError("token id \(id) is not assigned to any token")
    }
    print(tokenizer.decode(ids, skipSpecialTokens: a.has("skip-special")))
}

/// `lorad bench tokenizer`
func benchTokenizerCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["model", "file", "runs"], switches: ["json", "help"])
    if a.has("help") { print(benchTokenizerUsage); return }
    guard let path = a.string("file") else { throw UsageError("bench tokenizer needs --file F") }
    let runs = try a.int("runs") ?? 5
    guard runs >= 1 else { throw UsageError("--runs must be >= 1") }
    let dir = try resolveModelDirectory(a.string("model"))
    log("loading the tokenizer of \(dir.path)")
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let tokenizer: Tokenizer
    do {
        tokenizer = try modelTokenizer(dir)
    } catch let error as TokenizerError {
        throw CommandError("cannot load the tokenizer of \(dir.path): \(error.description)")
    }
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9

    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw CommandError("cannot read \(path): \(error.localizedDescription)")
    }
    let text = String(decoding: data, as: UTF8.self)
    // Lines split at "\n", each keeping its "\n" (a last line without one is kept as is).
    var lines: [String] = []
    var current = Substring.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        current.append(scalar)
        if scalar == "\n" {
            lines.append(String(Substring(current)))
            current = Substring.UnicodeScalarView()
        }
    }
    if !current.isEmpty { lines.append(String(Substring(current))) }
    let bytes = text.utf8.count
    log("\(bytes) bytes, \(lines.count) lines; warm-up pass")

    func encodePass() -> (seconds: Double, tokens: Int, ids: [[Int]]) {
        var all: [[Int]] = []
        all.reserveCapacity(lines.count)
        let start = DispatchTime.now().uptimeNanoseconds
        for line in lines { all.append(tokenizer.encode(line, addSpecialTokens: false)) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (seconds, all.reduce(0) { $0 + $1.count }, all)
    }
    let warm = encodePass()
    var times: [Double] = []
    for run in 1...runs {
        let pass = encodePass()
        times.append(pass.seconds)
        log(String(format: "encode run %d/%d: %.2f MB/s", run, runs, Double(bytes) / pass.seconds / 1e6))
    }
    // Decoding, for reference: every line's ids back to text.
    var decodeTimes: [Double] = []
    for _ in 0..<max(1, runs / 2) {
        let start = DispatchTime.now().uptimeNanoseconds
        for ids in warm.ids { _ = tokenizer.decode(ids) }
        decodeTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let sorted = times.sorted()
    let best = sorted[0]
    let median = sorted[sorted.count / 2]
    let encodeRate = Double(bytes) / best / 1e6
    let decodeRate = Double(bytes) / (decodeTimes.min() ?? 1) / 1e6
    if a.has("json") {
        try printJSON([
            "scenario": "tokenizer", "implementation": "lorad", "model": dir.path, "file": path,
            "bytes": bytes, "lines": lines.count, "tokens": warm.tokens, "runs": runs,
            "encode_mb_per_s": (encodeRate * 1000).rounded() / 1000,
            "encode_median_mb_per_s": (Double(bytes) / median / 1e6 * 1000).rounded() / 1000,
            "encode_tokens_per_s": (Double(warm.tokens) / best).rounded(),
            "decode_mb_per_s": (decodeRate * 1000).rounded() / 1000,
            "load_s": (loadSeconds * 1000).rounded() / 1000,
        ])
    } else {
        print("lorad tokenizer: \(bytes) bytes, \(lines.count) lines, \(warm.tokens) tokens (loaded in \(String(format: "%.3f", loadSeconds)) s)")
        print(String(format: "  encode: %.2f MB/s best, %.2f MB/s median (%.0f tokens/s)", encodeRate,
                     Double(bytes) / median / 1e6, Double(warm.tokens) / best))
        print(String(format: "  decode: %.2f MB/s", decodeRate))
    }
}
