import Foundation

/// Wall time of one forward pass against the rows in it, measured on this machine at start-up. On a CPU extra rows
/// are not free once the weights stop being the bottleneck; lookahead's budget asks this model what rows cost.
/// Between measured row counts the cost is interpolated; beyond the largest it grows in proportion to the rows
/// (the pessimistic, compute-bound guess), so a short calibration never makes rows look cheaper than they are.
public struct StepCostModel: Sendable {
    /// Measured (rows, seconds), rows ascending.
    public let points: [(rows: Int, seconds: Double)]

    public init(points: [(rows: Int, seconds: Double)]) {
        var sorted = points.filter { $0.rows >= 1 && $0.seconds > 0 }.sorted { $0.rows < $1.rows }
        if sorted.isEmpty { sorted = [(1, 1)] }
        // Never dearer than a larger count (a measurement slowed down by something else on the machine would
        // otherwise make every count above it look dear too).
        for i in stride(from: sorted.count - 2, through: 0, by: -1) {
            sorted[i].seconds = min(sorted[i].seconds, sorted[i + 1].seconds)
        }
        self.points = sorted
    }

    /// Every row count costs the same: spare rows are free (tests; a GPU-like machine).
    public static let flat = StepCostModel(points: [(1, 1), (1 << 20, 1)])

    /// Each row costs the same: extra rows never pay for themselves unless they gain at least as many tokens.
    public static let proportional = StepCostModel(points: [(1, 1)])

    public func seconds(rows: Int) -> Double {
        let r = max(1, rows)
        guard let first = points.first, let last = points.last else { return Double(r) }
        if r <= first.rows { return first.seconds }
        if r >= last.rows { return last.seconds * Double(r) / Double(last.rows) }
        let i = points.firstIndex { $0.rows >= r }!
        let a = points[i - 1], b = points[i]
        return a.seconds + (b.seconds - a.seconds) * Double(r - a.rows) / Double(b.rows - a.rows)
    }

    /// Times forward passes of 1, 16, 4, 64, ... rows (then the counts in between) up to `maxRows`, over a short
    /// committed context, within about `timeLimit` seconds, keeping the fastest of up to five passes per count.
    /// Every row asks for logits, as lookahead rows mostly do.
    public static func measure(_ transformer: Transformer, maxRows: Int, timeLimit: Double = 1.5,
                               context: Int = 32) throws -> StepCostModel {
        let vocab = transformer.config.vocabSize
        let cache = transformer.makeCache()
        let contextTokens = (0..<max(1, min(context, transformer.config.maxPositions / 2))).map { ($0 * 7919 + 11) % vocab }
        var prefill = StepBatch()
        prefill.append(contextTokens, cache: cache, wantLogits: false)
        _ = try transformer.forward(prefill)
        func time(_ rows: Int) throws -> Double {
            var batch = StepBatch()
            let tokens = (0..<rows).map { ($0 * 104_729 + 7) % vocab }
            batch.append(tokens, cache: cache, wantLogits: false)
            batch.logitRows = Array(0..<rows)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try transformer.forward(batch, commit: false)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let limit = max(1, min(maxRows, transformer.config.maxPositions - cache.length))
        // Wide coverage first (the knee of the curve matters most), then the counts in between; then passes over
        // them again while time is left, keeping each count's fastest pass.
        let order = [1, 16, 4, 64, 256, 2, 8, 32, 128].filter { $0 <= limit }
        let began = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 }
        // The first pass warms scratch, caches and worker threads; on a large model it is the first measurement.
        let warm = try time(1)
        var best: [Int: Double] = warm > 0.05 ? [1: warm] : [:]
        for pass in 0..<5 {
            for rows in order where pass > 0 || best[rows] == nil {
                // Guess from this count, else the nearest measured count below (a memory-bound model's passes cost
                // about the same up to its knee; past it the limit may be overrun by one pass).
                let below = best.filter { $0.key < rows }.max { $0.key < $1.key }?.value ?? warm
                if !best.isEmpty && elapsed() + (best[rows] ?? below) > timeLimit { continue }
                let t = try time(rows)
                best[rows] = min(best[rows] ?? t, t)
            }
            if elapsed() >= timeLimit { break }
        }
        let points = best.map { (rows: $0.key, seconds: $0.value) }
        return StepCostModel(points: points)
    }

    /// `rows:seconds` pairs, for logs.
    public var summary: String {
        points.map { String(format: "%d:%.4f", $0.rows, $0.seconds) }.joined(separator: " ")
    }
}
