import Foundation

/// Whether every value of `row` is finite (a sum is NaN or infinite exactly when some term is, or it overflows).
func allFinite(_ row: UnsafeBufferPointer<Float>) -> Bool {
    guard let base = row.baseAddress else { return true }
    var sum = SIMD16<Float>()
    var i = 0
    while i + 16 <= row.count {
        sum += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self) * 0
        i += 16
    }
    var tail: Float = 0
    while i < row.count { tail += row[i] * 0; i += 1 }
    return sum.sum() == 0 && tail == 0
}

/// Log-softmax of one row of logits: the chosen token's log probability and the `top` most likely tokens.
func tokenLogprob(_ logits: UnsafeBufferPointer<Float>, chosen: Int, top: Int) -> TokenLogprob {
    var maxLogit = -Float.infinity
    for v in logits { maxLogit = max(maxLogit, v) }
    var sum: Double = 0
    for v in logits { sum += Double(expf(v - maxLogit)) }
    let logZ = maxLogit + Float(log(sum))
    var best: [(token: Int, logprob: Float)] = []
    if top > 0 {
        // Partial selection: keep the `top` largest in a small sorted array.
        best.reserveCapacity(top + 1)
        for (i, v) in logits.enumerated() {
            if best.count < top || v > best[best.count - 1].logprob {
                let entry = (token: i, logprob: v)
                let at = best.firstIndex { v > $0.logprob } ?? best.count
                best.insert(entry, at: at)
                if best.count > top { best.removeLast() }
            }
        }
        best = best.map { ($0.token, $0.logprob - logZ) }
    }
    return TokenLogprob(token: chosen, logprob: logits[chosen] - logZ, top: best)
}
