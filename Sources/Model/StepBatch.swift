/// One sequence's rows in a step: rows `rows` of the batch belong to the sequence whose committed KV is `cache`.
public struct SequenceSpan: @unchecked Sendable {
    // @unchecked Sendable: KVCache is engine-thread owned (see KVCache).
    public var cache: KVCache
    public var rows: Range<Int>
    /// Which of this span's rows each row may attend to (row-local indices), beyond the committed KV.
    /// nil: causal by position (row j is visible to row i when positions[j] <= positions[i]).
    public var mask: [[Bool]]?

    public init(cache: KVCache, rows: Range<Int>, mask: [[Bool]]? = nil) {
        self.cache = cache
        self.rows = rows
        self.mask = mask
    }
}

/// The rows of one forward pass. Rows of many sequences share the step; each row carries its token and its explicit
/// RoPE position; each sequence's rows are one contiguous span. Logits are computed only for `logitRows`.
public struct StepBatch: Sendable {
    public var tokens: [Int]          // [T]
    public var positions: [Int]       // [T]
    public var spans: [SequenceSpan]
    public var logitRows: [Int]
    /// Row ranges that use a LoRA adapter (one segment per adapter: rows of one adapter are contiguous).
    public var segments: [AdapterSegment]

    public init(tokens: [Int] = [], positions: [Int] = [], spans: [SequenceSpan] = [], logitRows: [Int] = [],
                segments: [AdapterSegment] = []) {
        self.tokens = tokens
        self.positions = positions
        self.spans = spans
        self.logitRows = logitRows
        self.segments = segments
    }

    public var rowCount: Int { tokens.count }

    /// Appends a run of consecutive tokens of one sequence, starting right after its committed KV.
    /// With `wantLogits`, the last row's logits are computed.
    /// With `adapter`, the rows use it; consecutive runs with the same adapter and scale share one segment.
    public mutating func append(_ newTokens: [Int], cache: KVCache, startPosition: Int? = nil, wantLogits: Bool = true,
                                adapter: LoRAWeights? = nil, adapterScale: Float = 1) {
        let start = tokens.count
        if let adapter, !newTokens.isEmpty {
            if let last = segments.last, last.weights === adapter, last.scale == adapterScale,
               last.rows.upperBound == start {
                segments[segments.count - 1].rows = last.rows.lowerBound..<(start + newTokens.count)
            } else {
                segments.append(AdapterSegment(rows: start..<(start + newTokens.count), weights: adapter,
                                               scale: adapterScale))
            }
        }
        let first = startPosition ?? cache.length
        tokens.append(contentsOf: newTokens)
        positions.append(contentsOf: (0..<newTokens.count).map { first + $0 })
        spans.append(SequenceSpan(cache: cache, rows: start..<tokens.count))
        if wantLogits && !newTokens.isEmpty { logitRows.append(tokens.count - 1) }
    }
}
