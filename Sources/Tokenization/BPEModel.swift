/// Token ids above this (about 2 million) are rejected when loading: real vocabularies have at most a few hundred
/// thousand entries, and the limit keeps a hostile tokenizer.json from making us allocate huge id tables.
let maximumTokenId = (1 << 21) - 1

/// The byte-pair-encoding model (`"model": {"type": "BPE", ...}`): vocabulary, ranked merges, unknown-token and
/// byte-fallback handling, optional `continuing_subword_prefix` / `end_of_word_suffix`, `ignore_merges`, and a
/// shared word cache. Merging follows Hugging Face exactly: repeatedly merge the adjacent pair with the lowest rank,
/// leftmost first.
final class BPEModel: Sendable {
    /// Token bytes -> id.
    let vocab: ByteStringMap
    /// id -> token, for ids the vocabulary defines.
    let tokens: [String?]
    let merges: MergeTable
    let unknownId: Int32?
    let fuseUnknown: Bool
    let byteFallback: Bool
    /// ids of `<0x00>` ... `<0xFF>` (-1 when absent).
    let byteFallbackIds: [Int32]
    let continuingSubwordPrefix: [UInt8]?
    let endOfWordSuffix: [UInt8]?
    let ignoreMerges: Bool
    let cache = WordCache()

    /// For byte-level pipelines (see `Tokenizer`): the vocabulary re-keyed by the raw bytes its tokens stand for,
    /// and each raw byte's single-character token id (-1 when the vocabulary lacks it).
    let rawByteVocab: ByteStringMap
    let rawByteIds: [Int32]
    /// ids of the single-character ASCII tokens (-1 when absent), to skip hashing the common case.
    let asciiIds: [Int32]
    /// Whether the byte-level fast path is available (no prefix/suffix, which would change per-character keys).
    var supportsRawBytes: Bool { continuingSubwordPrefix == nil && endOfWordSuffix == nil }

    init(json model: JSONObject) throws {
        let ctx = "tokenizer.json model"
        guard let vocabValue = model.optional("vocab") else { throw TokenizerError("\(ctx) is missing \"vocab\"") }
        let vocabObject = try vocabValue.asObject("\(ctx) \"vocab\"")

        var vocab = ByteStringMap(minimumCapacity: vocabObject.members.count)
        var maxId = -1
        for (token, value) in vocabObject.members {
            let id = try value.asInt("\(ctx) vocab entry \"\(token)\"")
            guard id >= 0 else { throw TokenizerError("\(ctx) vocab entry \"\(token)\" has a negative id \(id)") }
            guard id <= maximumTokenId else {
                throw TokenizerError("\(ctx) vocab entry \"\(token)\" has id \(id), above the limit \(maximumTokenId)")
            }
            vocab.insert(token.utf8, value: Int32(id))   // a repeated token: the later entry wins, as in HF
            maxId = max(maxId, id)
        }
        var tokens = [String?](repeating: nil, count: maxId + 1)
        for (token, value) in vocabObject.members {
            let id = try value.asInt("vocab")
            guard vocab.lookup(token) == Int32(id) else { continue }
            if let existing = tokens[id], !existing.utf8.elementsEqual(token.utf8) {
                throw TokenizerError("\(ctx) vocab gives id \(id) to two tokens, \"\(existing)\" and \"\(token)\"")
            }
            tokens[id] = token
        }
        self.vocab = vocab
        self.tokens = tokens

        let prefix = try model.optionalString("continuing_subword_prefix", in: ctx)
        let suffix = try model.optionalString("end_of_word_suffix", in: ctx)
        continuingSubwordPrefix = prefix.map { Array($0.utf8) }
        endOfWordSuffix = suffix.map { Array($0.utf8) }
        fuseUnknown = try model.bool("fuse_unk", default: false, in: ctx)
        byteFallback = try model.bool("byte_fallback", default: false, in: ctx)
        ignoreMerges = try model.bool("ignore_merges", default: false, in: ctx)
        if let unk = try model.optionalString("unk_token", in: ctx) {
            guard let id = vocab.lookup(unk) else {
                throw TokenizerError("\(ctx) unk_token \"\(unk)\" is not in the vocabulary")
            }
            unknownId = id
        } else {
            unknownId = nil
        }
        byteFallbackIds = (0..<256).map { b in
            vocab.lookup("<0x" + hexByte(UInt8(b)) + ">") ?? -1
        }

        // Merges: "left right" strings (legacy) or ["left", "right"] pairs.
        let mergeValues = try model.optional("merges").map { try $0.asArray("\(ctx) \"merges\"") } ?? []
        var merges = MergeTable(minimumCapacity: mergeValues.count)
        let prefixLength = continuingSubwordPrefix?.count ?? 0
        var rank: UInt32 = 0
        for (index, value) in mergeValues.enumerated() {
            let left: String, right: String
            switch value {
            case .string(let line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError("\(ctx) merge \(index) \"\(line)\" must be two tokens separated by one space")
                }
                left = String(parts[0]); right = String(parts[1])
            case .array(let pair):
                guard pair.count == 2, case .string(let l) = pair[0], case .string(let r) = pair[1] else {
                    throw TokenizerError("\(ctx) merge \(index) must be a pair of strings")
                }
                left = l; right = r
            default:
                throw TokenizerError("\(ctx) merge \(index) must be a string or a pair of strings, not \(value.typeName)")
            }
            guard let leftId = vocab.lookup(left) else {
                throw TokenizerError("\(ctx) merge \(index) (\"\(left)\" \"\(right)\") names a token that is not in the vocabulary: \"\(left)\"")
            }
            guard let rightId = vocab.lookup(right) else {
                throw TokenizerError("\(ctx) merge \(index) (\"\(left)\" \"\(right)\") names a token that is not in the vocabulary: \"\(right)\"")
            }
            var mergedBytes = Array(left.utf8)
            let rightBytes = Array(right.utf8)
            guard rightBytes.count >= prefixLength else {
                throw TokenizerError("\(ctx) merge \(index): \"\(right)\" is shorter than the continuing_subword_prefix")
            }
            mergedBytes.append(contentsOf: rightBytes[prefixLength...])
            guard let mergedId = vocab.lookup(mergedBytes) else {
                let merged = String(decoding: mergedBytes, as: UTF8.self)
                throw TokenizerError("\(ctx) merge \(index) (\"\(left)\" \"\(right)\") produces \"\(merged)\", which is not in the vocabulary")
            }
            merges.insert(left: leftId, right: rightId, rank: rank, merged: mergedId)
            rank += 1
        }
        self.merges = merges

        // Raw-byte view of the vocabulary for byte-level pipelines.
        var raw = ByteStringMap(minimumCapacity: vocabObject.members.count)
        for (id, token) in tokens.enumerated() {
            guard let token, let bytes = ByteLevelAlphabet.bytes(of: token) else { continue }
            raw.insert(bytes, value: Int32(id))
        }
        rawByteVocab = raw
        rawByteIds = (0..<256).map { b in
            vocab.lookup(ByteLevelAlphabet.utf8ForByte[b]) ?? -1
        }
        asciiIds = (0..<128).map { b in vocab.lookup([UInt8(b)]) ?? -1 }
    }

    // MARK: Tokenizing

    /// Appends the ids of one pre-tokenized word (UTF-8 in the model's alphabet) to `out`.
    func tokenize(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        guard !word.isEmpty, let base = word.baseAddress else { return }
        if ignoreMerges, let id = vocab.lookup(base, word.count) {
            out.append(Int(id))
            return
        }
        if cache.lookup(word, into: &out) { return }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        initialSymbols(word, into: &symbols)
        merge(&symbols)
        for id in symbols { out.append(Int(id)) }
        cache.insert(word, ids: symbols[...])
    }

    /// Like `tokenize`, for a word given as raw bytes when the pipeline ends in the ByteLevel pre-tokenizer: the
    /// result is the same as tokenizing the byte-level characters of `word`, without building them.
    func tokenizeRawBytes(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        guard !word.isEmpty, let base = word.baseAddress else { return }
        if ignoreMerges, let id = rawByteVocab.lookup(base, word.count) {
            out.append(Int(id))
            return
        }
        if cache.lookup(word, into: &out) { return }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var unknown = UnknownRun()
        for b in word {
            let id = rawByteIds[Int(b)]
            if id >= 0 {
                unknown.flush(into: &symbols)
                symbols.append(id)
            } else {
                let character = ByteLevelAlphabet.utf8ForByte[Int(b)]
                character.withUnsafeBufferPointer { handleMissing($0, into: &symbols, unknown: &unknown) }
            }
        }
        unknown.flush(into: &symbols)
        merge(&symbols)
        for id in symbols { out.append(Int(id)) }
        cache.insert(word, ids: symbols[...])
    }

    /// A pending run of unknown characters (fused into one `unk` when `fuse_unk` is set).
    private struct UnknownRun {
        var id: Int32 = -1
        mutating func flush(into symbols: inout [Int32]) {
            if id >= 0 { symbols.append(id); id = -1 }
        }
    }

    /// Splits a word into characters and looks each up (with prefix/suffix, byte fallback and unk as configured).
    private func initialSymbols(_ word: UnsafeBufferPointer<UInt8>, into symbols: inout [Int32]) {
        var unknown = UnknownRun()
        var i = 0
        var scratch: [UInt8] = []
        while i < word.count {
            let length = min(utf8SequenceLength(word[i]), word.count - i)
            let isFirst = i == 0
            let isLast = i + length == word.count
            let character = UnsafeBufferPointer(rebasing: word[i..<(i + length)])
            i += length
            let needsPrefix = !isFirst && continuingSubwordPrefix != nil
            let needsSuffix = isLast && endOfWordSuffix != nil
            if !needsPrefix && !needsSuffix {
                if length == 1 && character[0] < 0x80 && asciiIds[Int(character[0])] >= 0 {
                    unknown.flush(into: &symbols)
                    symbols.append(asciiIds[Int(character[0])])
                } else if let id = vocab.lookup(character) {
                    unknown.flush(into: &symbols)
                    symbols.append(id)
                } else {
                    handleMissing(character, into: &symbols, unknown: &unknown)
                }
                continue
            }
            scratch.removeAll(keepingCapacity: true)
            if needsPrefix, let p = continuingSubwordPrefix { scratch.append(contentsOf: p) }
            scratch.append(contentsOf: character)
            if needsSuffix, let s = endOfWordSuffix { scratch.append(contentsOf: s) }
            if let id = vocab.lookup(scratch) {
                unknown.flush(into: &symbols)
                symbols.append(id)
            } else {
                scratch.withUnsafeBufferPointer { handleMissing($0, into: &symbols, unknown: &unknown) }
            }
        }
        unknown.flush(into: &symbols)
    }

    /// A character missing from the vocabulary: `<0xNN>` tokens for each of its bytes when byte fallback has them
    /// all, else the unknown token (fused with a preceding one when `fuse_unk`), else nothing (dropped, as in HF).
    private func handleMissing(_ text: UnsafeBufferPointer<UInt8>, into symbols: inout [Int32], unknown: inout UnknownRun) {
        if byteFallback && text.allSatisfy({ byteFallbackIds[Int($0)] >= 0 }) {
            // Like HF, a pending unknown run is not flushed first (it can only exist if some <0xNN> is missing).
            for b in text { symbols.append(byteFallbackIds[Int(b)]) }
            return
        }
        guard let unk = unknownId else { return }
        if unknown.id >= 0 && !fuseUnknown { symbols.append(unknown.id) }
        unknown.id = unk
    }

    /// Applies the merges in rank order. Short words use a flat array scan; long ones a binary heap over a
    /// linked list, so a megabyte-long word stays O(n log n).
    func merge(_ symbols: inout [Int32]) {
        if symbols.count < 2 { return }
        if symbols.count <= 64 {
            mergeSmall(&symbols)
        } else {
            mergeLarge(&symbols)
        }
    }

    private static let noMerge = UInt64.max

    private func mergeSmall(_ symbols: inout [Int32]) {
        var n = symbols.count
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { pairs in
            symbols.withUnsafeMutableBufferPointer { ids in
                for i in 0..<(n - 1) { pairs[i] = merges.lookup(ids[i], ids[i + 1]) ?? BPEModel.noMerge }
                while n > 1 {
                    var best = BPEModel.noMerge
                    var k = -1
                    for i in 0..<(n - 1) where pairs[i] < best {
                        best = pairs[i]
                        k = i
                    }
                    if k < 0 { break }
                    ids[k] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    // Remove symbol k+1 and pair k+1.
                    var j = k + 1
                    while j < n - 1 {
                        ids[j] = ids[j + 1]
                        pairs[j] = pairs[j + 1]
                        j += 1
                    }
                    n -= 1
                    if k > 0 { pairs[k - 1] = merges.lookup(ids[k - 1], ids[k]) ?? BPEModel.noMerge }
                    if k < n - 1 { pairs[k] = merges.lookup(ids[k], ids[k + 1]) ?? BPEModel.noMerge }
                }
            }
        }
        symbols.removeSubrange(n...)
    }

    private func mergeLarge(_ symbols: inout [Int32]) {
        let n = symbols.count
        var prev = [Int32](repeating: -1, count: n)
        var next = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            prev[i] = Int32(i - 1)
            next[i] = i + 1 < n ? Int32(i + 1) : -1
        }
        // Heap entries: rank << 32 | position (smallest rank, then leftmost position, first).
        var heap = MinHeap()
        heap.reserve(n)
        for i in 0..<(n - 1) {
            if let m = merges.lookup(symbols[i], symbols[i + 1]) {
                heap.push((m >> 32) << 32 | UInt64(i))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0 else { continue }
            // Skip stale entries: the pair at `pos` must still be the one this entry was pushed for.
            guard let m = merges.lookup(symbols[pos], symbols[right]), m >> 32 == rank else { continue }
            symbols[pos] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[right] = false
            let after = Int(next[right])
            next[pos] = Int32(after)
            if after >= 0 { prev[after] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0, let pm = merges.lookup(symbols[before], symbols[pos]) {
                heap.push((pm >> 32) << 32 | UInt64(before))
            }
            if after >= 0, let nm = merges.lookup(symbols[pos], symbols[after]) {
                heap.push((nm >> 32) << 32 | UInt64(pos))
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i = 0
        while i >= 0 && i < n {
            out.append(symbols[i])
            i = Int(next[i])
        }
        symbols = out
    }
}

/// A binary min-heap of `UInt64`.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func reserve(_ n: Int) { items.reserveCapacity(n) }

    mutating func push(_ value: UInt64) {
        items.append(value)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && items[l + 1] < items[l] { c = l + 1 }
            if items[i] <= items[c] { break }
            items.swapAt(i, c)
            i = c
        }
        return first
    }
}

/// Two uppercase hex digits, as in Hugging Face's `<0x0A>` byte tokens.
func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 0xF)]], as: UTF8.self)
}
