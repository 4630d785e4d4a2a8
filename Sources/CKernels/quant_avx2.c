// lk_q_matmul on the AVX2 path (quant_kernels.h with vpmaddubsw / vpmaddwd) and the AVX2 activation quantizer.
#include "quant_impl.h"
#include "quant_simd.h"
#include <math.h>
#include <string.h>

#if LK_X86
#define QK_TARGET LK_AVX2
#define QK_NAME(x) x##_avx2
#define QK_DOT_U8S8(acc, u, s) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#define QK_DOT_S16(acc, p, s) _mm256_add_epi32(acc, _mm256_madd_epi16(p, s))
#define QK_GEMM_NR 2
#define QK_GEMM_MR 2
#include "quant_kernels.h"

int lk_q_matmul_avx2(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                     size_t ldy) {
    return lk_q_matmul_impl_avx2(type, w, K, n0, n1, qx, M, y, ldy);
}

/* ---------------------------------------------------------------- activations (same bytes as quant_ref.c) */

LK_AVX2 static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

LK_AVX2 static inline int32_t hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// 32 values times `scale`, rounded to nearest even, into 32 int8 in order (|values| <= 127 after scaling); returns
// the four vectors of int32 through `wide` for sums.
LK_AVX2 static inline void round32(const float *x, __m256 scale, int8_t *q, __m256i wide[4]) {
    for (int i = 0; i < 4; i++) wide[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), scale));
    // packs work per 128-bit lane: [0 1 | 2 3] words, then bytes, then a dword permute puts them in order.
    const __m256i w01 = _mm256_packs_epi32(wide[0], wide[1]), w23 = _mm256_packs_epi32(wide[2], wide[3]);
    const __m256i b = _mm256_packs_epi16(w01, w23);
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

LK_AVX2 static float absmax(const float *x, size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    return hmax8(m);
}

LK_AVX2 static void act_row32(const float *x, size_t K, uint8_t *row) {
    int8_t *q = (int8_t *)row;
    float *d = (float *)(row + K), *ds = (float *)(row + K + K / 32 * 8);
    int32_t *s = (int32_t *)(row + K + K / 32 * 4);
    for (size_t b = 0; b < K / 32; b++) {
        const float amax = absmax(x + 32 * b, 32);
        const float dd = amax / 127.f, id = dd != 0.f ? 1.f / dd : 0.f;
        __m256i wide[4];
        round32(x + 32 * b, _mm256_set1_ps(id), q + 32 * b, wide);
        const int32_t sum = hsum8i(_mm256_add_epi32(_mm256_add_epi32(wide[0], wide[1]), _mm256_add_epi32(wide[2], wide[3])));
        d[b] = dd;
        s[b] = sum;
        ds[b] = dd * (float)sum;
    }
}

LK_AVX2 static void act_row256(const float *x, size_t K, uint8_t *row) {
    int8_t *q = (int8_t *)row;
    float *d = (float *)(row + K);
    int16_t *bsums = (int16_t *)(row + K + K / QK_K * 4);
    for (size_t b = 0; b < K / QK_K; b++, x += QK_K) {
        const float amax = absmax(x, QK_K);
        int8_t *qb = q + QK_K * b;
        int16_t *bs = bsums + 16 * b;
        if (amax == 0.f) {
            d[b] = 0;
            memset(qb, 0, QK_K);
            memset(bs, 0, 32);
            continue;
        }
        float max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) == amax) { max = x[j]; break; } // the first of largest magnitude, as the reference
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j += 32) {
            __m256i wide[4];
            round32(x + j, _mm256_set1_ps(iscale), qb + j, wide);
            // The reference clamps at 127 (rounding can reach 127.5 -> 128 only past the scale's own value).
            const __m256i c = _mm256_min_epi8(_mm256_loadu_si256((const __m256i *)(qb + j)), _mm256_set1_epi8(127));
            _mm256_storeu_si256((__m256i *)(qb + j), c);
            // Sums of 16: widen to 16-bit and add neighbours with vpmaddwd against ones, then fold.
            const __m256i w16lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(c));
            const __m256i w16hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(c, 1));
            bs[j / 16] = (int16_t)hsum8i(_mm256_madd_epi16(w16lo, _mm256_set1_epi16(1)));
            bs[j / 16 + 1] = (int16_t)hsum8i(_mm256_madd_epi16(w16hi, _mm256_set1_epi16(1)));
        }
        d[b] = 1 / iscale;
    }
}

void lk_q_quantize_act_avx2(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx) {
    const int kind = lk_q_act_kind(type);
    if (kind < 0 || K % 32 != 0) { lk_q_quantize_act_ref(type, x, ldx, M, K, qx); return; }
    const size_t rb = lk_q_act_bytes(type, K);
    for (size_t m = 0; m < M; m++) {
        uint8_t *row = (uint8_t *)qx + m * rb;
        const size_t used = kind == 1 ? K + K / QK_K * 4 + K / 16 * 2 : K + K / 32 * 12;
        memset(row + used, 0, rb - used);
        if (kind == 1) act_row256(x + m * ldx, K, row);
        else act_row32(x + m * ldx, K, row);
    }
}
#endif
