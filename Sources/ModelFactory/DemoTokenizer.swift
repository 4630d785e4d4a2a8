import Foundation

/// The demo model's tokenizer: a byte-level BPE (GPT-2 byte alphabet, GPT-2 pre-tokenizer regex) whose merges are
/// learned deterministically from a small embedded text, plus BOS/EOS special tokens. Written as a standard
/// Hugging Face tokenizer.json, so it exercises the same loader as real models.
public enum DemoTokenizer {
    public static let mergeCount = 254
    public static let vocabularySize = 256 + mergeCount + 2
    public static let bosId = 256 + mergeCount
    public static let eosId = bosId + 1
    public static let bos = "<|begin_of_text|>"
    public static let eos = "<|end_of_text|>"

    /// Text the merges are learned from (English prose and a little Python).
    static let corpus = """
        The quick brown fox jumps over the lazy dog. A small model can still be served well when the server is \
        careful: it batches requests from many people together, it keeps the memory it needs in one pool, and it \
        streams the answer back as soon as each token is ready. Adapters change what the model says without \
        changing the model itself. Each adapter is a pair of small matrices for some of the projections in every \
        layer, and the server applies the right pair to the right rows of the batch. Write the answer in plain \
        words. Summarise the following text. Translate this sentence into French. What is the capital of France? \
        The weather today is sunny with a light breeze from the west, and the forecast for tomorrow is rain.
        def fibonacci(n):
            if n < 2:
                return n
            return fibonacci(n - 1) + fibonacci(n - 2)

        class Server:
            def __init__(self, model, adapters):
                self.model = model
                self.adapters = adapters

            def generate(self, prompt, max_tokens=16):
                tokens = self.model.tokenize(prompt)
                for _ in range(max_tokens):
                    tokens.append(self.model.next_token(tokens))
                return self.model.detokenize(tokens)
        SELECT name, count(*) FROM requests WHERE status = 200 GROUP BY name ORDER BY count(*) DESC;
        """

    /// GPT-2's reversible byte -> printable character table.
    static let byteToUnicode: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    /// Words as GPT-2 pre-tokenizes them, roughly: runs of letters/digits/other with their leading space.
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        func kind(_ c: Character) -> Int { c.isLetter ? 0 : c.isNumber ? 1 : c == " " ? 3 : c.isWhitespace ? 4 : 2 }
        for c in text {
            if current.isEmpty { current.append(c); continue }
            let last = current.last!
            let sameRun = kind(c) == kind(last) && kind(c) != 4
            let afterSpace = last == " " && current.count == 1 && kind(c) != 3 && kind(c) != 4
            if sameRun || afterSpace { current.append(c) } else {
                out.append(current)
                current = String(c)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// Learns `mergeCount` merges: repeatedly join the most frequent adjacent pair (ties broken by the pair's text).
    static func learnMerges() -> [(String, String)] {
        var counts: [[String]: Int] = [:]
        for w in words(corpus) {
            counts[w.utf8.map { String(byteToUnicode[Int($0)]) }, default: 0] += 1
        }
        var merges: [(String, String)] = []
        while merges.count < mergeCount {
            var pairs: [String: (pair: (String, String), count: Int)] = [:]
            for (symbols, n) in counts where symbols.count > 1 {
                for i in 0..<(symbols.count - 1) {
                    let key = symbols[i] + "\u{0}" + symbols[i + 1]
                    pairs[key, default: ((symbols[i], symbols[i + 1]), 0)].count += n
                }
            }
            guard let best = pairs.max(by: { a, b in
                a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key
            }) else { break }
            let (left, right) = best.value.pair
            merges.append((left, right))
            var next: [[String]: Int] = [:]
            for (symbols, n) in counts {
                var merged: [String] = []
                var i = 0
                while i < symbols.count {
                    if i + 1 < symbols.count && symbols[i] == left && symbols[i + 1] == right {
                        merged.append(left + right)
                        i += 2
                    } else {
                        merged.append(symbols[i])
                        i += 1
                    }
                }
                next[merged, default: 0] += n
            }
            counts = next
        }
        return merges
    }

    /// tokenizer.json text.
    public static func tokenizerJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for b in 0..<256 { vocab[String(byteToUnicode[b])] = b }
        let merges = learnMerges()
        for (left, right) in merges where vocab[left + right] == nil { vocab[left + right] = vocab.count }
        // Pad with unused merges' ids if duplicates collapsed (keeps the vocabulary size fixed).
        var filler = 0
        while vocab.count < 256 + mergeCount {
            vocab["<|reserved_\(filler)|>"] = vocab.count
            filler += 1
        }
        func special(_ id: Int, _ content: String) -> [String: Any] {
            ["id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                        "use_regex": true]
        let json: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": [special(bosId, bos), special(eosId, eos)],
            "normalizer": NSNull(),
            "pre_tokenizer": byteLevel,
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": bos, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": bos, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["SpecialToken": ["id": bos, "type_id": 1]], ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": [bos: ["id": bos, "ids": [bosId], "tokens": [bos]]],
            ] as [String: Any],
            "decoder": byteLevel,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": merges.map { "\($0.0) \($0.1)" },
            ] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
    }

    /// tokenizer_config.json text, with a small chat template.
    public static func tokenizerConfigJSON() throws -> Data {
        let json: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": bos, "eos_token": eos,
            "model_max_length": 2048,
            "clean_up_tokenization_spaces": false,
            "chat_template": "{{ bos_token }}{% for message in messages %}{{ message['role'] }}: {{ message['content'] | trim }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
        ]
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
    }
}
