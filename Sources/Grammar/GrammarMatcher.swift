/// One sequence's position in a grammar: which tokens may come next (a mask over the vocabulary), accepting a token,
/// rolling back accepted tokens (lookahead verification), and the single legal token when there is only one.
/// Owned by one sequence and touched only by the thread that decodes it (the one that uses its `GrammarStates`).
public final class GrammarMatcher {
    public let states: GrammarStates
    public var grammar: CompiledGrammar { states.grammar }
    public var vocabulary: TokenVocabulary { states.vocabulary }
    private var state: Int32
    private var history: [Int32] = []

    /// A matcher at the start of the grammar, sharing `states` with other sequences of the same grammar.
    public init(states: GrammarStates) {
        self.states = states
        state = states.start
    }

    /// A matcher with states of its own.
    public convenience init(grammar: CompiledGrammar, vocabulary: TokenVocabulary) {
        self.init(states: GrammarStates(grammar: grammar, vocabulary: vocabulary))
    }

    /// Number of tokens accepted so far (what `rollback` can undo).
    public var acceptedCount: Int { history.count }

    /// Whether the text so far is a complete sentence of the grammar (a stop token is legal now).
    public var canTerminate: Bool { state >= 0 && states.accepts[Int(state)] }

    /// Whether a stop token was accepted: nothing more may follow.
    public var isFinished: Bool { state == GrammarStates.finished }

    /// Accepts one token; returns false (and keeps the state) when the grammar does not allow it.
    @discardableResult
    public func accept(_ token: Int) -> Bool {
        guard let next = states.after(state, token: token) else { return false }
        history.append(state)
        state = next
        return true
    }

    /// Undoes the last `count` accepted tokens.
    public func rollback(_ count: Int) {
        precondition(count >= 0 && count <= history.count, "rollback of \(count) with \(history.count) accepted")
        guard count > 0 else { return }
        state = history[history.count - count]
        history.removeLast(count)
    }

    /// How many of `tokens`, in order, the grammar accepts from the current state (the state is unchanged).
    public func acceptablePrefix(_ tokens: some Sequence<Int>) -> Int {
        var n = 0
        for t in tokens {
            guard accept(t) else { break }
            n += 1
        }
        rollback(n)
        return n
    }

    /// The legal next tokens as bits (bit `id % 64` of word `id / 64`), `vocabulary.maskWords` words.
    public func fillMask(_ words: UnsafeMutableBufferPointer<UInt64>) {
        states.fillMask(state, words)
    }

    /// The legal next tokens as a mask.
    public func mask() -> [UInt64] {
        var words = [UInt64](repeating: 0, count: vocabulary.maskWords)
        words.withUnsafeMutableBufferPointer { fillMask($0) }
        return words
    }

    /// Sets every logit the grammar forbids to -infinity (logits: [vocabulary size] or more; ids past the
    /// vocabulary are forbidden too).
    public func applyMask(to logits: UnsafeMutableBufferPointer<Float>) {
        let words = mask()
        for i in 0..<logits.count {
            let w = i >> 6
            if w >= words.count || words[w] & (UInt64(1) << UInt64(i & 63)) == 0 { logits[i] = -.infinity }
        }
    }

    /// The only legal next token, when exactly one is legal (a stop token counts); nil otherwise.
    public func forcedToken() -> Int? {
        guard state >= 0 else { return nil }
        var found: Int?
        for (w, word) in mask().enumerated() where word != 0 {
            guard word & (word - 1) == 0, found == nil else { return nil }
            found = w * 64 + word.trailingZeroBitCount
        }
        return found
    }
}

/// The states of one grammar over one vocabulary, shared by the matchers of every sequence that uses that grammar:
/// stacks of positions in the grammar (llama.cpp's GBNF matching) kept as persistent linked lists in an arena with
/// identical stacks shared, stack sets interned, the byte transitions between them cached as they are found (a DFA
/// built lazily), and the token mask of recently seen states. After warm-up, a mask is a cache hit or a walk of the
/// vocabulary trie at a table lookup per node. Not thread-safe: one thread (the engine's) uses it and its matchers.
// @unchecked Sendable: it is made on an API worker and handed to the engine thread with the request (the engine's
// submission lock orders the two); from then on only the engine thread touches it. API workers that find it in a
// cache pass the reference on without touching it.
public final class GrammarStates: @unchecked Sendable {
    public let grammar: CompiledGrammar
    public let vocabulary: TokenVocabulary

    // Stack arena: a node is a grammar position (its top element) and its parent node (-1: the bottom).
    private var nodePos: [Int32] = []
    private var nodeParent: [Int32] = []
    private var nodeIndex: [Int64: Int32] = [:]
    // Interned stack sets: sorted node ids, -1 standing for an emptied stack (the grammar is complete).
    private var members: [[Int32]] = []
    private var setIndex: [[Int32]: Int32] = [:]
    private(set) var accepts: [Bool] = []
    private var nextBytes: [ByteSet] = []
    // Transitions: 256 per set once the set has been left by some byte (-2 unknown, -1 dead).
    private var transitionBase: [Int32] = []
    private var transitions: [Int32] = []
    private var maskCache: [Int32: [UInt64]] = [:]

    /// The set every matcher starts in.
    private(set) var start: Int32 = -1

    static let finished: Int32 = -2
    static let maximumNodes = 4_000_000
    static let maximumTransitionTables = 8192
    static let maximumCachedMasks = 64

    public init(grammar: CompiledGrammar, vocabulary: TokenVocabulary) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        var first: [Int32] = []
        var seen = Set<Int64>()
        for alternative in grammar.alternatives[Int(grammar.root)] {
            expand(alternative, parent: -1, into: &first, seen: &seen)
        }
        start = intern(first)
    }

    /// The state after `token` from `state`, or nil when the grammar does not allow it.
    func after(_ state: Int32, token: Int) -> Int32? {
        guard state >= 0, token >= 0, token < vocabulary.size else { return nil }
        if vocabulary.stopTokens.contains(Int32(token)) {
            return accepts[Int(state)] ? GrammarStates.finished : nil
        }
        let bytes = vocabulary.tokenBytes[token]
        guard !bytes.isEmpty else { return nil }
        var s = state
        for b in bytes {
            s = transition(s, b)
            if s < 0 { return nil }
        }
        return s
    }

    func fillMask(_ state: Int32, _ words: UnsafeMutableBufferPointer<UInt64>) {
        precondition(words.count >= vocabulary.maskWords)
        words.update(repeating: 0)
        guard state >= 0 else { return }
        if let cached = maskCache[state] {
            _ = words.update(fromContentsOf: cached)
            return
        }
        walk(from: state, into: words)
        if maskCache.count >= GrammarStates.maximumCachedMasks { maskCache.removeAll(keepingCapacity: true) }
        maskCache[state] = Array(words.prefix(vocabulary.maskWords))
    }

    // MARK: - Vocabulary walk

    private func walk(from start: Int32, into words: UnsafeMutableBufferPointer<UInt64>) {
        @inline(__always) func allow(_ id: Int32) { words[Int(id >> 6)] |= UInt64(1) << UInt64(id & 63) }
        if accepts[Int(start)] { vocabulary.stopTokens.forEach(allow) }
        let v = vocabulary
        var pending: [(node: Int32, set: Int32)] = [(0, start)]
        while let (node, set) = pending.popLast() {
            for i in v.tokenStart[Int(node)]..<v.tokenStart[Int(node) + 1] { allow(v.tokenAtNode[Int(i)]) }
            let legal = nextBytes[Int(set)]
            if legal.isEmpty { continue }
            for c in v.childStart[Int(node)]..<v.childStart[Int(node) + 1] {
                let b = v.childByte[Int(c)]
                guard legal.contains(b) else { continue }
                let next = transition(set, b)
                if next >= 0 { pending.append((v.childNode[Int(c)], next)) }
            }
        }
    }

    // MARK: - Stack sets

    @inline(__always)
    private func transition(_ set: Int32, _ byte: UInt8) -> Int32 {
        var base = transitionBase[Int(set)]
        if base >= 0 {
            let t = transitions[Int(base) + Int(byte)]
            if t != -2 { return t }
        } else {
            if transitions.count >= GrammarStates.maximumTransitionTables * 256 {
                transitions.removeAll(keepingCapacity: true)
                for i in transitionBase.indices { transitionBase[i] = -1 }
            }
            base = Int32(transitions.count)
            transitionBase[Int(set)] = base
            transitions.append(contentsOf: repeatElement(-2, count: 256))
        }
        let t = advance(set, byte)
        transitions[Int(base) + Int(byte)] = t
        return t
    }

    private func advance(_ set: Int32, _ byte: UInt8) -> Int32 {
        guard nextBytes[Int(set)].contains(byte) else { return -1 }
        var out: [Int32] = []
        var seen = Set<Int64>()
        for node in members[Int(set)] where node >= 0 {
            let p = nodePos[Int(node)]
            let element = grammar.code[Int(p)]
            if grammar.sets[Int(element)].contains(byte) {
                expand(p + 1, parent: nodeParent[Int(node)], into: &out, seen: &seen)
            }
        }
        guard !out.isEmpty, nodePos.count < GrammarStates.maximumNodes else { return -1 }
        return intern(out)
    }

    /// Expands the stack (position `p` over `parent`) until every stack's top is a byte set, adding those stacks.
    private func expand(_ p: Int32, parent: Int32, into out: inout [Int32], seen: inout Set<Int64>) {
        var work: [(Int32, Int32)] = [(p, parent)]
        while let (p, parent) = work.popLast() {
            guard seen.insert(Int64(p) << 32 | Int64(UInt32(bitPattern: parent))).inserted else { continue }
            let c = grammar.code[Int(p)]
            if c >= 0 {
                out.append(node(p, parent))
            } else if c == CompiledGrammar.end {
                if parent < 0 {
                    out.append(-1)
                } else {
                    work.append((nodePos[Int(parent)], nodeParent[Int(parent)]))
                }
            } else {
                let rule = Int(-(c + 2))
                // A reference in tail position returns straight to the parent: repetition does not grow the stack.
                let back = grammar.code[Int(p) + 1] == CompiledGrammar.end ? parent : node(p + 1, parent)
                for start in grammar.alternatives[rule].reversed() { work.append((start, back)) }
            }
        }
    }

    private func node(_ p: Int32, _ parent: Int32) -> Int32 {
        let key = Int64(p) << 32 | Int64(UInt32(bitPattern: parent))
        if let n = nodeIndex[key] { return n }
        let n = Int32(nodePos.count)
        nodePos.append(p)
        nodeParent.append(parent)
        nodeIndex[key] = n
        return n
    }

    private func intern(_ stacks: [Int32]) -> Int32 {
        let sorted = Array(Set(stacks)).sorted()
        if let s = setIndex[sorted] { return s }
        let s = Int32(members.count)
        members.append(sorted)
        setIndex[sorted] = s
        var bytes = ByteSet()
        var accepting = false
        for n in sorted {
            if n < 0 { accepting = true } else { bytes.formUnion(grammar.sets[Int(grammar.code[Int(nodePos[Int(n)])])]) }
        }
        accepts.append(accepting)
        nextBytes.append(bytes)
        transitionBase.append(-1)
        return s
    }
}
