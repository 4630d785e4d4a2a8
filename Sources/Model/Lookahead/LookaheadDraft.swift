/// One sequence's rows for one lookahead step, in local row order:
///   row 0                  the input token (the last emitted one) at position p;
///   verification branch    candidate n-grams merged into a token trie (shared prefixes share rows), node at
///                          depth k at position p + k, seeing the input and its ancestors;
///   lookahead branch       the window's rows (see `LookaheadWindow`).
/// `mask[i][j]`: local row i may attend to local row j (besides the committed KV). Ancestors always come before
/// their descendants, so a candidate row sums its attention in the same order as plain decoding would.
public struct LookaheadDraft: Sendable {
    public private(set) var tokens: [Int]        // [R]
    public private(set) var positions: [Int]     // [R]
    public private(set) var mask: [[Bool]]       // [R][R]
    /// Local rows whose logits the step needs, ascending.
    public private(set) var logitRows: [Int]
    /// Rows of the window's top level per column (column 0 of level 0 is row 0); empty when the window did not run.
    public private(set) var windowOutputs: [Int]
    /// Trie nodes (rows 1...candidateRows).
    public let candidateRows: Int
    /// The deepest candidate: the step commits at most 1 + this many rows and emits at most 1 + this many tokens.
    public let candidateDepth: Int
    private var children: [[(token: Int, row: Int)]]
    private var logitIndex: [Int]

    public var rowCount: Int { tokens.count }
    public var windowRowCount: Int { rowCount - 1 - candidateRows }
    public var maxCommit: Int { 1 + candidateDepth }

    /// `nodes`: the candidate trie in insertion order (parent 0 is the input row; parents come first).
    init(input: Int, position p: Int, nodes: [CandidateNode], window: LookaheadWindow?) {
        tokens = [input]
        positions = [p]
        var parents = [-1]
        var depth = 0
        for node in nodes {
            tokens.append(node.token)
            positions.append(p + node.depth)
            parents.append(node.parent)
            depth = max(depth, node.depth)
        }
        candidateRows = nodes.count
        candidateDepth = depth
        let windowRows = window?.rows ?? []
        for r in windowRows {
            tokens.append(r.token)
            positions.append(p + r.level + r.column)
        }
        let R = tokens.count
        mask = [[Bool]](repeating: [Bool](repeating: false, count: R), count: R)
        children = [[(token: Int, row: Int)]](repeating: [], count: 1 + nodes.count)
        mask[0][0] = true
        for i in 1..<(1 + nodes.count) {
            mask[i] = mask[parents[i]]
            mask[i][i] = true
            children[parents[i]].append((tokens[i], i))
        }
        windowOutputs = []
        if let window {
            let base = 1 + nodes.count
            for (k, r) in windowRows.enumerated() {
                let row = base + k
                mask[row][0] = true
                for c in 0...r.column { if let o = window.offset(level: 0, column: c) { mask[row][base + o] = true } }
                for l in 0...r.level { if let o = window.offset(level: l, column: r.column) { mask[row][base + o] = true } }
            }
            let top = window.levels.count - 1
            windowOutputs = (0..<window.width).map { c in window.offset(level: top, column: c).map { base + $0 } ?? 0 }
        }
        var wanted = Set(0...nodes.count)
        wanted.formUnion(windowOutputs)
        logitRows = wanted.sorted()
        logitIndex = [Int](repeating: -1, count: R)
        for (i, r) in logitRows.enumerated() { logitIndex[r] = i }
    }

    /// The candidate row after `row` whose token is `token`, if the trie has one.
    public func child(of row: Int, token: Int) -> Int? {
        guard row < children.count else { return nil }
        return children[row].first { $0.token == token }?.row
    }

    /// Position of `row`'s logits among `logitRows`.
    public func logitIndex(of row: Int) -> Int { logitIndex[row] }
}

/// A node of the candidate trie: its token, parent row (0: the input) and depth (1: right after the input).
struct CandidateNode: Sendable {
    var token: Int
    var parent: Int
    var depth: Int
}

extension CandidateNode {
    /// Merges `candidates` (each cut to `length` tokens) into a trie of at most `limit` nodes, in order.
    static func trie(_ candidates: [[Int]], length: Int, limit: Int) -> [CandidateNode] {
        var nodes: [CandidateNode] = []
        guard length > 0, limit > 0 else { return nodes }
        var index: [[Int]: Int] = [:]   // token path -> row
        outer: for cand in candidates {
            var parent = 0
            var path: [Int] = []
            for (k, t) in cand.prefix(length).enumerated() {
                path.append(t)
                if let row = index[path] { parent = row; continue }
                guard nodes.count < limit else { break outer }
                nodes.append(CandidateNode(token: t, parent: parent, depth: k + 1))
                parent = nodes.count
                index[path] = parent
            }
        }
        return nodes
    }
}

extension StepBatch {
    /// Appends a sequence's lookahead rows: explicit positions, the intra-step mask, logits for the draft's
    /// logit rows. Returns the batch row of local row 0.
    @discardableResult
    public mutating func append(_ draft: LookaheadDraft, cache: KVCache, adapter: LoRAWeights? = nil,
                                adapterScale: Float = 1) -> Int {
        let start = rowCount
        append(draft.tokens, cache: cache, wantLogits: false, adapter: adapter, adapterScale: adapterScale)
        for (i, p) in draft.positions.enumerated() { positions[start + i] = p }
        spans[spans.count - 1].mask = draft.mask
        logitRows.append(contentsOf: draft.logitRows.map { start + $0 })
        return start
    }
}

extension LookaheadDraft {
    /// Walks the verification branch from the input row. `emit(row)` chooses the token after local `row` from
    /// that row's logits (argmax, or a draw from the request's sampler: sample-and-match), emits it, and says
    /// whether the sequence is done. The walk goes on into the candidate row holding that token, if any.
    /// Returns the local rows whose K/V are now valid (the input and every matched candidate) and the tokens
    /// emitted: plain decoding's tokens exactly, one or more per step.
    public func verify(_ emit: (_ row: Int) -> (token: Int, done: Bool)) -> (rows: [Int], tokens: [Int]) {
        var row = 0
        var rows = [0], tokens: [Int] = []
        while true {
            let (token, done) = emit(row)
            tokens.append(token)
            guard !done, let next = child(of: row, token: token) else { break }
            rows.append(next)
            row = next
        }
        return (rows, tokens)
    }
}

extension UnsafeBufferPointer where Element == Float {
    /// Row `i` of a row-major [rows, width] buffer (a step's logits: [logit rows, vocab]).
    public func row(_ i: Int, width: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: self[(i * width)..<((i + 1) * width)])
    }
}
