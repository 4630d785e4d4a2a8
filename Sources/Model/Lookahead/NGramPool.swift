/// One sequence's n-gram pool, keyed by an n-gram's first token: for each key, up to `capacity` distinct
/// continuations of `length` tokens, most recently seen first. Fed with the prompt's own n-grams, the generated
/// text's n-grams and the lookahead window's trajectories; read for the verification branch's candidates.
public struct NGramPool: Sendable {
    /// Tokens after the key (N - 1).
    public let length: Int
    public let capacity: Int
    private var table: [Int: [[Int]]] = [:]

    public init(length: Int, capacity: Int) {
        self.length = max(1, length)
        self.capacity = max(1, capacity)
    }

    /// Adds (or refreshes) `key` followed by `continuation` (exactly `length` tokens; anything else is ignored).
    public mutating func add(_ key: Int, _ continuation: ArraySlice<Int>) {
        guard continuation.count == length else { return }
        var list = table[key] ?? []
        if let i = list.firstIndex(where: { $0.elementsEqual(continuation) }) {
            if i == 0 { return }
            list.remove(at: i)
        } else if list.count == capacity {
            list.removeLast()
        }
        list.insert(Array(continuation), at: 0)
        table[key] = list
    }

    /// Adds every complete n-gram of `tokens` that starts at index `from` or later, in order (later ones end up
    /// first).
    public mutating func add(ngramsOf tokens: [Int], from: Int = 0) {
        guard tokens.count > length else { return }
        for i in max(0, from)...(tokens.count - length - 1) {
            add(tokens[i], tokens[(i + 1)...(i + length)])
        }
    }

    /// Up to `limit` continuations of `key`, most recent first.
    public func candidates(for key: Int, limit: Int) -> [[Int]] {
        guard limit > 0, let list = table[key] else { return [] }
        return Array(list.prefix(limit))
    }

    public var keyCount: Int { table.count }
}
