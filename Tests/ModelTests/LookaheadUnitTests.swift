import Foundation
@testable import Model
import Testing
import TestSupport

/// The pieces of lookahead decoding: pool, window, draft rows and mask, step cost, row budget.
@Suite struct LookaheadUnitTests {
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()

    @Test func poolKeepsDistinctContinuationsMostRecentFirst() {
        var pool = NGramPool(length: 2, capacity: 2)
        pool.add(ngramsOf: [1, 2, 3, 1, 4, 5, 1, 2, 3])
        #expect(pool.candidates(for: 1, limit: 5) == [[2, 3], [4, 5]])
        pool.add(1, [7, 8][...])
        #expect(pool.candidates(for: 1, limit: 5) == [[7, 8], [2, 3]])
        pool.add(1, [9][...])                                    // wrong length: ignored
        #expect(pool.candidates(for: 1, limit: 1) == [[7, 8]])
        #expect(pool.candidates(for: 42, limit: 3).isEmpty)
    }

    @Test func trieMergesSharedPrefixes() {
        let nodes = CandidateNode.trie([[5, 6, 7], [5, 6, 8], [5, 9, 7], [4, 6, 7]], length: 3, limit: 100)
        #expect(nodes.count == 9)   // 5, 5-6, 5-6-7, 5-6-8, 5-9, 5-9-7, 4, 4-6, 4-6-7
        #expect(nodes.filter { $0.parent == 0 }.map(\.token) == [5, 4])
        #expect(CandidateNode.trie([[5, 6, 7], [5, 6, 8]], length: 2, limit: 100).count == 2)
        #expect(CandidateNode.trie([[5, 6, 7], [4, 6, 8]], length: 3, limit: 4).count == 4)
    }

    /// A full window harvests one n-gram per column (its trajectory) and realigns to the new input position.
    @Test func windowHarvestsColumnsAndRealigns() {
        var w = LookaheadWindow(width: 3, depth: 2, seed: [0, 11, 12])
        var grams: [[Int]] = []
        w.advance(outputs: [21, 22, 23], input: 100, accepted: 1, fill: { -1 }) { k, rest in grams.append([k] + rest) }
        #expect(grams.isEmpty && w.isFull)                       // warm-up: a new level, nothing harvested
        #expect(w.levels == [[11, 12, -1], [22, 23, -1]])      // moved on one position
        var v = LookaheadWindow(width: 3, depth: 2, seed: [0, 11, 12])
        v.advance(outputs: [21, 22, 23], input: 100, accepted: 0, fill: { -1 }) { _, _ in }
        #expect(v.levels == [[0, 11, 12], [21, 22, 23]])
        v.advance(outputs: [31, 32, 33], input: 200, accepted: 1, fill: { -1 }) { k, rest in grams.append([k] + rest) }
        #expect(grams == [[200, 21, 31], [11, 22, 32], [12, 23, 33]])
        #expect(v.levels == [[21, 22, 23], [31, 32, 33]])
        // Two tokens accepted: every level moves one column left; the last column comes from the level below.
        v.advance(outputs: [41, 42, 43], input: 300, accepted: 2, fill: { -1 }) { _, _ in }
        #expect(v.levels == [[32, 33, -1], [42, 43, -1]])
    }

    /// A window row sees exactly its path (input, level 0 up to its column, then down its column): its logits are
    /// bit for bit those of plain causal decoding of that path. Candidate rows likewise see the input and their
    /// ancestors only.
    @Test func draftRowsSeeTheirPathOnly() throws {
        let t = Self.model.transformer
        let vocab = t.config.vocabSize
        let prompt = References.tinyLlama.prompts[2].ids
        var window = LookaheadWindow(width: 3, depth: 3, seed: [0, 11, 12])
        window.advance(outputs: [21, 22, 23], input: 0, accepted: 0, fill: { 0 }) { _, _ in }
        window.advance(outputs: [31, 32, 33], input: 0, accepted: 0, fill: { 0 }) { _, _ in }
        let input = 500
        let nodes = CandidateNode.trie([[7, 8, 9], [7, 3, 4]], length: 3, limit: 10)
        let cache = t.makeCache()
        var prefill = StepBatch()
        prefill.append(prompt, cache: cache, wantLogits: false)
        _ = try t.forward(prefill)
        let draft = LookaheadDraft(input: input, position: cache.length, nodes: nodes, window: window)
        #expect(draft.rowCount == 1 + 5 + window.rowCount)
        var batch = StepBatch()
        batch.append(draft, cache: cache)
        let logits = try t.forward(batch, commit: false)
        func plain(_ path: [Int]) throws -> [Float] {
            let c = t.makeCache()
            var b = StepBatch()
            b.append(prompt + path, cache: c)
            return try t.forward(b)
        }
        for (c, row) in draft.windowOutputs.enumerated() {
            let path = [input] + (1...max(1, c)).compactMap { c >= $0 ? window.levels[0][$0] : nil }
                + [window.levels[1][c], window.levels[2][c]]
            let i = draft.logitIndex(of: row)
            #expect(Array(logits[(i * vocab)..<((i + 1) * vocab)]) == (try plain(path)), "window column \(c)")
        }
        for path in [[7], [7, 8], [7, 8, 9], [7, 3, 4]] {
            var row = 0
            for token in path { row = try #require(draft.child(of: row, token: token)) }
            let i = draft.logitIndex(of: row)
            #expect(Array(logits[(i * vocab)..<((i + 1) * vocab)]) == (try plain([input] + path)), "candidate \(path)")
        }
    }

    @Test func stepCostInterpolatesAndExtrapolatesPessimistically() {
        let m = StepCostModel(points: [(1, 1.0), (4, 1.2), (16, 2.0), (8, 5.0)])
        #expect(m.seconds(rows: 1) == 1.0)
        #expect(abs(m.seconds(rows: 2) - 1.0 - 0.2 / 3) < 1e-12)
        #expect(m.seconds(rows: 8) == 2.0)                       // a slow outlier is smoothed from above
        #expect(m.seconds(rows: 32) == 4.0)                      // past the last point: in proportion to rows
        #expect(StepCostModel.flat.seconds(rows: 1000) == StepCostModel.flat.seconds(rows: 1))
    }

    @Test func budgetSpendsOnlyRowsThatPay() {
        func demand(_ rows: Int, _ window: Int, _ gain: Double, fixed: Bool = false) -> LookaheadDemand {
            LookaheadDemand(fixed: fixed, candidateRows: rows, windowRows: window, verifyGain: gain, fullGain: gain)
        }
        let demands = [demand(3, 10, 2.0), demand(3, 10, 0.1), demand(6, 10, 1.0, fixed: true)]
        // Free rows: everyone gets everything that fits, explicit shapes first.
        let free = LookaheadBudget.allocate(demands, baseRows: 3, rowLimit: 20, cost: .flat)
        #expect(free.reduce(0) { $0 + $1.rows } <= 17)
        #expect(free[2].candidateRows == 6 && free[2].window)
        // Each row as dear as a decode row: only gains of a token per row or more are worth it.
        let dear = LookaheadBudget.allocate(Array(demands.prefix(2)), baseRows: 3, rowLimit: 256, cost: .proportional)
        #expect(dear.allSatisfy { $0.isEmpty })
        let forced = LookaheadBudget.allocate([demands[2]], baseRows: 3, rowLimit: 256, cost: .proportional)
        #expect(forced[0].candidateRows == 6 && forced[0].window)   // explicit: served whatever it costs
        // A flat region up to 8 rows: a cheap verification branch with good acceptance is taken, the window not.
        let knee = StepCostModel(points: [(1, 1.0), (8, 1.05), (64, 8.0)])
        let some = LookaheadBudget.allocate([demand(3, 10, 1.5), demand(3, 10, 0.01)], baseRows: 2, rowLimit: 256,
                                            cost: knee)
        #expect(some[0].candidateRows == 3 && !some[0].window)
        #expect(some[1].isEmpty)
        #expect(LookaheadBudget.allocate(demands, baseRows: 20, rowLimit: 20, cost: .flat).allSatisfy { $0.isEmpty })
    }
}
