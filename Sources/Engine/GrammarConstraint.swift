import Grammar

/// Structured output through the logits seam: a grammar's matcher as a sequence's `TokenConstraint`. Tokens the
/// grammar does not allow next get -infinity; the chosen token advances the matcher. Because every row a token is
/// chosen from (first token, decode, each lookahead row being verified) passes through here in order, lookahead
/// accepts exactly the tokens decoding with the grammar alone would. Owned by one sequence (engine thread).
public final class GrammarConstraint: TokenConstraint {
    public let matcher: GrammarMatcher
    private var words: [UInt64]

    public init(states: GrammarStates) {
        matcher = GrammarMatcher(states: states)
        words = [UInt64](repeating: 0, count: states.vocabulary.maskWords)
    }

    /// A factory giving each sequence of a request its own matcher over the shared states.
    public static func factory(_ states: GrammarStates) -> TokenConstraintFactory {
        { GrammarConstraint(states: states) }
    }

    public func mask(_ logits: UnsafeMutableBufferPointer<Float>) {
        words.withUnsafeMutableBufferPointer { matcher.fillMask($0) }
        words.withUnsafeBufferPointer { w in
            for i in 0..<logits.count {
                let word = i >> 6
                if word >= w.count || w[word] & (UInt64(1) << UInt64(i & 63)) == 0 { logits[i] = -.infinity }
            }
        }
    }

    public func acceptablePrefix(_ tokens: [Int]) -> Int {
        matcher.acceptablePrefix(tokens)
    }

    public func forcedContinuation(limit: Int) -> [Int] {
        var forced: [Int] = []
        while forced.count < limit, let next = matcher.forcedToken(), matcher.accept(next) {
            forced.append(next)
            if matcher.isFinished { break }
        }
        matcher.rollback(forced.count)
        return forced
    }

    public func accept(_ token: Int) {
        // A token outside the mask is only chosen when the mask allowed nothing (every row -infinity); the matcher
        // then stays where it is.
        _ = matcher.accept(token)
    }
}
