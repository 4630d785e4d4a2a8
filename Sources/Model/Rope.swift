import Foundation
import Kernels

/// Rotary position embedding in Hugging Face's rotate-half convention: dimension i pairs with i + headDim/2.
/// Frequencies are computed in Float exactly as transformers does, so positions far into the context still match.
public struct Rope: Sendable {
    public let headDim: Int
    /// [headDim / 2]
    public let inverseFrequencies: [Float]

    public init(config: ModelConfig) {
        headDim = config.headDim
        let half = headDim / 2
        var inv = (0..<half).map { i in 1 / powf(config.ropeTheta, Float(2 * i) / Float(config.headDim)) }
        switch config.ropeScaling {
        case .none:
            break
        case .linear(let factor):
            inv = inv.map { $0 / factor }
        case .llama3(let factor, let lowFactor, let highFactor, let original):
            let lowWavelen = Float(original) / lowFactor
            let highWavelen = Float(original) / highFactor
            inv = inv.map { f in
                let wavelen = 2 * Float.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / factor }
                let smooth = (Float(original) / wavelen - lowFactor) / (highFactor - lowFactor)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
        inverseFrequencies = inv
    }

    /// Fills cos/sin tables for one position: [headDim / 2] each.
    public func angles(position: Int, cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        for i in 0..<inverseFrequencies.count {
            let a = p * inverseFrequencies[i]
            c[i] = cosf(a)
            s[i] = sinf(a)
        }
    }

    /// Rotates `heads` consecutive head vectors of `headDim` floats in place (Vector.rope: each output is two
    /// rounded products and one rounded add, on every CPU path).
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, cos c: UnsafePointer<Float>, sin s: UnsafePointer<Float>) {
        Vector.rope(x, heads: heads, headDim: headDim, cos: c, sin: s)
    }
}
