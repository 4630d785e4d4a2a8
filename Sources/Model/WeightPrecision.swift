/// How `ModelWeights` holds the projection matrices (qkv, o, gate/up, down, LM head) in memory.
///
/// Narrow weights are computed on directly (widened exactly in registers, F32 arithmetic), so a BF16 or F16 model
/// streams half the bytes per decoded token, and its results are bit-identical to F32 math over the same values.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// BF16 and F16 projections stay as they are; F32 ones are F32.
    case asStored = "stored"
    /// Every projection widened to F32 (exact): twice the memory of BF16/F16, the reference for checking them.
    case f32
}
