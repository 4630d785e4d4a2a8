/// A tokenizer's vocabulary as a byte trie, built once per model and shared by every matcher: the bytes each token
/// adds to the text (nil: a special or empty token, never allowed by a grammar) and the ids that end generation
/// (allowed exactly when the grammar is complete).
public final class TokenVocabulary: Sendable {
    public let size: Int
    let stopTokens: [Int32]
    let tokenBytes: [[UInt8]]
    // Trie in arrays; node 0 is the root. Children of node n: childStart[n]..<childStart[n+1] (bytes ascending).
    let childStart: [Int32]
    let childByte: [UInt8]
    let childNode: [Int32]
    // Tokens that end at node n: tokenStart[n]..<tokenStart[n+1] in `tokenAtNode`.
    let tokenStart: [Int32]
    let tokenAtNode: [Int32]

    /// - tokenBytes: one entry per id (index = id).
    /// - stopTokens: ids that end generation (EOS, end-of-turn).
    public init(tokenBytes: [[UInt8]?], stopTokens: [Int]) {
        size = tokenBytes.count
        self.stopTokens = stopTokens.filter { $0 >= 0 && $0 < tokenBytes.count }.map(Int32.init)
        let stops = Set(stopTokens)
        let all = tokenBytes.enumerated().map { stops.contains($0.offset) ? [] : ($0.element ?? []) }
        self.tokenBytes = all
        // Sorting the ids by their bytes lays the trie out in preorder, children in byte order.
        let ids = all.indices.filter { !all[$0].isEmpty }.sorted { all[$0].lexicographicallyPrecedes(all[$1]) }
        var parentOf: [Int32] = [-1], byteOf: [UInt8] = [0], tokensOf: [[Int32]] = [[]]
        var path: [Int32] = [0]      // path[d]: node at depth d of the previous token
        var previous: [UInt8] = []
        for id in ids {
            let bytes = all[id]
            var common = 0
            while common < min(bytes.count, previous.count) && bytes[common] == previous[common] { common += 1 }
            path.removeSubrange((common + 1)...)
            for d in common..<bytes.count {
                parentOf.append(path[d])
                byteOf.append(bytes[d])
                tokensOf.append([])
                path.append(Int32(parentOf.count - 1))
            }
            tokensOf[Int(path[bytes.count])].append(Int32(id))
            previous = bytes
        }
        var counts = [Int32](repeating: 0, count: parentOf.count + 1)
        for n in 1..<parentOf.count { counts[Int(parentOf[n]) + 1] += 1 }
        for n in 0..<parentOf.count { counts[n + 1] += counts[n] }
        var fill = counts
        var childByte = [UInt8](repeating: 0, count: parentOf.count - 1)
        var childNode = [Int32](repeating: 0, count: parentOf.count - 1)
        for n in 1..<parentOf.count {      // preorder: children of a node come in ascending byte order
            let p = Int(parentOf[n])
            childByte[Int(fill[p])] = byteOf[n]
            childNode[Int(fill[p])] = Int32(n)
            fill[p] += 1
        }
        childStart = counts
        self.childByte = childByte
        self.childNode = childNode
        var tokenStart: [Int32] = [0]
        var tokenAtNode: [Int32] = []
        for list in tokensOf {
            tokenAtNode.append(contentsOf: list)
            tokenStart.append(Int32(tokenAtNode.count))
        }
        self.tokenStart = tokenStart
        self.tokenAtNode = tokenAtNode
    }

    /// The bytes of a token that stands for text; nil for stop tokens and tokens without text.
    public func bytes(of id: Int) -> [UInt8]? {
        guard id >= 0, id < size, !tokenBytes[id].isEmpty else { return nil }
        return tokenBytes[id]
    }

    /// Number of trie nodes (root included).
    public var nodeCount: Int { childStart.count - 1 }

    /// Words of a token mask: one bit per id.
    public var maskWords: Int { (size + 63) / 64 }
}
