/// The 2-D Jacobi window of one sequence: `levels[l][c]` is the current guess for position `p + l + c`, where `p`
/// is the position of the step's input token (which takes the place of level 0, column 0). Each step runs the filled
/// levels; the top level's outputs become a new level, and once all N-1 levels are filled the oldest is dropped and
/// each column's trajectory (N tokens along the column) is harvested as an n-gram.
///
/// Row `(l, c)` attends to the input, level 0 columns 1...c, and column c of levels 1...l: a path of consecutive
/// positions p ... p+l+c, as in the paper's lookahead branch.
public struct LookaheadWindow: Sendable {
    public let width: Int
    /// Levels when full (N - 1).
    public let depth: Int
    /// Filled levels (1...depth), each `width` guesses. levels[0][0] is a placeholder for the input token.
    public private(set) var levels: [[Int]]

    /// A window whose first level is `seed` (padded or cut to `width`); the other levels fill during warm-up.
    public init(width: Int, depth: Int, seed: [Int]) {
        self.width = max(1, width)
        self.depth = max(1, depth)
        var first = Array(seed.prefix(self.width))
        while first.count < self.width { first.append(first.last ?? 0) }
        levels = [first]
    }

    public var isFull: Bool { levels.count == depth }

    /// Rows the window adds next to the input row this step.
    public var rowCount: Int { (width - 1) + (levels.count - 1) * width }

    /// Offset of row (level, column) among the window's rows; nil for (0, 0), which is the input row itself.
    @inline(__always)
    public func offset(level l: Int, column c: Int) -> Int? {
        if l == 0 { return c == 0 ? nil : c - 1 }
        return (width - 1) + (l - 1) * width + c
    }

    /// The window's rows in offset order: (level, column, token), level 0 starting at column 1.
    public var rows: [(level: Int, column: Int, token: Int)] {
        var out: [(Int, Int, Int)] = []
        out.reserveCapacity(rowCount)
        for (l, level) in levels.enumerated() {
            for c in (l == 0 ? 1 : 0)..<width { out.append((l, c, level[c])) }
        }
        return out
    }

    /// After a step that ran the window. `outputs[c]`: the greedy token after the top level's column c (column 0 of
    /// level 0 is the input row). `accepted`: tokens the step emitted. Full windows hand each column's n-gram
    /// (first token, then N - 1 more) to `harvest` before dropping their oldest level.
    public mutating func advance(outputs: [Int], input: Int, accepted: Int, fill: () -> Int,
                                 harvest: (Int, ArraySlice<Int>) -> Void) {
        precondition(outputs.count == width)
        if isFull {
            for c in 0..<width {
                var gram = [c == 0 ? input : levels[0][c]]
                for l in 1..<depth { gram.append(levels[l][c]) }
                gram.append(outputs[c])
                harvest(gram[0], gram[1...])
            }
            levels.removeFirst()
            levels.append(outputs)
            // Level l now holds guesses for p + 1 + l + c; the next input is at p + accepted.
            shift(by: accepted - 1, fill: fill)
        } else {
            levels.append(outputs)
            shift(by: accepted, fill: fill)
        }
    }

    /// After a step without the window: the sequence moved on by `accepted` positions.
    public mutating func skip(accepted: Int, fill: () -> Int) { shift(by: accepted, fill: fill) }

    /// Realigns the guesses after the input moved `s` positions: column c takes the guess for its new position,
    /// from the same level, else from the level below one column to the right (same position), else `fill`.
    private mutating func shift(by s: Int, fill: () -> Int) {
        guard s > 0 else { return }
        var shifted: [[Int]] = []
        for (l, level) in levels.enumerated() {
            var row = [Int](repeating: 0, count: width)
            for c in 0..<width {
                if c + s < width { row[c] = level[c + s] }
                else if l > 0 && c + 1 < width { row[c] = shifted[l - 1][c + 1] }
                else { row[c] = fill() }
            }
            shifted.append(row)
        }
        levels = shifted
    }
}
