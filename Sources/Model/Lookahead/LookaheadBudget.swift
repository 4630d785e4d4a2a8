/// What one decoding sequence could add to a step with lookahead, and what lookahead has recently gained it.
public struct LookaheadDemand: Sendable {
    /// An explicit shape: served first, whenever its rows fit, whatever they cost.
    public var fixed: Bool
    /// Rows of its verification branch now (0: the pool has nothing for its input token).
    public var candidateRows: Int
    /// Rows of its window now (0: no window).
    public var windowRows: Int
    /// Recent extra tokens per step with candidates alone, and with window and candidates.
    public var verifyGain: Double
    public var fullGain: Double

    public init(fixed: Bool, candidateRows: Int, windowRows: Int, verifyGain: Double, fullGain: Double) {
        self.fixed = fixed
        self.candidateRows = candidateRows
        self.windowRows = windowRows
        self.verifyGain = verifyGain
        self.fullGain = fullGain
    }
}

/// The lookahead rows one sequence gets this step.
public struct LookaheadGrant: Sendable, Equatable {
    public var candidateRows = 0
    public var window = false
    public var windowRows = 0

    public init() {}
    public var rows: Int { candidateRows + windowRows }
    public var isEmpty: Bool { rows == 0 }
}

/// Hands out a step's spare rows. Explicit shapes come first (highest recent acceptance first, shrunk to what is
/// left). `auto` sequences then get rows, highest recent acceptance first, only while the step's expected useful
/// rows per second, `(rows without lookahead + expected extra tokens) / cost(rows)`, does not drop: rows that cost
/// nothing are always spent; rows that cost time must bring their weight in tokens. When the batch alone fills the
/// row limit, nobody gets any, and the step is plain decoding.
public enum LookaheadBudget {
    public static func allocate(_ demands: [LookaheadDemand], baseRows: Int, rowLimit: Int,
                                cost: StepCostModel) -> [LookaheadGrant] {
        var grants = [LookaheadGrant](repeating: LookaheadGrant(), count: demands.count)
        var spare = rowLimit - baseRows
        guard spare > 0 else { return grants }
        var rows = baseRows
        var tokens = Double(baseRows)
        let order = demands.indices.sorted { (-demands[$0].fullGain, $0) < (-demands[$1].fullGain, $1) }
        for i in order where demands[i].fixed {
            let d = demands[i]
            grants[i].candidateRows = min(d.candidateRows, spare)
            spare -= grants[i].candidateRows
            if d.windowRows > 0 && d.windowRows <= spare {
                grants[i].window = true
                grants[i].windowRows = d.windowRows
                spare -= d.windowRows
            }
            rows += grants[i].rows
            tokens += grants[i].window ? d.fullGain : (grants[i].candidateRows > 0 ? d.verifyGain : 0)
        }
        /// Takes `extra` rows for `gain` tokens if that keeps useful rows per second from dropping.
        func worth(_ extra: Int, _ gain: Double) -> Bool {
            guard extra > 0, extra <= spare else { return false }
            return (tokens + gain) * cost.seconds(rows: rows) >= tokens * cost.seconds(rows: rows + extra)
        }
        let byVerify = demands.indices.sorted { (-demands[$0].verifyGain, $0) < (-demands[$1].verifyGain, $1) }
        for i in byVerify where !demands[i].fixed {
            let d = demands[i]
            guard d.candidateRows > 0, worth(d.candidateRows, max(0, d.verifyGain)) else { continue }
            grants[i].candidateRows = d.candidateRows
            spare -= d.candidateRows
            rows += d.candidateRows
            tokens += max(0, d.verifyGain)
        }
        for i in order where !demands[i].fixed && demands[i].windowRows > 0 {
            let d = demands[i]
            let verifying = grants[i].candidateRows > 0
            let extra = d.windowRows + (verifying ? 0 : d.candidateRows)
            let gain = max(0, d.fullGain - (verifying ? max(0, d.verifyGain) : 0))
            guard worth(extra, gain) else { continue }
            grants[i].candidateRows = d.candidateRows
            grants[i].window = true
            grants[i].windowRows = d.windowRows
            spare -= extra
            rows += extra
            tokens += gain
        }
        return grants
    }
}
