/// One sequence's lookahead decoding state: its Jacobi window, its n-gram pool, the tokens so far, and how many
/// extra tokens per step lookahead has recently bought it (which the budget uses to hand out spare rows).
/// Owned by whoever decodes the sequence (the engine thread, or `Generator`).
public final class LookaheadState {
    public let shape: LookaheadShape
    public private(set) var pool: NGramPool
    public private(set) var window: LookaheadWindow?
    /// Prompt and emitted tokens.
    public private(set) var history: [Int]
    /// Recent extra tokens per step (beyond the one plain decoding gives) with the whole lookahead (window and
    /// candidates), and with candidates alone (measured on such steps, or on plain steps by checking afterwards
    /// what the candidates would have matched).
    public private(set) var fullGain: Double
    public private(set) var verifyGain: Double
    private var shadows: [(start: Int, candidates: [[Int]])] = []
    private var rng: UInt64

    static let prior = 1.0
    static let smoothing = 0.25
    static let drift = 0.02

    /// `context`: the prompt and the tokens emitted so far (the last one is the next step's input).
    public init(shape: LookaheadShape, context: [Int]) {
        self.shape = shape
        history = context
        pool = NGramPool(length: shape.n - 1, capacity: max(1, shape.g))
        pool.add(ngramsOf: context)
        fullGain = Self.prior
        verifyGain = Self.prior
        rng = 0x9E37_79B9_7F4A_7C15 ^ UInt64(context.count)
        for t in context.suffix(64) { rng = (rng ^ UInt64(t)) &* 0x100_0000_01B3 }
        if !shape.isPlain {
            window = LookaheadWindow(width: shape.w, depth: shape.n - 1, seed: (0..<shape.w).map { _ in fill() })
        }
    }

    /// Candidate tokens after the input one: at most N - 1, and one fewer than the tokens still allowed.
    func candidateLength(maxNew: Int) -> Int { max(0, min(shape.n - 1, maxNew - 1)) }

    /// `legalPrefix(c)`: how many leading tokens of candidate `c` may be proposed (a grammar's constraint cuts a
    /// candidate at its first token the grammar rejects; nil: all).
    /// `forced`: tokens known to come next (a grammar's single legal continuation), proposed first.
    private func trie(input: Int, maxNew: Int, limit: Int, legalPrefix: (([Int]) -> Int)?,
                      forced: [Int] = []) -> [CandidateNode] {
        let length = candidateLength(maxNew: maxNew)
        guard length > 0 else { return [] }
        var candidates = pool.candidates(for: input, limit: shape.g)
        if !forced.isEmpty { candidates.insert(forced, at: 0) }
        if let legalPrefix {
            candidates = candidates.map { Array($0.prefix(length)) }.map { Array($0.prefix(legalPrefix($0))) }
                .filter { !$0.isEmpty }
        }
        return CandidateNode.trie(candidates, length: length, limit: limit)
    }

    /// Rows the verification branch would take now (shared prefixes merged).
    public func candidateRowCount(input: Int, maxNew: Int, legalPrefix: (([Int]) -> Int)? = nil,
                                  forced: [Int] = []) -> Int {
        trie(input: input, maxNew: maxNew, limit: shape.candidateRows, legalPrefix: legalPrefix, forced: forced).count
    }

    /// Rows the window would take now; 0 when it cannot help (no tokens left to gain, or past the context).
    public func windowRowCount(position: Int, maxNew: Int, maxPositions: Int) -> Int {
        guard let window, maxNew > 1, position + window.depth + window.width <= maxPositions else { return 0 }
        return window.rowCount
    }

    /// This step's rows for input token `input` at `position`: up to `candidateRows` trie rows, and the window
    /// when `withWindow`.
    public func draft(input: Int, position: Int, maxNew: Int, candidateRows: Int, withWindow: Bool,
                      legalPrefix: (([Int]) -> Int)? = nil, forced: [Int] = []) -> LookaheadDraft {
        LookaheadDraft(input: input, position: position,
                       nodes: trie(input: input, maxNew: maxNew, limit: candidateRows, legalPrefix: legalPrefix,
                                   forced: forced),
                       window: withWindow ? window : nil)
    }

    /// Records a step: the tokens it emitted, in order, and the draft it ran (nil: a plain row). `greedy(row)` is
    /// the argmax of a draft row's logits (the window's new level is greedy whatever the request samples with).
    public func record(_ draft: LookaheadDraft?, emitted: [Int], greedy: (Int) -> Int) {
        guard !emitted.isEmpty else { return }
        let input = history.last ?? 0
        let start = history.count
        history += emitted
        pool.add(ngramsOf: history, from: start - pool.length)
        let extra = Double(emitted.count - 1)
        if let draft, !draft.windowOutputs.isEmpty, var w = window {
            let outputs = draft.windowOutputs.map(greedy)
            w.advance(outputs: outputs, input: input, accepted: emitted.count, fill: fill) { key, rest in
                pool.add(key, rest)
            }
            window = w
            fullGain += Self.smoothing * (extra - fullGain)
        } else {
            window?.skip(accepted: emitted.count, fill: fill)
            fullGain += Self.drift * (Self.prior - fullGain)
        }
        if let draft, draft.candidateRows > 0 { verifyGain += Self.smoothing * (extra - verifyGain) }
        resolveShadows()
    }

    /// Notes what the verification branch would have proposed on a plain step for `input`, to learn afterwards
    /// how many tokens it would have gained.
    public func shadow(input: Int, maxNew: Int) {
        let length = candidateLength(maxNew: maxNew)
        guard length > 0 else { return }
        let candidates = pool.candidates(for: input, limit: shape.g).map { Array($0.prefix(length)) }
        if !candidates.isEmpty { shadows.append((history.count, candidates)) }
    }

    private func resolveShadows() {
        shadows.removeAll { s in
            var best = 0
            var open = false
            for cand in s.candidates {
                var k = 0
                while k < cand.count, s.start + k < history.count, cand[k] == history[s.start + k] { k += 1 }
                best = max(best, k)
                if k < cand.count && s.start + k >= history.count { open = true }
            }
            if open { return false }
            verifyGain += Self.smoothing * (Double(best) - verifyGain)
            return true
        }
    }

    /// A token from the history, chosen pseudo-randomly (deterministic per sequence): seeds window guesses.
    private func fill() -> Int {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return history.isEmpty ? 0 : history[Int(rng % UInt64(history.count))]
    }
}
