// Element-wise kernels of the forward pass: RMSNorm, SwiGLU's silu(a) * b, residual add, RoPE and a vector expf;
// scalar, AVX2 and AVX-512 bodies, picked per call by the path (cpu.c).
// Each is computed per row, so none of them can break batch invariance.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#include "simd.h"

/* ---------------------------------------------------------------- expf
   exp(x) = 2^n * e^r with n = round(x log2 e), r = x - n ln2 (Cody-Waite split of ln2), e^r by the Cephes
   degree-7 polynomial (|r| <= ln2/2). 2^n is applied as two factors 2^(n/2) 2^(n - n/2) so results that
   overflow give +inf and results in the subnormal range come out (with at most one extra rounding).
   Max relative error vs correctly rounded expf: ~2 ulp (~2.4e-7) for x in [-87.3, 88.7]. NaN stays NaN. */
#define EXP_HI 88.7228394f     // above: +inf
#define EXP_LO -103.972084f    // below: 0
static const float exp_c[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                              4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define LOG2E 1.44269504088896341f

static float exp_scalar(float x) {
    if (x != x) return x;
    if (x > EXP_HI) return INFINITY;
    if (x < EXP_LO) return 0.0f;
    float n = nearbyintf(x * LOG2E);
    float r = fmaf(-n, LN2_HI, x);
    r = fmaf(-n, LN2_LO, r);
    float p = exp_c[0];
    for (int i = 1; i < 6; i++) p = fmaf(p, r, exp_c[i]);
    p = fmaf(p, r * r, r) + 1.0f;
    int ni = (int)n, n1 = ni >> 1, n2 = ni - n1;  // floor(n / 2), as the vector body
    uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return p * s1 * s2;
}

#if LK_X86
LK_AVX2 static inline __m256 exp_avx2(__m256 x) {
    // min/max with the constant first: a NaN x passes through (x86 min/max return the second operand on NaN).
    __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_HI), _CMP_GT_OQ);
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), _mm256_min_ps(_mm256_set1_ps(EXP_HI), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(exp_c[0]);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[1]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[2]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[3]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[4]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[5]));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over);
}

LK_AVX2 static void exp_avx2_n(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp_avx2(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tx[8] = {0}, ty[8];
        memcpy(tx, x + i, (n - i) * 4);
        _mm256_storeu_ps(ty, exp_avx2(_mm256_loadu_ps(tx)));
        memcpy(y + i, ty, (n - i) * 4);
    }
}

// a[i] = a[i] / (1 + exp(-a[i])) * b[i]
LK_AVX2 static inline __m256 silu_mul8(__m256 g, __m256 b) {
    __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), b);
}

LK_AVX2 static void silu_mul_avx2(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, silu_mul8(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    if (i < n) {
        float ta[8] = {0}, tb[8] = {0};
        memcpy(ta, a + i, (n - i) * 4);
        memcpy(tb, b + i, (n - i) * 4);
        _mm256_storeu_ps(ta, silu_mul8(_mm256_loadu_ps(ta), _mm256_loadu_ps(tb)));
        memcpy(a + i, ta, (n - i) * 4);
    }
}

LK_AVX2 static void rms_norm_avx2(const float *x, const float *w, float eps, float *out, size_t n) {
    float ss = lk_dot(x, x, n);
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), s)));
    for (; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

LK_AVX2 static void add_avx2(float *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

// The AVX-512 bodies: the same operations as the AVX2 ones, 16 lanes, masked tails.
LK_AVX512 static inline __m512 exp_avx512(__m512 x) {
    __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_HI), _CMP_GT_OQ);
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), _mm512_min_ps(_mm512_set1_ps(EXP_HI), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(exp_c[0]);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_c[1]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_c[2]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_c[3]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_c[4]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_c[5]));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, _mm512_set1_epi32(127)), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, _mm512_set1_epi32(127)), 23));
    __m512 e = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
    return _mm512_mask_blend_ps(over, e, _mm512_set1_ps(INFINITY));
}

static inline __mmask16 tail_mask(size_t left) { return (__mmask16)((1u << left) - 1); }

LK_AVX512 static void exp_avx512_n(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp_avx512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp_avx512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

LK_AVX512 static inline __m512 silu_mul16(__m512 g, __m512 b) {
    __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), b);
}

LK_AVX512 static void silu_mul_avx512(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(a + i, silu_mul16(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(a + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

LK_AVX512 static void rms_norm_avx512(const float *x, const float *w, float eps, float *out, size_t n) {
    float ss = lk_dot(x, x, n);
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    __m512 s = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(_mm512_loadu_ps(x + i), s)));
    for (; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

LK_AVX512 static void add_avx512(float *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* ---------------------------------------------------------------- RoPE, rotate-half convention
   v[i] = a c_i - b s_i, v[i + half] = b c_i + a s_i (a = v[i], b = v[i + half]): two products and one add or
   subtract, each rounded (no FMA), on every path. */
#define LK_ROPE_BODY(NAME, TARGET, VEC, W, LOAD, STORE, MUL, ADD, SUB)                                               \
    TARGET static void NAME(float *x, size_t heads, size_t hd, const float *c, const float *s) {                  \
        size_t half = hd / 2;                                                                                      \
        for (size_t h = 0; h < heads; h++) {                                                                       \
            float *v = x + h * hd;                                                                                 \
            size_t i = 0;                                                                                          \
            for (; i + W <= half; i += W) {                                                                        \
                VEC a = LOAD(v + i), b = LOAD(v + i + half), cv = LOAD(c + i), sv = LOAD(s + i);                   \
                STORE(v + i, SUB(MUL(a, cv), MUL(b, sv)));                                                         \
                STORE(v + i + half, ADD(MUL(b, cv), MUL(a, sv)));                                                  \
            }                                                                                                      \
            for (; i < half; i++) {                                                                                \
                float a = v[i], b = v[i + half], ac = a * c[i], bs = b * s[i], bc = b * c[i], as = a * s[i];       \
                v[i] = ac - bs;                                                                                    \
                v[i + half] = bc + as;                                                                             \
            }                                                                                                      \
        }                                                                                                          \
    }
LK_ROPE_BODY(rope_avx2, LK_AVX2, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_mul_ps, _mm256_add_ps,
             _mm256_sub_ps)
LK_ROPE_BODY(rope_avx512, LK_AVX512, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_mul_ps, _mm512_add_ps,
             _mm512_sub_ps)
#endif

void lk_exp(const float *x, float *y, size_t n) {
#if LK_X86
    if (lk_has_avx512()) { exp_avx512_n(x, y, n); return; }
    if (lk_has_avx2()) { exp_avx2_n(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = exp_scalar(x[i]);
}

void lk_silu_mul(float *a, const float *b, size_t n) {
#if LK_X86
    if (lk_has_avx512()) { silu_mul_avx512(a, b, n); return; }
    if (lk_has_avx2()) { silu_mul_avx2(a, b, n); return; }
#endif
    for (size_t i = 0; i < n; i++) a[i] = a[i] / (1.0f + exp_scalar(-a[i])) * b[i];
}

void lk_rms_norm(const float *x, const float *w, float eps, float *out, size_t n) {
#if LK_X86
    if (lk_has_avx512()) { rms_norm_avx512(x, w, eps, out, n); return; }
    if (lk_has_avx2()) { rms_norm_avx2(x, w, eps, out, n); return; }
#endif
    float ss = lk_dot(x, x, n);
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (size_t i = 0; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

void lk_add(float *y, const float *x, size_t n) {
#if LK_X86
    if (lk_has_avx512()) { add_avx512(y, x, n); return; }
    if (lk_has_avx2()) { add_avx2(y, x, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void lk_rope(float *x, size_t heads, size_t hd, const float *c, const float *s) {
#if LK_X86
    if (lk_has_avx512()) { rope_avx512(x, heads, hd, c, s); return; }
    if (lk_has_avx2()) { rope_avx2(x, heads, hd, c, s); return; }
#endif
    size_t half = hd / 2;
    for (size_t h = 0; h < heads; h++) {
        float *v = x + h * hd;
        for (size_t i = 0; i < half; i++) {
            float a = v[i], b = v[i + half], ac = a * c[i], bs = b * s[i], bc = b * c[i], as = a * s[i];
            v[i] = ac - bs;
            v[i + half] = bc + as;
        }
    }
}
