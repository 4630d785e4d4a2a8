// Quantized weights: ggml's block formats (byte-identical, so GGUF tensors are used as mapped) and matrix products
// straight over the blocks. Activations are quantized per block to int8 (per 32 for the 32-blocks, per 256 for the
// K-quants, as ggml does), so the inner loops are integer dot products.
//
// Weight blocks (bytes; d, m, dmin are IEEE half; "q" nibbles low first):
//   Q4_0  18: d, qs[16]                        x[j] = d (lo(qs[j]) - 8), x[j+16] = d (hi(qs[j]) - 8)
//   Q4_1  20: d, m, qs[16]                     x[j] = d lo(qs[j]) + m, x[j+16] = d hi(qs[j]) + m
//   Q5_0  22: d, qh[4], qs[16]                 5th bit of element j is bit j of qh (little-endian u32); - 16
//   Q5_1  24: d, m, qh[4], qs[16]              as Q5_0 without the - 16, plus m
//   Q8_0  34: d, int8 qs[32]                   x[j] = d qs[j]
//   Q4_K 144: d, dmin, scales[12], qs[128]     8 sub-blocks of 32 with 6-bit scale sc and min mn:
//                                              x = d sc q - dmin mn; qs chunk c (32 bytes) holds sub-block 2c in its
//                                              low nibbles and 2c+1 in its high nibbles
//   Q5_K 176: d, dmin, scales[12], qh[32], qs[128]   as Q4_K; 5th bit of sub-block s is bit s of qh[l]
//   Q6_K 210: ql[128], qh[64], int8 scales[16], d     16 sub-blocks of 16: x = d sc (q - 32)
// A row of K weights is K / block_elems blocks back to back (lk_q_row_bytes); rows are contiguous.
//
// Activation rows (lk_q_quantize_act; the format is private to these kernels and may change): int8 qs[K] first, then
//   32-blocks:  float d[K/32], int32 s[K/32] (sum of the block's qs), float ds[K/32] (d s)   x ~ d qs, |qs| <= 127
//   K-quants:   float d[K/256], int16 bsums[K/16] (sums of 16 qs)             (ggml's Q8_K)
//   F32/F16/BF16 weights: the f32 row itself.
// Each row is padded to a multiple of 64 bytes.
//
// Products. y[m ldy + n] = sum_k x[m, k] W[n, k] for m in [0, M), n in [n0, n1). The integer part of each block is
// exact; how the per-block terms are summed in float is fixed per path (scalar, AVX2, AVX-512), so within a path a
// row's result depends only on that row and W's row: not on M, the row's place, or [n0, n1) (batch invariance).
// Different paths agree to float rounding (tests compare every path the host has with lk_q_matmul_ref).
#ifndef LORAD_QUANT_H
#define LORAD_QUANT_H

#include <stddef.h>
#include <stdint.h>

/// ggml type ids (GGUF tensor types).
enum {
    LK_T_F32 = 0, LK_T_F16 = 1, LK_T_Q4_0 = 2, LK_T_Q4_1 = 3, LK_T_Q5_0 = 6, LK_T_Q5_1 = 7, LK_T_Q8_0 = 8,
    LK_T_Q4_K = 12, LK_T_Q5_K = 13, LK_T_Q6_K = 14, LK_T_BF16 = 30
};

/// 1 when `type` is one of the LK_T_* above, else 0.
int lk_q_supported(int type);
/// Elements per block: 32, 256 (K-quants), 1 (F32/F16/BF16); 0 for an unsupported type.
size_t lk_q_block_elems(int type);
/// Bytes per block (0 for an unsupported type).
size_t lk_q_block_bytes(int type);
/// Bytes of one row of k elements (k a multiple of lk_q_block_elems; 0 otherwise or for an unsupported type).
size_t lk_q_row_bytes(int type, size_t k);

/// n elements (a multiple of the block size) from blocks `src` to f32 `dst`; bit-exact with gguf-py's dequantize.
void lk_q_dequantize(int type, const void *src, float *dst, size_t n);
/// n f32 elements (a multiple of the block size) to blocks `dst`, byte-identical to ggml's reference quantizers
/// (what llama-quantize writes without an importance matrix). Returns the bytes written (0 for a bad type or n).
size_t lk_q_quantize(int type, const float *src, void *dst, size_t n);

/// Bytes of one activation row of K elements quantized for weights of `type` (a multiple of 64).
size_t lk_q_act_bytes(int type, size_t K);
/// Quantizes rows x[m ldx ..< m ldx + K], m < M, into qx (M rows of lk_q_act_bytes(type, K) bytes). Every path
/// writes the same bytes.
void lk_q_quantize_act(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx);
/// The portable body of lk_q_quantize_act (for tests).
void lk_q_quantize_act_ref(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx);

/// y[m ldy + n] = sum_k x[m, k] W[n, k], m in [0, M), n in [n0, n1). w: rows of lk_q_row_bytes(type, K) bytes (row
/// n at n * row_bytes); qx: M activation rows from lk_q_quantize_act. The path is lk_isa()'s.
void lk_q_matmul(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                 size_t ldy);
/// The scalar reference every SIMD path is tested against (same arguments). Per output: the exact integer dot of each
/// block, then acc += (d_w d_x) isum (+ the min term) in block order, f32, no fused multiply-add.
void lk_q_matmul_ref(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                     size_t ldy);

/// lk_q_quantize_act / lk_q_matmul on path `isa` (LK_ISA_*) whatever lk_isa() says, without touching the process's
/// path (tests compare paths while other threads compute). Return 0, doing nothing, when this CPU lacks the path.
int lk_q_quantize_act_on(int isa, int type, const float *x, size_t ldx, size_t M, size_t K, void *qx);
int lk_q_matmul_on(int isa, int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                   size_t ldy);

#endif
