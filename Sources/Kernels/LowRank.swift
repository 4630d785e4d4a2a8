import CKernels

/// How a weight is stored: f32, or bf16 / IEEE half (widened exactly to f32 in registers where it is used).
public enum WeightElement: Sendable {
    case f32, bf16, f16

    /// Bytes per weight.
    public var byteSize: Int { self == .f32 ? 4 : 2 }

    var kernelKind: Int32 {
        switch self {
        case .f32: return LK_ELEMENT_F32
        case .bf16: return LK_ELEMENT_BF16
        case .f16: return LK_ELEMENT_F16
        }
    }
}

/// One row's LoRA delta through one run of rank rows (the body of the SGMV matmul), on the calling thread:
/// `t_j = scale · dot(x, A_j)` for each rank row j, then `y += Σ_j t_j · Bᵀ_j`, each output column taking one fused
/// multiply-add per rank row in order. A is [rank, inputs] and Bᵀ [rank, outputs], both of `element`. A narrow run
/// gives bit for bit what the same values widened to f32 give.
public enum LowRank {
    @inline(__always)
    public static func apply(_ element: WeightElement, x: UnsafePointer<Float>, inputs: Int, a: UnsafeRawPointer,
                             bt: UnsafeRawPointer, rank: Int, outputs: Int, scale: Float,
                             scratch t: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>) {
        lk_lora_row(element.kernelKind, x, inputs, a, bt, rank, outputs, scale, t, y)
    }

    /// The portable (non-SIMD) body of `apply`, for tests.
    public static func applyPortable(_ element: WeightElement, x: UnsafePointer<Float>, inputs: Int,
                                     a: UnsafeRawPointer, bt: UnsafeRawPointer, rank: Int, outputs: Int,
                                     scale: Float, scratch t: UnsafeMutablePointer<Float>,
                                     y: UnsafeMutablePointer<Float>) {
        lk_lora_row_portable(element.kernelKind, x, inputs, a, bt, rank, outputs, scale, t, y)
    }
}
