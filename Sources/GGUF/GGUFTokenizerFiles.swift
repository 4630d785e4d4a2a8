import Foundation

/// A GGUF model's tokenizer (`tokenizer.ggml.*`) and chat template (`tokenizer.chat_template`) written out as the
/// Hugging Face files lorad's tokenizer reads: `tokenizer.json` and `tokenizer_config.json`. The pre-tokenizer name
/// (`tokenizer.ggml.pre`) picks the split pattern that family's Hugging Face tokenizer uses, so ids are the same.
public struct GGUFTokenizerFiles: Sendable {
    public let tokenizerJSON: Data
    public let configJSON: Data

    /// The Hugging Face pre-tokenizer (and normalizer) of each `tokenizer.ggml.pre` name lorad knows.
    public static let preTokenizers = ["default", "gpt2", "llama-bpe", "llama3", "llama-v3", "smollm", "qwen2",
                                       "tekken"]

    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let tekkenPattern = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    public init(_ f: GGUFFile) throws {
        let model = try f.string("tokenizer.ggml.model") ?? "(none)"
        guard let tokenValues = try f.array("tokenizer.ggml.tokens") else {
            throw GGUFError("metadata \"tokenizer.ggml.tokens\" is missing: the file has no tokenizer")
        }
        let tokens = try tokenValues.enumerated().map { i, v in
            guard let s = v.string else { throw GGUFError("metadata \"tokenizer.ggml.tokens\"[\(i)] is not a string") }
            return s
        }
        let types = try f.array("tokenizer.ggml.token_type").map { list in
            try list.enumerated().map { i, v in
                guard let t = v.int else { throw GGUFError("metadata \"tokenizer.ggml.token_type\"[\(i)] is not an integer") }
                return t
            }
        }
        if let types, types.count != tokens.count {
            throw GGUFError("metadata \"tokenizer.ggml.token_type\" has \(types.count) entries for \(tokens.count) tokens")
        }
        func tokenId(_ key: String) throws -> Int? {
            guard let id = try f.int(key) else { return nil }
            guard id >= 0, id < tokens.count else {
                throw GGUFError("metadata \"\(key)\" = \(id) is outside the \(tokens.count)-token vocabulary")
            }
            return id
        }
        let bos = try tokenId("tokenizer.ggml.bos_token_id")
        let eos = try tokenId("tokenizer.ggml.eos_token_id")
        let unk = try tokenId("tokenizer.ggml.unknown_token_id")
        let pad = try tokenId("tokenizer.ggml.padding_token_id")

        var root: [String: Any] = ["version": "1.0", "truncation": NSNull(), "padding": NSNull()]
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = i }
        // Control (3) and user-defined (4) tokens are matched in text as whole tokens, as llama.cpp does.
        var added: [[String: Any]] = []
        for (i, t) in tokens.enumerated() {
            let type = types?[i] ?? 1
            guard type == 3 || type == 4 else { continue }
            added.append(["id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                          "normalized": type == 4 && model == "llama", "special": type == 3])
        }
        root["added_tokens"] = added
        let addBosDefault: Bool
        switch model {
        case "gpt2":
            addBosDefault = false
            let pre = try f.string("tokenizer.ggml.pre") ?? "default"
            guard let merges = try f.array("tokenizer.ggml.merges") else {
                throw GGUFError("metadata \"tokenizer.ggml.merges\" is missing (a gpt2 tokenizer needs its merges)")
            }
            let mergeStrings = try merges.enumerated().map { i, v in
                guard let s = v.string, s.split(separator: " ", omittingEmptySubsequences: false).count == 2 else {
                    throw GGUFError("metadata \"tokenizer.ggml.merges\"[\(i)] is not two tokens separated by a space")
                }
                return s
            }
            let (normalizer, preTokenizer, ignoreMerges) = try Self.byteLevel(pre: pre)
            root["normalizer"] = normalizer ?? NSNull()
            root["pre_tokenizer"] = preTokenizer
            root["decoder"] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]
            root["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(),
                             "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": false,
                             "byte_fallback": false, "ignore_merges": ignoreMerges, "vocab": vocab,
                             "merges": mergeStrings] as [String: Any]
        case "llama":
            addBosDefault = true
            let scores = try f.array("tokenizer.ggml.scores").map { list in
                try list.enumerated().map { i, v in
                    guard let d = v.double else { throw GGUFError("metadata \"tokenizer.ggml.scores\"[\(i)] is not a number") }
                    return d
                }
            }
            guard let scores, scores.count == tokens.count else {
                throw GGUFError("metadata \"tokenizer.ggml.scores\" must give one score per token for a llama (SentencePiece) tokenizer")
            }
            let addSpace = try f.bool("tokenizer.ggml.add_space_prefix") ?? true
            var normalizers: [[String: Any]] = []
            if addSpace { normalizers.append(["type": "Prepend", "prepend": "\u{2581}"]) }
            normalizers.append(["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"])
            root["normalizer"] = ["type": "Sequence", "normalizers": normalizers]
            root["pre_tokenizer"] = NSNull()
            var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "],
                                             ["type": "ByteFallback"], ["type": "Fuse"]]
            if addSpace { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
            root["decoder"] = ["type": "Sequence", "decoders": decoders]
            root["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": unk.map { tokens[$0] } ?? NSNull(),
                             "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": true,
                             "byte_fallback": true, "ignore_merges": false, "vocab": vocab,
                             "merges": Self.sentencePieceMerges(tokens: tokens, scores: scores, types: types,
                                                                vocab: vocab)] as [String: Any]
        default:
            throw GGUFError("tokenizer model \"\(model)\" (metadata \"tokenizer.ggml.model\") is not supported (gpt2 and llama are)")
        }
        let addBos = try f.bool("tokenizer.ggml.add_bos_token") ?? addBosDefault
        let addEos = try f.bool("tokenizer.ggml.add_eos_token") ?? false
        var single: [[String: Any]] = []
        var special: [String: Any] = [:]
        func specialPiece(_ id: Int) -> [String: Any] {
            special[tokens[id]] = ["id": tokens[id], "ids": [id], "tokens": [tokens[id]]]
            return ["SpecialToken": ["id": tokens[id], "type_id": 0]]
        }
        if addBos, let bos { single.append(specialPiece(bos)) }
        single.append(["Sequence": ["id": "A", "type_id": 0]])
        if addEos, let eos { single.append(specialPiece(eos)) }
        root["post_processor"] = ["type": "TemplateProcessing", "single": single, "pair": single + single,
                                  "special_tokens": special] as [String: Any]

        var config: [String: Any] = ["add_bos_token": addBos, "add_eos_token": addEos]
        if let bos { config["bos_token"] = tokens[bos] }
        if let eos { config["eos_token"] = tokens[eos] }
        if let unk { config["unk_token"] = tokens[unk] }
        if let pad { config["pad_token"] = tokens[pad] }
        if let template = try f.string("tokenizer.chat_template") { config["chat_template"] = template }
        tokenizerJSON = try JSONSerialization.data(withJSONObject: root)
        configJSON = try JSONSerialization.data(withJSONObject: config)
    }

    /// (normalizer, pre_tokenizer, ignore_merges) of the byte-level BPE family `pre`, as its Hugging Face
    /// tokenizer.json has them.
    static func byteLevel(pre: String) throws -> ([String: Any]?, [String: Any], Bool) {
        func split(_ pattern: String) -> [String: Any] {
            ["type": "Split", "pattern": ["Regex": pattern], "behavior": "Isolated", "invert": false]
        }
        let byteLevelNoRegex: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                                "use_regex": false]
        let byteLevelGPT2: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                             "use_regex": true]
        switch pre {
        case "default", "gpt2":
            return (nil, byteLevelGPT2, false)
        case "llama-bpe", "llama3", "llama-v3":
            return (nil, ["type": "Sequence", "pretokenizers": [split(llama3Pattern), byteLevelNoRegex]], true)
        case "smollm":
            return (nil, ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true],
                                                                  byteLevelGPT2]], false)
        case "qwen2":
            return (["type": "NFC"], ["type": "Sequence", "pretokenizers": [split(qwen2Pattern), byteLevelNoRegex]],
                    false)
        case "tekken":
            return (nil, ["type": "Sequence", "pretokenizers": [split(tekkenPattern), byteLevelNoRegex]], false)
        default:
            throw GGUFError("pre-tokenizer \"\(pre)\" (metadata \"tokenizer.ggml.pre\") is not supported (lorad knows \(preTokenizers.joined(separator: ", ")))")
        }
    }

    /// BPE merges equivalent to SentencePiece's score-ordered merging, built as Hugging Face's converter does: every
    /// split of a vocabulary piece into two pieces that are both in the vocabulary, ranked by the merged piece's
    /// score (higher first), then by the pieces' ids.
    static func sentencePieceMerges(tokens: [String], scores: [Double], types: [Int]?,
                                    vocab: [String: Int]) -> [[String]] {
        var merges: [(score: Double, left: Int, right: Int)] = []
        for (id, piece) in tokens.enumerated() {
            let type = types?[id] ?? 1
            guard type == 1 || type == 4 else { continue }
            let chars = Array(piece)
            guard chars.count > 1 else { continue }
            for i in 1..<chars.count {
                if let l = vocab[String(chars[..<i])], let r = vocab[String(chars[i...])] {
                    merges.append((scores[id], l, r))
                }
            }
        }
        merges.sort { a, b in
            a.score != b.score ? a.score > b.score : a.left != b.left ? a.left < b.left : a.right < b.right
        }
        return merges.map { [tokens[$0.left], tokens[$0.right]] }
    }
}
