#include "ckernels.h"
#include <string.h>
#include <math.h>

#include "simd.h"
#include "vec_ops.h"

/* ---------------------------------------------------------------- scalar bodies */

static float read_sum_scalar(const float *p, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
    for (; i < n; i++) s0 += p[i];
    return s0 + s1 + s2 + s3;
}

static float dot_scalar(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---------------------------------------------------------------- AVX2 bodies */
#if LK_X86

LK_AVX2 static float read_sum_avx2(const float *p, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
        a4 = _mm256_add_ps(a4, _mm256_loadu_ps(p + i + 32));
        a5 = _mm256_add_ps(a5, _mm256_loadu_ps(p + i + 40));
        a6 = _mm256_add_ps(a6, _mm256_loadu_ps(p + i + 48));
        a7 = _mm256_add_ps(a7, _mm256_loadu_ps(p + i + 56));
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                    _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))));
    for (; i < n; i++) s += p[i];
    return s;
}

// The widest loads: 8 zmm accumulators, 512 bytes per iteration.
LK_AVX512 static float read_sum_avx512(const float *p, size_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
        a4 = _mm512_add_ps(a4, _mm512_loadu_ps(p + i + 64));
        a5 = _mm512_add_ps(a5, _mm512_loadu_ps(p + i + 80));
        a6 = _mm512_add_ps(a6, _mm512_loadu_ps(p + i + 96));
        a7 = _mm512_add_ps(a7, _mm512_loadu_ps(p + i + 112));
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                                 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))));
    for (; i < n; i++) s += p[i];
    return s;
}

LK_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

LK_AVX2 static void f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}
#endif

/* ---------------------------------------------------------------- public entry points */

float lk_read_sum(const float *p, size_t n) {
#if LK_X86
    if (lk_has_avx512()) return read_sum_avx512(p, n);
    if (lk_has_avx2()) return read_sum_avx2(p, n);
#endif
    return read_sum_scalar(p, n);
}

float lk_dot(const float *a, const float *b, size_t n) {
#if LK_X86
    if (lk_has_avx512()) return dot_avx512(a, b, n);
    if (lk_has_avx2()) return dot_avx2(a, b, n);
#endif
    return dot_scalar(a, b, n);
}

void lk_axpy(float *y, float alpha, const float *x, size_t n) {
#if LK_X86
    if (lk_has_avx512()) { axpy_avx512(y, alpha, x, n); return; }
    if (lk_has_avx2()) { axpy_avx2(y, alpha, x, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void lk_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, 4);
    }
}

void lk_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, src + i, 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) { dst[i] = (uint16_t)((bits >> 16) | 0x40); continue; } // NaN stays NaN
        bits += 0x7fffu + ((bits >> 16) & 1u);
        dst[i] = (uint16_t)(bits >> 16);
    }
}

float lk_f16_to_f32_one_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else { // subnormal: normalise
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void lk_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if LK_X86
    if (lk_has_avx2()) { f16_to_f32_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = lk_f16_to_f32_one_scalar(src[i]);
}

uint16_t lk_f32_to_f16_one_scalar(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#if LK_X86
    if (lk_has_avx2()) { f32_to_f16_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = lk_f32_to_f16_one_scalar(src[i]);
}
