@testable import Model
import Testing

/// Lookahead candidates cut by a constraint (a grammar's `acceptablePrefix`): a rejected token is never proposed,
/// nor anything after it in its candidate.
@Suite struct LookaheadLegalPrefixTests {
    @Test func rejectedTokensAreNeverProposed() {
        // The prompt gives n-grams after 1: [2, 3], [2, 4], [5, 6].
        let state = LookaheadState(shape: LookaheadShape(w: 2, n: 3, g: 8), context: [1, 2, 3, 1, 2, 4, 1, 5, 6, 9])
        let all = state.draft(input: 1, position: 10, maxNew: 16, candidateRows: 16, withWindow: false)
        let allTokens = Set(all.tokens.dropFirst())
        #expect(allTokens.isSuperset(of: [2, 3, 4, 5, 6]), "\(all.tokens)")
        // A constraint that rejects 3 and 5: candidates [2] (cut before 3), [2, 4], none starting with 5.
        let legal: ([Int]) -> Int = { c in c.firstIndex { $0 == 3 || $0 == 5 } ?? c.count }
        let cut = state.draft(input: 1, position: 10, maxNew: 16, candidateRows: 16, withWindow: false, legalPrefix: legal)
        let cutTokens = Array(cut.tokens.dropFirst())
        #expect(!cutTokens.contains(3) && !cutTokens.contains(5) && !cutTokens.contains(6), "\(cut.tokens)")
        #expect(cutTokens.contains(2) && cutTokens.contains(4))
        #expect(state.candidateRowCount(input: 1, maxNew: 16, legalPrefix: legal) == cut.candidateRows)
        #expect(cut.candidateRows < all.candidateRows)
    }
}
