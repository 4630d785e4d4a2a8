/// The shape of one sequence's lookahead decoding (Fu et al. 2024): a Jacobi window of `w` columns and `n - 1`
/// levels, n-grams of `n` tokens, and up to `g` candidate n-grams verified per step.
public struct LookaheadShape: Sendable, Equatable, CustomStringConvertible {
    public var w: Int
    public var n: Int
    public var g: Int

    public init(w: Int, n: Int, g: Int) {
        self.w = max(1, w)
        self.n = max(1, n)
        self.g = max(0, g)
    }

    /// What `auto` runs when the budget allows (tuned on `fixtures/code-small`, see docs/lookahead.md).
    public static let automatic = LookaheadShape(w: 5, n: 4, g: 5)

    /// Nothing to verify (n < 2 or g = 0): a window alone never gains a token, so this is plain decoding.
    public var isPlain: Bool { n < 2 || g == 0 }

    /// Rows the window adds next to the input row once all its levels are filled: level 0 shares column 0 with the
    /// input token, so W·(N-1) - 1.
    public var windowRows: Int { isPlain ? 0 : w * (n - 1) - 1 }

    /// Rows of the verification branch at most (G candidates of N-1 tokens, before shared prefixes are merged).
    public var candidateRows: Int { isPlain ? 0 : g * (n - 1) }

    public var description: String { "\(w),\(n),\(g)" }
}

/// How a request uses lookahead decoding.
public enum LookaheadMode: Sendable, Equatable, CustomStringConvertible {
    /// The engine decides per step from its measured step cost and the sequence's recent acceptance.
    case auto
    case off
    /// This shape whenever the step's row budget has room (shrunk to fit, else plain for that step).
    case fixed(LookaheadShape)

    /// The shape to run, if any.
    public var shape: LookaheadShape? {
        switch self {
        case .off: return nil
        case .auto: return .automatic
        case .fixed(let s): return s.isPlain ? nil : s
        }
    }

    public var isAuto: Bool { self == .auto }

    /// `auto`, `off` or `W,N,G` (the CLI form).
    public var description: String {
        switch self {
        case .auto: return "auto"
        case .off: return "off"
        case .fixed(let s): return s.description
        }
    }
}
