// ggml's block formats: sizes, dequantization (bit-exact with gguf-py) and the reference quantizers (byte-identical
// to ggml-quants.c's quantize_row_*_ref, which llama-quantize uses without an importance matrix). See quant.h.
#include "quant.h"
#include "ckernels.h"
#include "quant_impl.h"
#include <float.h>
#include <math.h>
#include <string.h>

// Products and sums are rounded one at a time, as ggml's reference C and numpy do (no fused multiply-add).
#pragma STDC FP_CONTRACT OFF

int lk_q_supported(int type) { return lk_q_block_elems(type) != 0; }

size_t lk_q_block_elems(int type) {
    switch (type) {
    case LK_T_F32: case LK_T_F16: case LK_T_BF16: return 1;
    case LK_T_Q4_0: case LK_T_Q4_1: case LK_T_Q5_0: case LK_T_Q5_1: case LK_T_Q8_0: return 32;
    case LK_T_Q4_K: case LK_T_Q5_K: case LK_T_Q6_K: return QK_K;
    default: return 0;
    }
}

size_t lk_q_block_bytes(int type) {
    switch (type) {
    case LK_T_F32: return 4;
    case LK_T_F16: case LK_T_BF16: return 2;
    case LK_T_Q4_0: return sizeof(lk_block_q4_0);
    case LK_T_Q4_1: return sizeof(lk_block_q4_1);
    case LK_T_Q5_0: return sizeof(lk_block_q5_0);
    case LK_T_Q5_1: return sizeof(lk_block_q5_1);
    case LK_T_Q8_0: return sizeof(lk_block_q8_0);
    case LK_T_Q4_K: return sizeof(lk_block_q4_K);
    case LK_T_Q5_K: return sizeof(lk_block_q5_K);
    case LK_T_Q6_K: return sizeof(lk_block_q6_K);
    default: return 0;
    }
}

size_t lk_q_row_bytes(int type, size_t k) {
    size_t be = lk_q_block_elems(type);
    if (be == 0 || k % be != 0) return 0;
    return k / be * lk_q_block_bytes(type);
}

/* ---------------------------------------------------------------- dequantization */

static void dequant_q4_0(const lk_block_q4_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[i * 32 + j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const lk_block_q4_1 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d), m = lk_half(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = (x[i].qs[j] & 0x0F) * d + m;
            y[i * 32 + j + 16] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q5_0(const lk_block_q5_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[i * 32 + j] = (((x[i].qs[j] & 0x0F) | h0) - 16) * d;
            y[i * 32 + j + 16] = (((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void dequant_q5_1(const lk_block_q5_1 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d), m = lk_half(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[i * 32 + j] = ((x[i].qs[j] & 0x0F) | h0) * d + m;
            y[i * 32 + j + 16] = ((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void dequant_q8_0(const lk_block_q8_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d);
        for (int j = 0; j < 32; j++) y[i * 32 + j] = x[i].qs[j] * d;
    }
}

void lk_q_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

static void dequant_q4_K(const lk_block_q4_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = lk_half(x[i].d), min = lk_half(x[i].dmin);
        uint8_t sc, m;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
            lk_q_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            lk_q_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dequant_q5_K(const lk_block_q5_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = lk_half(x[i].d), min = lk_half(x[i].dmin);
        uint8_t sc, m, u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            lk_q_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            lk_q_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

static void dequant_q6_K(const lk_block_q6_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const float d = lk_half(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

void lk_q_dequantize(int type, const void *src, float *dst, size_t n) {
    size_t be = lk_q_block_elems(type);
    if (be == 0 || n % be != 0) return;
    size_t nb = n / be;
    switch (type) {
    case LK_T_F32: memcpy(dst, src, n * sizeof(float)); break;
    case LK_T_F16: lk_f16_to_f32(src, dst, n); break;
    case LK_T_BF16: lk_bf16_to_f32(src, dst, n); break;
    case LK_T_Q4_0: dequant_q4_0(src, dst, nb); break;
    case LK_T_Q4_1: dequant_q4_1(src, dst, nb); break;
    case LK_T_Q5_0: dequant_q5_0(src, dst, nb); break;
    case LK_T_Q5_1: dequant_q5_1(src, dst, nb); break;
    case LK_T_Q8_0: dequant_q8_0(src, dst, nb); break;
    case LK_T_Q4_K: dequant_q4_K(src, dst, nb); break;
    case LK_T_Q5_K: dequant_q5_K(src, dst, nb); break;
    case LK_T_Q6_K: dequant_q6_K(src, dst, nb); break;
    }
}

/* ---------------------------------------------------------------- reference quantizers (ggml-quants.c) */

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define GROUP_MAX_EPS 1e-15f

// The smallest and largest of 32 values (Q4_1, Q5_1).
static void min_max32(const float *x, float *minp, float *maxp) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *minp = min;
    *maxp = max;
}

// The first of 32 values with the largest magnitude, sign kept (Q4_0, Q5_0).
static float signed_absmax32(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) { amax = fabsf(v); max = v; }
    }
    return max;
}

static void quant_q4_0(const float *x, lk_block_q4_0 *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, x += 32) {
        const float max = signed_absmax32(x);
        const float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = lk_half_from(d);
        for (int j = 0; j < 16; j++) {
            const float x0 = x[j] * id, x1 = x[16 + j] * id;
            const uint8_t xi0 = MIN(15, (int8_t)(x0 + 8.5f)), xi1 = MIN(15, (int8_t)(x1 + 8.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

static void quant_q4_1(const float *x, lk_block_q4_1 *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, x += 32) {
        float min, max;
        min_max32(x, &min, &max);
        const float d = (max - min) / ((1 << 4) - 1), id = d ? 1.0f / d : 0.0f;
        y[i].d = lk_half_from(d);
        y[i].m = lk_half_from(min);
        for (int j = 0; j < 16; j++) {
            const float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
            const uint8_t xi0 = MIN(15, (int8_t)(x0 + 0.5f)), xi1 = MIN(15, (int8_t)(x1 + 0.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

static void quant_q5_0(const float *x, lk_block_q5_0 *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, x += 32) {
        const float max = signed_absmax32(x);
        const float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = lk_half_from(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const float x0 = x[j] * id, x1 = x[16 + j] * id;
            const uint8_t xi0 = MIN(31, (int8_t)(x0 + 16.5f)), xi1 = MIN(31, (int8_t)(x1 + 16.5f));
            y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quant_q5_1(const float *x, lk_block_q5_1 *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, x += 32) {
        float min, max;
        min_max32(x, &min, &max);
        const float d = (max - min) / ((1 << 5) - 1), id = d ? 1.0f / d : 0.0f;
        y[i].d = lk_half_from(d);
        y[i].m = lk_half_from(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
            const uint8_t xi0 = (uint8_t)(x0 + 0.5f), xi1 = (uint8_t)(x1 + 0.5f);
            y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quant_q8_0(const float *x, lk_block_q8_0 *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = MAX(amax, fabsf(x[j]));
        const float d = amax / ((1 << 7) - 1), id = d ? 1.0f / d : 0.0f;
        y[i].d = lk_half_from(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

// ggml's nearest_int: round to nearest even through the float mantissa (|fval| <= 4194303).
static inline int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, l)));
        }
        return 1 / iscale;
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = MAX(-nmax, MIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = rmse_type == 1 ? x[i] * x[i] : rmse_type == 2 ? 1 : rmse_type == 3 ? fabsf(x[i]) : sqrtf(fabsf(x[i]));
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = MAX(-nmax, MIN(nmax - 1, l));
            float w = rmse_type == 1 ? x[i] * x[i] : rmse_type == 2 ? 1 : rmse_type == 3 ? fabsf(x[i]) : sqrtf(fabsf(x[i]));
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)MAX(0, MIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = MAX(0, MIN(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// The scales and mins of Q4_K / Q5_K (nmax 15 or 31): sub-block fits, 6-bit scales, then the levels in L[256].
static void quant_k_scales(const float *x, int nmax, float rmin, int nstep, uint8_t *scales12, uint16_t *d,
                           uint16_t *dmin, uint8_t *L) {
    float mins[8], scales[8], weights[32];
    uint8_t Laux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(scales12, 0, 12);
    for (int j = 0; j < 8; ++j) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = MIN(63, ls);
        lm = MIN(63, lm);
        if (j < 4) {
            scales12[j] = ls;
            scales12[j + 4] = lm;
        } else {
            scales12[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales12[j - 0] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d = lk_half_from(max_scale / 63.f);
    *dmin = lk_half_from(max_min / 63.f);
    uint8_t sc, m;
    for (int j = 0; j < 8; ++j) {
        lk_q_scale_min_k4(j, scales12, &sc, &m);
        const float dd = lk_half(*d) * sc;
        if (!dd) continue;
        const float dm = lk_half(*dmin) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / dd);
            L[32 * j + ii] = (uint8_t)MAX(0, MIN(nmax, l));
        }
    }
}

static void quant_q4_K(const float *x, lk_block_q4_K *y, size_t nb) {
    uint8_t L[QK_K];
    for (size_t i = 0; i < nb; i++, x += QK_K) {
        quant_k_scales(x, 15, -1.f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void quant_q5_K(const float *x, lk_block_q5_K *y, size_t nb) {
    uint8_t L[QK_K];
    for (size_t i = 0; i < nb; i++, x += QK_K) {
        quant_k_scales(x, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < QK_K; n += 64, m1 <<= 2, m2 <<= 2, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

static void quant_q6_K(const float *x, lk_block_q6_K *y, size_t nb) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scale; }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof(lk_block_q6_K));
            y[i].d = lk_half_from(0.f);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = lk_half_from(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) y[i].scales[ib] = (int8_t)MIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; ++j) {
            float d = lk_half(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(MAX(-32, MIN(31, l)) + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

// ggml_compute_fp32_to_bf16: NaN made quiet, otherwise round to nearest even.
static void f32_to_bf16_ggml(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, 4);
        if ((u & 0x7fffffff) > 0x7f800000) { dst[i] = (uint16_t)((u >> 16) | 64); continue; }
        dst[i] = (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }
}

size_t lk_q_quantize(int type, const float *src, void *dst, size_t n) {
    size_t be = lk_q_block_elems(type);
    if (be == 0 || n % be != 0) return 0;
    size_t nb = n / be;
    switch (type) {
    case LK_T_F32: memcpy(dst, src, n * sizeof(float)); break;
    case LK_T_F16: lk_f32_to_f16(src, dst, n); break;
    case LK_T_BF16: f32_to_bf16_ggml(src, dst, n); break;
    case LK_T_Q4_0: quant_q4_0(src, dst, nb); break;
    case LK_T_Q4_1: quant_q4_1(src, dst, nb); break;
    case LK_T_Q5_0: quant_q5_0(src, dst, nb); break;
    case LK_T_Q5_1: quant_q5_1(src, dst, nb); break;
    case LK_T_Q8_0: quant_q8_0(src, dst, nb); break;
    case LK_T_Q4_K: quant_q4_K(src, dst, nb); break;
    case LK_T_Q5_K: quant_q5_K(src, dst, nb); break;
    case LK_T_Q6_K: quant_q6_K(src, dst, nb); break;
    }
    return nb * lk_q_block_bytes(type);
}
