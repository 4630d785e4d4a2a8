import Foundation

/// Sampling settings of one request. temperature 0 means greedy (argmax).
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    public var seed: UInt64?
    /// Drops tokens whose probability (after temperature) is below `minP` times the most likely one's (0: off).
    public var minP: Float

    public init(temperature: Float = 0, topP: Float = 1, topK: Int = 0, seed: UInt64? = nil, minP: Float = 0) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.minP = minP
    }

    public static let greedy = SamplingParameters()
}

/// A small, fast, seedable generator (xoshiro256**), so the same seed gives the same output everywhere.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// Picks the next token from one row of logits: greedy, or temperature -> top-k -> top-p (HF's order) then a draw.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: SeededGenerator

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max))
    }

    /// Index of the largest logit (the first one on exact ties, as torch.argmax).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue {
            bestValue = logits[i]
            best = i
        }
        return best
    }

    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if parameters.temperature <= 0 { return Self.argmax(logits) }
        let probabilities = Self.probabilities(logits, parameters)
        var u = rng.nextUnit()
        for (id, p) in probabilities {
            u -= p
            if u < 0 { return id }
        }
        return probabilities.last?.id ?? Self.argmax(logits)
    }

    /// The candidate tokens after temperature, top-k, top-p and min-p, with renormalised probabilities, most likely
    /// first.
    public static func probabilities(_ logits: UnsafeBufferPointer<Float>, _ p: SamplingParameters) -> [(id: Int, p: Float)] {
        let t = max(p.temperature, 1e-6)
        var maxLogit = -Float.infinity
        for v in logits { maxLogit = max(maxLogit, v) }
        var items: [(id: Int, p: Float)] = []
        items.reserveCapacity(logits.count)
        var sum: Float = 0
        for (i, v) in logits.enumerated() {
            let e = expf((v - maxLogit) / t)
            items.append((i, e))
            sum += e
        }
        items.sort { $0.p > $1.p || ($0.p == $1.p && $0.id < $1.id) }
        // Tokens masked to -infinity (logit controls, constraints) have probability 0: never candidates.
        if let zero = items.firstIndex(where: { $0.p == 0 }), zero > 0 { items.removeSubrange(zero...) }
        if p.topK > 0 && p.topK < items.count {
            items.removeSubrange(p.topK...)
            sum = items.reduce(0) { $0 + $1.p }
        }
        if p.topP < 1 {
            var cumulative: Float = 0
            var keep = 0
            for item in items {
                keep += 1
                cumulative += item.p / sum
                if cumulative >= p.topP { break }
            }
            items.removeSubrange(keep...)
            sum = items.reduce(0) { $0 + $1.p }
        }
        if p.minP > 0, let top = items.first?.p {
            let floor = p.minP * top
            let keep = items.firstIndex { $0.p < floor } ?? items.count
            items.removeSubrange(max(1, keep)...)
            sum = items.reduce(0) { $0 + $1.p }
        }
        return items.map { ($0.id, $0.p / sum) }
    }
}
