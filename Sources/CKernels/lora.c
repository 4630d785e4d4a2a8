// One row's LoRA delta for one piece of a LoRA pair (the body of SGMV): the shrink t_j = scale * dot(x, A_j) for
// each rank row j, then the expand y += sum_j t_j * Bt_j. A and Bt are f32, bf16 or IEEE half as the adapter file
// stores them; narrow values are widened exactly in registers, so a narrow piece gives bit for bit what the same
// values widened to f32 give. Every output column is y[c] followed by one fused multiply-add per rank row in j
// order, whatever the column blocking and however the pool cut the pair into pieces.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#include "simd.h"

static inline float load1(int kind, const void *p, size_t i) {
    if (kind == LK_ELEMENT_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    if (kind == LK_ELEMENT_F16) return lk_f16_to_f32_one_scalar(h);
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---------------------------------------------------------------- portable body */

static void lora_row_scalar(int kind, const float *x, size_t in, const void *a, const void *bt, size_t rank,
                            size_t out, float scale, float *t, float *y) {
    size_t es = kind == LK_ELEMENT_F32 ? 4 : 2;
    for (size_t j = 0; j < rank; j++) {
        const char *row = (const char *)a + j * in * es;
        float s = 0;
        for (size_t i = 0; i < in; i++) s = fmaf(x[i], load1(kind, row, i), s);
        t[j] = scale * s;
    }
    for (size_t j = 0; j < rank; j++) {
        const char *row = (const char *)bt + j * out * es;
        for (size_t c = 0; c < out; c++) y[c] = fmaf(t[j], load1(kind, row, c), y[c]);
    }
}

/* ---------------------------------------------------------------- AVX2 body */

#if LK_X86
__attribute__((always_inline)) LK_AVX2 static inline __m256 load8(int kind, const void *p, size_t i) {
    if (kind == LK_ELEMENT_F32) return _mm256_loadu_ps((const float *)p + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (kind == LK_ELEMENT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

LK_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((always_inline)) LK_AVX2 static inline void lora_row_avx2(int kind, const float *x, size_t in,
                                                                        const void *a, const void *bt, size_t rank,
                                                                        size_t out, float scale, float *t, float *y) {
    size_t es = kind == LK_ELEMENT_F32 ? 4 : 2;
    // Shrink: one dot per rank row, four accumulators over 32 lanes (x stays in L1; A streams from memory).
    for (size_t j = 0; j < rank; j++) {
        const void *row = (const char *)a + j * in * es;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t i = 0;
        for (; i + 32 <= in; i += 32) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load8(kind, row, i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load8(kind, row, i + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), load8(kind, row, i + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), load8(kind, row, i + 24), s3);
        }
        for (; i + 8 <= in; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load8(kind, row, i), s0);
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for (; i < in; i++) s = fmaf(x[i], load1(kind, row, i), s);
        t[j] = scale * s;
    }
    // Expand: 32 columns at a time held in registers across all rank rows, so y is read and written once.
    size_t c = 0;
    for (; c + 32 <= out; c += 32) {
        __m256 y0 = _mm256_loadu_ps(y + c), y1 = _mm256_loadu_ps(y + c + 8);
        __m256 y2 = _mm256_loadu_ps(y + c + 16), y3 = _mm256_loadu_ps(y + c + 24);
        for (size_t j = 0; j < rank; j++) {
            const void *row = (const char *)bt + j * out * es;
            __m256 tj = _mm256_set1_ps(t[j]);
            y0 = _mm256_fmadd_ps(tj, load8(kind, row, c), y0);
            y1 = _mm256_fmadd_ps(tj, load8(kind, row, c + 8), y1);
            y2 = _mm256_fmadd_ps(tj, load8(kind, row, c + 16), y2);
            y3 = _mm256_fmadd_ps(tj, load8(kind, row, c + 24), y3);
        }
        _mm256_storeu_ps(y + c, y0);
        _mm256_storeu_ps(y + c + 8, y1);
        _mm256_storeu_ps(y + c + 16, y2);
        _mm256_storeu_ps(y + c + 24, y3);
    }
    for (; c + 8 <= out; c += 8) {
        __m256 y0 = _mm256_loadu_ps(y + c);
        for (size_t j = 0; j < rank; j++)
            y0 = _mm256_fmadd_ps(_mm256_set1_ps(t[j]), load8(kind, (const char *)bt + j * out * es, c), y0);
        _mm256_storeu_ps(y + c, y0);
    }
    for (; c < out; c++) {
        float v = y[c];
        for (size_t j = 0; j < rank; j++) v = fmaf(t[j], load1(kind, (const char *)bt + j * out * es, c), v);
        y[c] = v;
    }
}

LK_AVX2 static void lora_row_avx2_f32(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                      size_t out, float scale, float *t, float *y) {
    lora_row_avx2(LK_ELEMENT_F32, x, in, a, bt, rank, out, scale, t, y);
}
LK_AVX2 static void lora_row_avx2_bf16(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                       size_t out, float scale, float *t, float *y) {
    lora_row_avx2(LK_ELEMENT_BF16, x, in, a, bt, rank, out, scale, t, y);
}
LK_AVX2 static void lora_row_avx2_f16(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                      size_t out, float scale, float *t, float *y) {
    lora_row_avx2(LK_ELEMENT_F16, x, in, a, bt, rank, out, scale, t, y);
}

/* ---------------------------------------------------------------- AVX-512 body
   The shrink sums 16 lanes per register (its order differs from the AVX2 body's, within the tests' tolerance); the
   expand holds 64 columns in four registers and applies the same fused multiply-adds in j order as every path. */

__attribute__((always_inline)) LK_AVX512 static inline __m512 load16(int kind, const void *p, size_t i) {
    if (kind == LK_ELEMENT_F32) return _mm512_loadu_ps((const float *)p + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
    if (kind == LK_ELEMENT_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((always_inline)) LK_AVX512 static inline void lora_row_avx512(int kind, const float *x, size_t in,
                                                                            const void *a, const void *bt,
                                                                            size_t rank, size_t out, float scale,
                                                                            float *t, float *y) {
    size_t es = kind == LK_ELEMENT_F32 ? 4 : 2;
    for (size_t j = 0; j < rank; j++) {
        const void *row = (const char *)a + j * in * es;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t i = 0;
        for (; i + 64 <= in; i += 64) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), load16(kind, row, i), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), load16(kind, row, i + 16), s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), load16(kind, row, i + 32), s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), load16(kind, row, i + 48), s3);
        }
        for (; i + 16 <= in; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), load16(kind, row, i), s0);
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        for (; i < in; i++) s = fmaf(x[i], load1(kind, row, i), s);
        t[j] = scale * s;
    }
    size_t c = 0;
    for (; c + 64 <= out; c += 64) {
        __m512 y0 = _mm512_loadu_ps(y + c), y1 = _mm512_loadu_ps(y + c + 16);
        __m512 y2 = _mm512_loadu_ps(y + c + 32), y3 = _mm512_loadu_ps(y + c + 48);
        for (size_t j = 0; j < rank; j++) {
            const void *row = (const char *)bt + j * out * es;
            __m512 tj = _mm512_set1_ps(t[j]);
            y0 = _mm512_fmadd_ps(tj, load16(kind, row, c), y0);
            y1 = _mm512_fmadd_ps(tj, load16(kind, row, c + 16), y1);
            y2 = _mm512_fmadd_ps(tj, load16(kind, row, c + 32), y2);
            y3 = _mm512_fmadd_ps(tj, load16(kind, row, c + 48), y3);
        }
        _mm512_storeu_ps(y + c, y0);
        _mm512_storeu_ps(y + c + 16, y1);
        _mm512_storeu_ps(y + c + 32, y2);
        _mm512_storeu_ps(y + c + 48, y3);
    }
    for (; c + 16 <= out; c += 16) {
        __m512 y0 = _mm512_loadu_ps(y + c);
        for (size_t j = 0; j < rank; j++)
            y0 = _mm512_fmadd_ps(_mm512_set1_ps(t[j]), load16(kind, (const char *)bt + j * out * es, c), y0);
        _mm512_storeu_ps(y + c, y0);
    }
    for (; c < out; c++) {
        float v = y[c];
        for (size_t j = 0; j < rank; j++) v = fmaf(t[j], load1(kind, (const char *)bt + j * out * es, c), v);
        y[c] = v;
    }
}

LK_AVX512 static void lora_row_avx512_f32(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                          size_t out, float scale, float *t, float *y) {
    lora_row_avx512(LK_ELEMENT_F32, x, in, a, bt, rank, out, scale, t, y);
}
LK_AVX512 static void lora_row_avx512_bf16(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                           size_t out, float scale, float *t, float *y) {
    lora_row_avx512(LK_ELEMENT_BF16, x, in, a, bt, rank, out, scale, t, y);
}
LK_AVX512 static void lora_row_avx512_f16(const float *x, size_t in, const void *a, const void *bt, size_t rank,
                                          size_t out, float scale, float *t, float *y) {
    lora_row_avx512(LK_ELEMENT_F16, x, in, a, bt, rank, out, scale, t, y);
}
#endif

void lk_lora_row(int kind, const float *x, size_t in, const void *a, const void *bt, size_t rank, size_t out,
                 float scale, float *t, float *y) {
#if LK_X86
    if (lk_has_avx512()) {
        switch (kind) {
        case LK_ELEMENT_F32: lora_row_avx512_f32(x, in, a, bt, rank, out, scale, t, y); return;
        case LK_ELEMENT_BF16: lora_row_avx512_bf16(x, in, a, bt, rank, out, scale, t, y); return;
        default: lora_row_avx512_f16(x, in, a, bt, rank, out, scale, t, y); return;
        }
    }
    if (lk_has_avx2()) {
        switch (kind) {
        case LK_ELEMENT_F32: lora_row_avx2_f32(x, in, a, bt, rank, out, scale, t, y); return;
        case LK_ELEMENT_BF16: lora_row_avx2_bf16(x, in, a, bt, rank, out, scale, t, y); return;
        default: lora_row_avx2_f16(x, in, a, bt, rank, out, scale, t, y); return;
        }
    }
#endif
    lora_row_scalar(kind, x, in, a, bt, rank, out, scale, t, y);
}

void lk_lora_row_portable(int kind, const float *x, size_t in, const void *a, const void *bt, size_t rank,
                          size_t out, float scale, float *t, float *y) {
    lora_row_scalar(kind, x, in, a, bt, rank, out, scale, t, y);
}
