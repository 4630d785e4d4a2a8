import Foundation
import Grammar
import Tokenization

/// The schema `bench grammar` uses when none is given: an extraction record with nested objects, arrays, enums,
/// a number and anyOf (the shapes agents ask for).
private let benchSchema = #"""
{"type": "object", "properties": {
  "name": {"type": "string"}, "age": {"type": "integer"}, "email": {"anyOf": [{"type": "string"}, {"type": "null"}]},
  "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
              "country": {"enum": ["NO", "SE", "DK", "FI"]}}, "required": ["street", "city", "country"],
              "additionalProperties": false},
  "orders": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"},
             "qty": {"type": "integer"}, "price": {"type": "number"}}, "required": ["sku", "qty", "price"],
             "additionalProperties": false}, "maxItems": 4},
  "vip": {"type": "boolean"}},
 "required": ["name", "age", "email", "address", "orders", "vip"], "additionalProperties": false}
"""#

/// `lorad bench grammar`: the cost of constrained decoding per step and sequence, on a real vocabulary: building the
/// vocabulary trie once, then for each of S sequences a seeded walk of N tokens through the grammar (a random legal
/// token each step, leaning towards closing brackets once long), timing the mask of every step; the sequences share
/// the grammar's states as the engine's do. Reports the mask time's mean, median, p99 and maximum, and the steps
/// whose mask had not been seen before (a trie walk, building transitions when the state is new) apart from the rest.
func benchGrammar(_ args: [String]) throws {
    let a = try Arguments(args, options: ["tokenizer", "schema", "steps", "sequences"], switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    guard let dir = a.string("tokenizer") else { throw UsageError("bench grammar needs --tokenizer DIR") }
    let steps = try a.int("steps") ?? 256
    let sequences = try a.int("sequences") ?? 8
    guard steps >= 1, sequences >= 1 else { throw UsageError("--steps and --sequences must be >= 1") }
    let schemaText = try a.string("schema").map { try String(contentsOfFile: $0, encoding: .utf8) } ?? benchSchema
    let tokenizer: Tokenizer
    do {
        tokenizer = try Tokenizer.load(directory: URL(fileURLWithPath: dir))
    } catch {
        throw CommandError("cannot load the tokenizer in \(dir): \(error)")
    }
    var clock = DispatchTime.now().uptimeNanoseconds
    func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { clock = now }
        return Double(now - clock) / 1e6
    }
    let vocabulary = TokenVocabulary(tokenBytes: (0..<tokenizer.vocabularySize).map { tokenizer.tokenBytes(forId: $0) },
                                     stopTokens: tokenizer.eosTokenId.map { [$0] } ?? [])
    let trieMs = lap()
    var results: [String: Any] = ["vocabulary": vocabulary.size, "trie_nodes": vocabulary.nodeCount, "trie_ms": trieMs]
    log(String(format: "vocabulary %d tokens, trie %d nodes built in %.1f ms", vocabulary.size, vocabulary.nodeCount, trieMs))
    for (name, spec) in [("json_schema", GrammarSpec.jsonSchema(schemaText, strict: false)), ("json_object", .jsonObject)] {
        _ = lap()
        let grammar = try spec.compile()
        let compileMs = lap()
        var fresh: [Double] = [], cached: [Double] = [], all: [Double] = []
        var tokens = 0, completed = 0
        // The sequences share the grammar's states, as the engine's sequences with one grammar do.
        let states = GrammarStates(grammar: grammar, vocabulary: vocabulary)
        var seen = Set<[UInt64]>()
        for s in 0..<sequences {
            var seed = UInt64(s + 1) &* 0x9E37_79B9_7F4A_7C15
            let matcher = GrammarMatcher(states: states)
            var words = [UInt64](repeating: 0, count: vocabulary.maskWords)
            for step in 0..<steps {
                _ = lap()
                words.withUnsafeMutableBufferPointer { matcher.fillMask($0) }
                let ms = lap()
                all.append(ms)
                if seen.insert(words).inserted { fresh.append(ms) } else { cached.append(ms) }
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                guard let pick = benchPick(words, vocabulary: vocabulary, seed: seed, closing: step > 96) else { break }
                if pick < 0 { completed += 1; break }
                _ = matcher.accept(pick)
                tokens += 1
            }
        }
        func stats(_ xs: [Double]) -> [String: Double] {
            guard !xs.isEmpty else { return [:] }
            let sorted = xs.sorted()
            return ["mean_ms": xs.reduce(0, +) / Double(xs.count), "p50_ms": sorted[sorted.count / 2],
                    "p99_ms": sorted[min(sorted.count - 1, sorted.count * 99 / 100)], "max_ms": sorted.last!,
                    "steps": Double(xs.count)]
        }
        results[name] = ["compile_ms": compileMs, "tokens": tokens, "completed": completed, "all": stats(all),
                         "new_mask": stats(fresh), "repeated_mask": stats(cached)]
        let st = stats(all), fr = stats(fresh), ca = stats(cached)
        print(String(format: "%@: %d sequences, %d tokens (%d completed), compile %.2f ms; mask per step: mean %.3f ms, "
                     + "p50 %.3f, p99 %.3f, max %.3f; new-state steps %d mean %.3f ms; repeated-state steps %d mean %.3f ms",
                     name, sequences, tokens, completed, compileMs, st["mean_ms"] ?? 0, st["p50_ms"] ?? 0,
                     st["p99_ms"] ?? 0, st["max_ms"] ?? 0, Int(fr["steps"] ?? 0), fr["mean_ms"] ?? 0,
                     Int(ca["steps"] ?? 0), ca["mean_ms"] ?? 0))
    }
    if a.has("json") {
        let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// A legal token from the mask (seeded), preferring ones with a closing quote or bracket when `closing`; -1 when
/// only the stop token is legal; nil when nothing is.
private func benchPick(_ words: [UInt64], vocabulary: TokenVocabulary, seed: UInt64, closing: Bool) -> Int? {
    var legal: [Int] = []
    for (w, word) in words.enumerated() where word != 0 {
        var bits = word
        while bits != 0 {
            legal.append(w * 64 + bits.trailingZeroBitCount)
            bits &= bits - 1
        }
    }
    guard !legal.isEmpty else { return nil }
    var text = legal.filter { vocabulary.bytes(of: $0) != nil }
    if text.isEmpty { return -1 }
    if closing {
        let closers = text.filter { vocabulary.bytes(of: $0)!.contains { $0 == 0x22 || $0 == 0x7D || $0 == 0x5D } }
        if !closers.isEmpty { text = closers }
        if legal.count > text.count && seed % 3 == 0 { return -1 }
    }
    return text[Int(seed >> 33) % text.count]
}
