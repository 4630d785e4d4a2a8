import Foundation
import Model

/// Seeded random tensors for demo and benchmark models: uniform with a given standard deviation, so every run of
/// `make-demo` / `make-bench-model` writes identical bytes.
struct RandomWeights {
    private var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    /// `count` values uniform in [-a, a] with a = std·√3 (standard deviation `std`).
    mutating func uniform(_ count: Int, std: Float) -> [Float] {
        let a = std * 3.0.squareRoot().float
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { buf in
            var i = 0
            while i < count {
                let bits = rng.next()
                // Two 24-bit uniforms per draw.
                buf[i] = (Float(bits >> 40) / Float(1 << 24) * 2 - 1) * a
                if i + 1 < count { buf[i + 1] = (Float((bits >> 16) & 0xFF_FFFF) / Float(1 << 24) * 2 - 1) * a }
                i += 2
            }
        }
        return out
    }

    /// Values in [lo, hi] (norm weights).
    mutating func range(_ count: Int, _ lo: Float, _ hi: Float) -> [Float] {
        (0..<count).map { _ in lo + (hi - lo) * rng.nextUnit() }
    }
}

extension Double {
    var float: Float { Float(self) }
}
