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

/// A run of rank rows of one LoRA pair: A rows [rank, input] and the matching B columns, stored transposed as rows
/// [rank, output] (so both are read as contiguous streams), in the element type the adapter file stores (f32, bf16
/// or f16: narrow weights are read at half the bytes and widened exactly in registers). An adapter's pair is one
/// piece when it sits in one buffer; the memory pool splits it along rank rows.
public struct LoRAPiece: @unchecked Sendable {
    // @unchecked Sendable: points into buffers owned by the adapter (or its pool pages), immutable while in use.
    public let a: UnsafeRawPointer   // [rank, input]
    public let b: UnsafeRawPointer   // Bᵀ: [rank, output]
    public let rank: Int
    public let element: WeightElement

    public init(a: UnsafeRawPointer, b: UnsafeRawPointer, rank: Int, element: WeightElement) {
        self.a = a
        self.b = b
        self.rank = rank
        self.element = element
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
///
/// Row by row, spread over the kernel threads: a decode step's rows mostly each have their own adapter, so there
/// is no product to batch, and what costs is streaming each adapter's A and Bᵀ once (at the width the file stores
/// them). Per row and piece, `LowRank.apply`: `t_j = scale · dot(x, A_j)`, then `y += Σ_j t_j · Bᵀ_j`, one fused
/// multiply-add per rank row in rank order for every output column. A row's arithmetic depends only on the row and
/// its adapter, never on the batch (batch invariance), nor on how the pool cut the pair into pieces.
enum SGMV {
    /// x: [T, ldx] input rows, y: [T, ldy] output with this projection's columns starting at y,
    /// shrink: scratch of at least T·maxRank floats (T: rows covered by the segments).
    static func apply(_ segments: [AdapterSegment], layer: Int, projection: Projection,
                      x: UnsafePointer<Float>, ldx: Int, inputFeatures: Int,
                      y: UnsafeMutablePointer<Float>, ldy: Int, outputFeatures: Int,
                      shrink: UnsafeMutablePointer<Float>, maxRank: Int) {
        var work: [(row: Int, pair: LoRAPair, scale: Float)] = []
        for segment in segments {
            guard let pair = segment.weights.pair(layer: layer, projection) else { continue }
            let s = pair.scale * segment.scale
            for row in segment.rows { work.append((row, pair, s)) }
        }
        guard !work.isEmpty else { return }
        let xs = SharedConstPointer(x), ys = SharedPointer(y), ts = SharedPointer(shrink)
        let items = work
        // ~2·rank·(input + output) flops per row: a few rows per thread pay for the dispatch.
        Parallel.forChunks(items.count, minimumPerThread: 2) { range in
            for i in range {
                let (row, pair, s) = items[i]
                let xr = xs.base + row * ldx, yr = ys.base + row * ldy
                for piece in pair.pieces {
                    LowRank.apply(piece.element, x: xr, inputs: inputFeatures, a: piece.a, bt: piece.b,
                                  rank: piece.rank, outputs: outputFeatures, scale: s, scratch: ts.base + i * maxRank,
                                  y: yr)
                }
            }
        }
    }
}
