import Kernels

/// How `ModelWeights` holds the projection matrices (qkv, o, gate/up, down, LM head) in memory.
///
/// Narrow weights are computed on directly (widened exactly in registers, F32 arithmetic), so a BF16 or F16 model
/// streams half the bytes per decoded token, and its results are bit-identical to F32 math over the same values.
/// The quantized choices quantize every projection at load (as llama-quantize does without an importance matrix)
/// and compute over the blocks (`QuantizedMatrix`).
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// BF16 and F16 projections stay as they are; F32 ones are F32; quantized GGUF blocks stay quantized.
    case asStored = "stored"
    /// Every projection widened to F32 (exact): twice the memory of BF16/F16, the reference for checking them.
    case f32
    /// Every projection rounded to BF16 (nearest even).
    case bf16
    /// Every projection quantized at load to this ggml type.
    case q8_0, q4_0
    case q4_K = "q4_k"
    case q6_K = "q6_k"

    /// The block type the quantized choices quantize to (nil for stored/f32/bf16).
    public var quantType: QuantType? {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_K: return .q4_K
        case .q6_K: return .q6_K
        case .asStored, .f32, .bf16: return nil
        }
    }
}
