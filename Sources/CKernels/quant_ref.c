// Quantized activations and the scalar reference product over quantized weights (see quant.h), and the dispatch of
// lk_q_matmul / lk_q_quantize_act to the path lk_isa() picks.
#include "quant_impl.h"
#include <math.h>
#include <string.h>

#include "quant_simd.h"


#pragma STDC FP_CONTRACT OFF

size_t lk_q_act_bytes(int type, size_t K) {
    size_t bytes;
    switch (lk_q_act_kind(type)) {
    case -1: bytes = K * 4; break;
    case 1: bytes = K + K / QK_K * 4 + K / 16 * 2; break;
    default: bytes = K + K / 32 * 12; break;
    }
    return (bytes + 63) & ~(size_t)63;
}

/* ---------------------------------------------------------------- activations */

// One block of 32: d = amax / 127, q = round-to-nearest-even(x / d) (0 when amax is 0); s = sum q, ds = d s.
static void act_block32(const float *x, int8_t *q, float *d, int32_t *s, float *ds) {
    float amax = 0;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float dd = amax / 127.f, id = dd != 0.f ? 1.f / dd : 0.f;
    int32_t sum = 0;
    for (int j = 0; j < 32; j++) {
        int v = (int)nearbyintf(x[j] * id);
        q[j] = (int8_t)v;
        sum += v;
    }
    *d = dd;
    *s = sum;
    *ds = dd * (float)sum;
}

// One block of 256 as ggml's quantize_row_q8_K_ref: the value of largest magnitude (first one) maps to -127.
static void act_block256(const float *x, int8_t *q, float *d, int16_t *bsums) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; j++) {
        float ax = fabsf(x[j]);
        if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (amax == 0.f) {
        *d = 0;
        memset(q, 0, QK_K);
        memset(bsums, 0, QK_K / 16 * 2);
        return;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
        int v = (int)nearbyintf(iscale * x[j]);
        q[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; j++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += q[j * 16 + i];
        bsums[j] = (int16_t)sum;
    }
    *d = 1 / iscale;
}

void lk_q_quantize_act_ref(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx) {
    const size_t rb = lk_q_act_bytes(type, K);
    for (size_t m = 0; m < M; m++) {
        uint8_t *row = (uint8_t *)qx + m * rb;
        const float *xr = x + m * ldx;
        memset(row, 0, rb);
        switch (lk_q_act_kind(type)) {
        case -1: memcpy(row, xr, K * 4); break;
        case 1: {
            float *d = (float *)(row + K);
            int16_t *bs = (int16_t *)(row + K + K / QK_K * 4);
            for (size_t b = 0; b < K / QK_K; b++)
                act_block256(xr + b * QK_K, (int8_t *)row + b * QK_K, d + b, bs + b * (QK_K / 16));
            break;
        }
        default: {
            float *d = (float *)(row + K);
            int32_t *s = (int32_t *)(row + K + K / 32 * 4);
            float *ds = (float *)(row + K + K / 32 * 8);
            for (size_t b = 0; b < K / 32; b++)
                act_block32(xr + b * 32, (int8_t *)row + b * 32, d + b, s + b, ds + b);
            break;
        }
        }
    }
}

void lk_q_quantize_act(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx) {
#if LK_X86
    if (lk_has_avx2()) { lk_q_quantize_act_avx2(type, x, ldx, M, K, qx); return; }
#endif
    lk_q_quantize_act_ref(type, x, ldx, M, K, qx);
}

/* ---------------------------------------------------------------- the reference product */

// Exact integer dots of one 32-block: weights' levels w[32] (already unpacked, signed) with activations a[32].
static inline int32_t idot32(const int8_t *w, const int8_t *a) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += (int32_t)w[j] * a[j];
    return s;
}

// Levels of a 32-block, unsigned (before the -8 / -16 offset) in element order.
static void unpack32(int type, const void *blk, int8_t *q) {
    switch (type) {
    case LK_T_Q4_0: {
        const lk_block_q4_0 *b = blk;
        for (int j = 0; j < 16; j++) { q[j] = b->qs[j] & 0xF; q[j + 16] = b->qs[j] >> 4; }
        break;
    }
    case LK_T_Q4_1: {
        const lk_block_q4_1 *b = blk;
        for (int j = 0; j < 16; j++) { q[j] = b->qs[j] & 0xF; q[j + 16] = b->qs[j] >> 4; }
        break;
    }
    case LK_T_Q5_0: case LK_T_Q5_1: {
        const uint8_t *qh8 = type == LK_T_Q5_0 ? ((const lk_block_q5_0 *)blk)->qh : ((const lk_block_q5_1 *)blk)->qh;
        const uint8_t *qs = type == LK_T_Q5_0 ? ((const lk_block_q5_0 *)blk)->qs : ((const lk_block_q5_1 *)blk)->qs;
        uint32_t qh;
        memcpy(&qh, qh8, 4);
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            q[j + 16] = (int8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        break;
    }
    case LK_T_Q8_0: memcpy(q, ((const lk_block_q8_0 *)blk)->qs, 32); break;
    }
}

static float dot_row32(int type, const uint8_t *w, size_t nb, lk_act_row a) {
    const size_t bb = lk_q_block_bytes(type);
    float acc = 0;
    int8_t q[32];
    for (size_t b = 0; b < nb; b++, w += bb) {
        unpack32(type, w, q);
        const int32_t isum = idot32(q, a.qs + b * 32);
        const float dw = lk_half(*(const uint16_t *)w);
        switch (type) {
        case LK_T_Q4_0: acc += (dw * a.d[b]) * (float)(isum - 8 * a.s[b]); break;
        case LK_T_Q5_0: acc += (dw * a.d[b]) * (float)(isum - 16 * a.s[b]); break;
        case LK_T_Q8_0: acc += (dw * a.d[b]) * (float)isum; break;
        default: { // Q4_1, Q5_1: + m sum(a)
            const float mw = lk_half(*(const uint16_t *)(w + 2));
            acc += (dw * a.d[b]) * (float)isum + (mw * a.d[b]) * (float)a.s[b];
        }
        }
    }
    return acc;
}

// Q4_K / Q5_K: isum = sum_j sc_j dot_j, imin = sum_j mn_j (bsum of sub-block j); acc += dx d isum - dx dmin imin.
static float dot_row_q45k(int type, const uint8_t *w, size_t nb, lk_act_row a) {
    float acc = 0;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t d16, dmin16;
        if (type == LK_T_Q4_K) {
            const lk_block_q4_K *x = (const lk_block_q4_K *)w + b;
            scales = x->scales; qs = x->qs; d16 = x->d; dmin16 = x->dmin;
        } else {
            const lk_block_q5_K *x = (const lk_block_q5_K *)w + b;
            scales = x->scales; qs = x->qs; qh = x->qh; d16 = x->d; dmin16 = x->dmin;
        }
        const int8_t *ax = a.qs + b * QK_K;
        const int16_t *bs = a.bsums + b * 16;
        int32_t isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            lk_q_scale_min_k4(j, scales, &sc, &mn);
            const uint8_t *q = qs + (j / 2) * 32;
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) {
                int v = (j & 1) ? q[l] >> 4 : q[l] & 0xF;
                if (qh) v |= ((qh[l] >> j) & 1) << 4;
                dot += v * ax[j * 32 + l];
            }
            isum += sc * dot;
            imin += mn * (bs[2 * j] + bs[2 * j + 1]);
        }
        const float dx = a.d[b];
        acc += dx * lk_half(d16) * (float)isum - dx * lk_half(dmin16) * (float)imin;
    }
    return acc;
}

// Q6_K: isum = sum_j sc_j (sum_16 q a - 32 bsum_j); acc += dx d isum.
static float dot_row_q6k(const uint8_t *w, size_t nb, lk_act_row a) {
    float acc = 0;
    for (size_t b = 0; b < nb; b++) {
        const lk_block_q6_K *x = (const lk_block_q6_K *)w + b;
        const int8_t *ax = a.qs + b * QK_K;
        const int16_t *bs = a.bsums + b * 16;
        int8_t q[QK_K];
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = x->ql + 64 * n, *qh = x->qh + 32 * n;
            for (int l = 0; l < 32; l++) {
                q[128 * n + l] = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
                q[128 * n + l + 32] = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
                q[128 * n + l + 64] = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                q[128 * n + l + 96] = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
            }
        }
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            int32_t dot = 0;
            for (int l = 0; l < 16; l++) dot += q[16 * j + l] * ax[16 * j + l];
            isum += x->scales[j] * (dot - 32 * bs[j]);
        }
        acc += a.d[b] * lk_half(x->d) * (float)isum;
    }
    return acc;
}

// F32 / F16 / BF16 rows against the f32 activation row: acc += w x, k ascending.
static float dot_row_float(int type, const uint8_t *w, size_t K, const float *x) {
    float acc = 0;
    for (size_t k = 0; k < K; k++) {
        float v;
        if (type == LK_T_F32) memcpy(&v, w + 4 * k, 4);
        else {
            uint16_t h;
            memcpy(&h, w + 2 * k, 2);
            if (type == LK_T_F16) v = lk_half(h);
            else { uint32_t u = (uint32_t)h << 16; memcpy(&v, &u, 4); }
        }
        acc += v * x[k];
    }
    return acc;
}

void lk_q_matmul_ref(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                     size_t ldy) {
    const size_t rb = lk_q_row_bytes(type, K);
    if (rb == 0 && K != 0) return;
    const size_t nb = K / lk_q_block_elems(type);
    for (size_t m = 0; m < M; m++) {
        const lk_act_row a = lk_act_at(type, qx, K, m);
        for (size_t n = n0; n < n1; n++) {
            const uint8_t *wr = (const uint8_t *)w + n * rb;
            float v;
            switch (type) {
            case LK_T_F32: case LK_T_F16: case LK_T_BF16:
                v = dot_row_float(type, wr, K, (const float *)a.qs);
                break;
            case LK_T_Q4_K: case LK_T_Q5_K: v = dot_row_q45k(type, wr, nb, a); break;
            case LK_T_Q6_K: v = dot_row_q6k(wr, nb, a); break;
            default: v = dot_row32(type, wr, nb, a); break;
            }
            y[m * ldy + n] = v;
        }
    }
}

void lk_q_matmul(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                 size_t ldy) {
#if LK_X86
    if (lk_has_avx512() && lk_q_matmul_avx512(lk_has_avx512_vnni(), type, w, K, n0, n1, qx, M, y, ldy)) return;
    if (lk_has_avx2() && lk_q_matmul_avx2(type, w, K, n0, n1, qx, M, y, ldy)) return;
#endif
    lk_q_matmul_ref(type, w, K, n0, n1, qx, M, y, ldy);
}

int lk_q_quantize_act_on(int isa, int type, const float *x, size_t ldx, size_t M, size_t K, void *qx) {
    if (isa < 0 || isa > lk_isa_best()) return 0;
#if LK_X86
    if (isa >= LK_ISA_AVX2) { lk_q_quantize_act_avx2(type, x, ldx, M, K, qx); return 1; }
#endif
    lk_q_quantize_act_ref(type, x, ldx, M, K, qx);
    return 1;
}

int lk_q_matmul_on(int isa, int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                   size_t ldy) {
    if (isa < 0 || isa > lk_isa_best()) return 0;
#if LK_X86
    if (isa == LK_ISA_AVX512 && lk_q_matmul_avx512(lk_cpu_has_avx512_vnni(), type, w, K, n0, n1, qx, M, y, ldy)) return 1;
    if (isa >= LK_ISA_AVX2 && lk_q_matmul_avx2(type, w, K, n0, n1, qx, M, y, ldy)) return 1;
#endif
    lk_q_matmul_ref(type, w, K, n0, n1, qx, M, y, ldy);
    return 1;
}
