import Foundation
import Kernels

/// The seven projections of a Llama layer a LoRA adapter may target, in PEFT's module names.
public enum Projection: Int, CaseIterable, Sendable {
    case q, k, v, o, gate, up, down

    public var moduleName: String {
        switch self {
        case .q: return "q_proj"
        case .k: return "k_proj"
        case .v: return "v_proj"
        case .o: return "o_proj"
        case .gate: return "gate_proj"
        case .up: return "up_proj"
        case .down: return "down_proj"
        }
    }

    /// "self_attn" or "mlp", the PEFT key's parent module.
    public var parentModule: String { rawValue <= Projection.o.rawValue ? "self_attn" : "mlp" }

    public init?(moduleName: String) {
        guard let p = Projection.allCases.first(where: { $0.moduleName == moduleName }) else { return nil }
        self = p
    }

    /// (input, output) features of this projection in a model of `config`.
    public func shape(_ config: ModelConfig) -> (input: Int, output: Int) {
        switch self {
        case .q: return (config.hiddenSize, config.qDim)
        case .k, .v: return (config.hiddenSize, config.kvDim)
        case .o: return (config.qDim, config.hiddenSize)
        case .gate, .up: return (config.hiddenSize, config.intermediateSize)
        case .down: return (config.intermediateSize, config.hiddenSize)
        }
    }
}

/// A run of rank rows of one LoRA pair: A rows [rank, input] and the matching B columns stored as [output, rank].
/// An adapter's pair is one piece when it sits in one buffer; the memory pool splits it along rank rows.
public struct LoRAPiece: @unchecked Sendable {
    // @unchecked Sendable: points into buffers owned by the adapter (or its pool pages), immutable while in use.
    public let a: UnsafePointer<Float>   // [rank, input]
    public let b: UnsafePointer<Float>   // [output, rank]
    public let rank: Int

    public init(a: UnsafePointer<Float>, b: UnsafePointer<Float>, rank: Int) {
        self.a = a
        self.b = b
        self.rank = rank
    }
}

/// One LoRA pair `W + scale·B·A` of one projection in one layer, at its true rank.
public struct LoRAPair: Sendable {
    public let pieces: [LoRAPiece]
    public let rank: Int
    /// alpha/r, or alpha/sqrt(r) for rsLoRA.
    public let scale: Float

    public init(pieces: [LoRAPiece], scale: Float) {
        self.pieces = pieces
        self.rank = pieces.reduce(0) { $0 + $1.rank }
        self.scale = scale
    }
}

/// The LoRA weights the forward pass reads: `pairs[layer][projection]`, nil where the adapter does not target it.
/// The object that owns the memory (a loaded adapter, or pool pages) keeps it alive as `owner`.
public final class LoRAWeights: Sendable {
    public let pairs: [[LoRAPair?]]   // [layers][Projection.allCases.count]
    public let maxRank: Int
    private let owner: (any Sendable)?

    public init(pairs: [[LoRAPair?]], owner: (any Sendable)?) {
        self.pairs = pairs
        self.maxRank = pairs.flatMap { $0.compactMap { $0?.rank } }.max() ?? 0
        self.owner = owner
    }

    @inline(__always)
    public func pair(layer: Int, _ p: Projection) -> LoRAPair? { pairs[layer][p.rawValue] }
}

/// Rows `rows` of a step use adapter `weights`, with the request's `scale` multiplying the adapter's own scale.
/// Rows outside every segment use the base model alone.
public struct AdapterSegment: Sendable {
    public var rows: Range<Int>
    public var weights: LoRAWeights
    public var scale: Float

    public init(rows: Range<Int>, weights: LoRAWeights, scale: Float = 1) {
        self.rows = rows
        self.weights = weights
        self.scale = scale
    }
}

/// The segmented-gather LoRA matmul (Punica's SGMV) for one projection: for each segment,
/// `Y_seg += scale · (X_seg · Aᵀ) · Bᵀ` at that adapter's true rank, written into Y's columns for the projection.
enum SGMV {
    /// x: [T, ldx] input rows, y: [T, ldy] output with this projection's columns starting at y,
    /// shrink: scratch of at least maxRows·maxRank floats.
    static func apply(_ segments: [AdapterSegment], layer: Int, projection: Projection,
                      x: UnsafePointer<Float>, ldx: Int, inputFeatures: Int,
                      y: UnsafeMutablePointer<Float>, ldy: Int, outputFeatures: Int,
                      shrink: UnsafeMutablePointer<Float>) {
        for segment in segments {
            guard let pair = segment.weights.pair(layer: layer, projection) else { continue }
            let n = segment.rows.count
            guard n > 0 else { continue }
            let xs = x + segment.rows.lowerBound * ldx
            let ys = y + segment.rows.lowerBound * ldy
            let s = pair.scale * segment.scale
            for piece in pair.pieces {
                // shrink: t [n, rank] = X_seg · Aᵀ
                Matmul.f32(x: xs, ldx: ldx, rows: n, inner: inputFeatures, weight: piece.a, outputs: piece.rank,
                           y: shrink)
                let count = n * piece.rank
                for i in 0..<count { shrink[i] *= s }
                // expand: Y_seg += t · Bᵀ   (B: [output, rank])
                Matmul.f32(x: shrink, rows: n, inner: piece.rank, weight: piece.b, outputs: outputFeatures,
                           y: ys, ldy: ldy, beta: 1)
            }
        }
    }
}
