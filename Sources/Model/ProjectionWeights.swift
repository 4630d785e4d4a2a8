import Kernels

/// How one projection matrix (qkv, o, gate/up, down, LM head) is held: packed dense weights (F32/BF16/F16, the
/// `Matmul.packed` kernels) or quantized blocks as a GGUF file stores them (`QuantizedMatrix`, integer dot products
/// over activations quantized per block). The forward pass calls `Matmul.packed(weight:)` on either.
public enum ProjectionWeights: Sendable {
    case dense(PackedWeights)

    /// N, the output features.
    public var outputs: Int {
        switch self {
        case .dense(let p): return p.outputs
        }
    }

    /// K, the input features.
    public var inputs: Int {
        switch self {
        case .dense(let p): return p.inputs
        }
    }

    /// Bytes one full pass over the weights reads.
    public var byteCount: Int {
        switch self {
        case .dense(let p): return p.byteCount
        }
    }

    /// The weight type's name as users see it: "bf16", "f16", "f32", or a ggml type such as "Q4_K".
    public var typeName: String {
        switch self {
        case .dense(let p): return "\(p.element)"
        }
    }

    /// The packed element type of dense weights (nil for quantized ones).
    public var element: WeightElement? {
        switch self {
        case .dense(let p): return p.element
        }
    }
}

extension Matmul {
    /// y: [M, ldy] (first `weight.outputs` columns written) = beta * y + x: [M, ldx] · Wᵀ, for dense or quantized W.
    @inline(__always)
    public static func packed(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, weight: ProjectionWeights,
                              y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0) {
        switch weight {
        case .dense(let p): packed(x: x, ldx: ldx, rows: M, weight: p, y: y, ldy: ldy, beta: beta)
        }
    }
}
