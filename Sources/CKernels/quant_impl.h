// Private to CKernels: ggml's block structs (ggml-common.h, byte for byte) and the activation row layout shared by the
// quantized kernels (quant*.c).
#ifndef LK_QUANT_IMPL_H
#define LK_QUANT_IMPL_H

#include "ckernels.h"
#include "quant.h"
#include <stddef.h>
#include <stdint.h>

#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[16]; } lk_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } lk_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } lk_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } lk_block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } lk_block_q8_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } lk_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } lk_block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } lk_block_q6_K;

_Static_assert(sizeof(lk_block_q4_0) == 18, "block_q4_0");
_Static_assert(sizeof(lk_block_q4_1) == 20, "block_q4_1");
_Static_assert(sizeof(lk_block_q5_0) == 22, "block_q5_0");
_Static_assert(sizeof(lk_block_q5_1) == 24, "block_q5_1");
_Static_assert(sizeof(lk_block_q8_0) == 34, "block_q8_0");
_Static_assert(sizeof(lk_block_q4_K) == 144, "block_q4_K");
_Static_assert(sizeof(lk_block_q5_K) == 176, "block_q5_K");
_Static_assert(sizeof(lk_block_q6_K) == 210, "block_q6_K");

/// IEEE half <-> f32 (exact widening; narrowing rounds to nearest even).
static inline float lk_half(uint16_t h) { return lk_f16_to_f32_one_scalar(h); }
static inline uint16_t lk_half_from(float f) { return lk_f32_to_f16_one_scalar(f); }

/// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
void lk_q_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m);

/// 1 for the K-quants (activations per 256, ggml's Q8_K), 0 for the 32-blocks, -1 for F32/F16/BF16 (f32 rows).
static inline int lk_q_act_kind(int type) {
    switch (type) {
    case LK_T_Q4_K: case LK_T_Q5_K: case LK_T_Q6_K: return 1;
    case LK_T_F32: case LK_T_F16: case LK_T_BF16: return -1;
    default: return 0;
    }
}

/// One quantized activation row, as pointers into its bytes (see quant.h):
///   qs [K] int8, then d [K / 32 or K / 256] f32, then for 32-blocks s [K / 32] int32 (sum of the block's qs) and
///   ds [K / 32] f32 (d * s), for K-quants bsums [K / 16] int16 (sums of 16 qs).
typedef struct {
    const int8_t *qs;
    const float *d;
    const int32_t *s;
    const float *ds;
    const int16_t *bsums;
} lk_act_row;

static inline lk_act_row lk_act_at(int type, const void *qx, size_t K, size_t m) {
    const uint8_t *row = (const uint8_t *)qx + m * lk_q_act_bytes(type, K);
    lk_act_row r;
    r.qs = (const int8_t *)row;
    r.d = (const float *)(row + K);
    if (lk_q_act_kind(type) == 1) {
        r.s = NULL;
        r.ds = NULL;
        r.bsums = (const int16_t *)(row + K + K / QK_K * 4);
    } else {
        r.s = (const int32_t *)(row + K + K / 32 * 4);
        r.ds = (const float *)(row + K + K / 32 * 8);
        r.bsums = NULL;
    }
    return r;
}

#endif
