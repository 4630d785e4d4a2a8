/// One entry of tokenizer.json `added_tokens`.
struct AddedToken: Sendable {
    var id: Int
    let content: String
    let special: Bool
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool

    init(json value: JSONValue, index: Int) throws {
        let ctx = "tokenizer.json added_tokens[\(index)]"
        let o = try value.asObject(ctx)
        guard let idValue = o.optional("id") else { throw TokenizerError("\(ctx) is missing \"id\"") }
        // Validated like HF (a u32), though the id actually used is assigned when loading (see Tokenizer.init).
        id = try idValue.asInt("\(ctx) \"id\"")
        guard id >= 0 else { throw TokenizerError("\(ctx) has a negative id \(id)") }
        guard id <= Int(UInt32.max) else { throw TokenizerError("\(ctx) has id \(id), out of range") }
        content = try o.requiredString("content", in: ctx)
        special = try o.bool("special", default: false, in: ctx)
        singleWord = try o.bool("single_word", default: false, in: ctx)
        lstrip = try o.bool("lstrip", default: false, in: ctx)
        rstrip = try o.bool("rstrip", default: false, in: ctx)
        normalized = try o.bool("normalized", default: !special, in: ctx)
    }
}

/// A set of byte patterns matched leftmost-longest (what Hugging Face's Aho-Corasick `LeftmostLongest` gives).
struct TokenTrie: Sendable {
    private var edgeStart: [Int32] = [0]      // per node, into edgeBytes/edgeTargets (edges sorted by byte)
    private var edgeBytes: [UInt8] = []
    private var edgeTargets: [Int32] = []
    private var terminal: [Int32] = [-1]      // per node: payload or -1
    private var firstBytes = [Bool](repeating: false, count: 256)
    private(set) var isEmpty = true

    /// Builds from (pattern, payload) pairs; the first occurrence of a repeated pattern wins. Empty patterns are
    /// ignored (HF skips empty added tokens).
    init(_ patterns: [([UInt8], Int32)]) {
        var children: [[(UInt8, Int32)]] = [[]]
        var terms: [Int32] = [-1]
        for (pattern, payload) in patterns where !pattern.isEmpty {
            var node = 0
            for b in pattern {
                if let next = children[node].first(where: { $0.0 == b })?.1 {
                    node = Int(next)
                } else {
                    children.append([])
                    terms.append(-1)
                    let next = Int32(children.count - 1)
                    children[node].append((b, next))
                    node = Int(next)
                }
            }
            if terms[node] < 0 { terms[node] = payload }
            firstBytes[Int(pattern[0])] = true
            isEmpty = false
        }
        edgeStart = []
        for node in children.indices {
            edgeStart.append(Int32(edgeBytes.count))
            for (b, t) in children[node].sorted(by: { $0.0 < $1.0 }) {
                edgeBytes.append(b)
                edgeTargets.append(t)
            }
        }
        edgeStart.append(Int32(edgeBytes.count))
        terminal = terms
    }

    /// The longest pattern starting at `i` (not running past `end`): its length and payload.
    @inline(__always)
    func longestMatch(_ p: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> (length: Int, payload: Int32)? {
        guard firstBytes[Int(p[i])] else { return nil }
        var node = 0
        var best: (Int, Int32)?
        var j = i
        while j < end {
            let b = p[j]
            var e = Int(edgeStart[node])
            let stop = Int(edgeStart[node + 1])
            var next = -1
            while e < stop {
                if edgeBytes[e] == b { next = Int(edgeTargets[e]); break }
                e += 1
            }
            if next < 0 { break }
            node = next
            j += 1
            if terminal[node] >= 0 { best = (j - i, terminal[node]) }
        }
        return best
    }
}

/// The added tokens: lookups by id and content, and splitting text around them the way Hugging Face does
/// (non-normalized tokens on the raw text, normalized ones on each normalized piece; `single_word`, `lstrip`,
/// `rstrip` honoured).
struct AddedVocabulary: Sendable {
    let tokens: [AddedToken]
    let rawTrie: TokenTrie
    let normalizedTrie: TokenTrie

    /// - tokens: deduplicated by content (the first wins) with their final ids.
    /// - normalize: the tokenizer's normalizer, applied to the content of `normalized` tokens to get their patterns.
    init(tokens: [AddedToken], normalize: ([UInt8]) -> [UInt8]) {
        self.tokens = tokens
        // Special tokens first, then the others, as HF orders its matchers.
        let order = tokens.indices.filter { tokens[$0].special } + tokens.indices.filter { !tokens[$0].special }
        var raw: [([UInt8], Int32)] = []
        var normalized: [([UInt8], Int32)] = []
        for i in order {
            let t = tokens[i]
            if t.normalized {
                normalized.append((normalize(Array(t.content.utf8)), Int32(i)))
            } else {
                raw.append((Array(t.content.utf8), Int32(i)))
            }
        }
        rawTrie = TokenTrie(raw)
        normalizedTrie = TokenTrie(normalized)
    }

    /// Splits bytes[start..<end] into text spans (token -1) and added-token spans (token = the token's id).
    /// Mirrors HF `AddedVocabulary::find_matches`.
    func split(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, trie: TokenTrie,
               into out: inout [(start: Int, end: Int, token: Int)]) {
        if trie.isEmpty || start == end {
            if start < end { out.append((start, end, -1)) }
            return
        }
        var offset = start       // end of the previous split
        var i = start
        while i < end {
            guard let (length, payload) = trie.longestMatch(p, at: i, end: end) else {
                i += 1
                continue
            }
            var matchStart = i
            var matchEnd = i + length
            let token = tokens[Int(payload)]
            if token.singleWord {
                let startOK = matchStart == start || !isWordCharacter(before: matchStart, p, start)
                let endOK = matchEnd == end || !isWordCharacter(at: matchEnd, p)
                if !startOK || !endOK {
                    i = matchEnd   // the matcher consumed this span; HF does not retry inside it
                    continue
                }
            }
            if token.lstrip {
                var s = matchStart
                while s > start {
                    let prev = previousScalarStart(p, s)
                    let (scalar, _) = decodeScalar(p, prev)
                    guard CharClass.flags(scalar) & CharClass.whitespace != 0 else { break }
                    s = prev
                }
                matchStart = max(s, offset)
            }
            if token.rstrip {
                while matchEnd < end {
                    let (scalar, n) = decodeScalar(p, matchEnd)
                    guard CharClass.flags(scalar) & CharClass.whitespace != 0 else { break }
                    matchEnd += n
                }
            }
            if offset < matchStart { out.append((offset, matchStart, -1)) }
            out.append((matchStart, matchEnd, token.id))
            offset = matchEnd
            i = matchEnd
        }
        if offset < end { out.append((offset, end, -1)) }
    }

    private func isWordCharacter(before i: Int, _ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        guard i > start else { return false }
        let (scalar, _) = decodeScalar(p, previousScalarStart(p, i))
        return CharClass.flags(scalar) & CharClass.word != 0
    }

    private func isWordCharacter(at i: Int, _ p: UnsafeBufferPointer<UInt8>) -> Bool {
        let (scalar, _) = decodeScalar(p, i)
        return CharClass.flags(scalar) & CharClass.word != 0
    }
}
