// Attention of one query row over its visible context, split along the context into fixed chunks
// (Flash-Decoding): each chunk gives a partial softmax (its max m, its sum l = sum exp(s - m), and
// o = sum exp(s - m) v), computed independently, so one long context keeps every thread busy; lk_attn_combine merges
// the partials in chunk order. The chunks are cut at fixed multiples of LK_ATTN_CHUNK of the row's own context
// index, and merged in one order, so a row's result depends on its own context alone: never on the batch, the
// thread count or which thread ran which chunk.
//
// Context of a row (its "virtual" sequence, index n): first `nc` committed positions c0 .. c0 + nc - 1 from the
// KV blocks, then the visible rows of this step, stepRows[n - nc], whose K/V are at stepK/stepV + row * kvDim.
// KV block layout (Model/KVCache.swift): [layer][K or V][blockTokens][kvDim]; kOff/vOff select the layer's K or V.
#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "vec_ops.h"


typedef struct {
    const float *q; size_t group, hd; float scale;           // q: [group][hd], the heads sharing one kv head
    const float *const *blocks; size_t blockTokens, kOff, vOff, kvDim, c0, nc;
    const float *stepK, *stepV; const int32_t *stepRows;
    size_t kvh;                                            // kv head: columns kvh * hd ..< (kvh + 1) * hd
} Context;

static inline const float *key_at(const Context *c, size_t n) {
    if (n < c->nc) {
        size_t p = c->c0 + n;
        return c->blocks[p / c->blockTokens] + c->kOff + (p % c->blockTokens) * c->kvDim + c->kvh * c->hd;
    }
    return c->stepK + (size_t)c->stepRows[n - c->nc] * c->kvDim + c->kvh * c->hd;
}

static inline const float *value_at(const Context *c, size_t n) {
    if (n < c->nc) {
        size_t p = c->c0 + n;
        return c->blocks[p / c->blockTokens] + c->vOff + (p % c->blockTokens) * c->kvDim + c->kvh * c->hd;
    }
    return c->stepV + (size_t)c->stepRows[n - c->nc] * c->kvDim + c->kvh * c->hd;
}

static _Thread_local float *lk_attn_scratch;
static _Thread_local size_t lk_attn_scratch_cap;

static float *attn_scratch(size_t n) {
    if (n > lk_attn_scratch_cap) {
        free(lk_attn_scratch);
        void *p = NULL;
        if (posix_memalign(&p, 64, (n * sizeof(float) + 63) & ~(size_t)63) != 0) abort();
        lk_attn_scratch = p;
        lk_attn_scratch_cap = n;
    }
    return lk_attn_scratch;
}

/* ---------------------------------------------------------------- per-path dot and axpy over one head (hd floats) */

static inline float dot_scalar(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}
static inline void axpy_scalar(float *y, float a, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

/* ---------------------------------------------------------------- one chunk, instantiated per path
   Scores of the chunk's positions for every head of the group (each key is read once for the group), the chunk's
   max and exp (lk_exp), then o = sum e v in position order. part: [group][hd + 2] = (o, m, l). */
#define LK_ATTN_CHUNK_BODY(NAME, TARGET, DOT, AXPY)                                                                \
    TARGET static void NAME(const Context *c, size_t n0, size_t n1, float *part) {                                 \
        size_t len = n1 - n0, G = c->group, hd = c->hd;                                                            \
        float *sc = attn_scratch(G * len);                                                                         \
        for (size_t i = 0; i < len; i++) {                                                                         \
            const float *k = key_at(c, n0 + i);                                                                    \
            for (size_t g = 0; g < G; g++) sc[g * len + i] = DOT(c->q + g * hd, k, hd) * c->scale;                \
        }                                                                                                          \
        for (size_t g = 0; g < G; g++) {                                                                           \
            float *s = sc + g * len, m = -INFINITY;                                                                \
            for (size_t i = 0; i < len; i++) m = s[i] > m ? s[i] : m;                                              \
            for (size_t i = 0; i < len; i++) s[i] -= m;                                                            \
            lk_exp(s, s, len);                                                                                     \
            float l = 0;                                                                                           \
            for (size_t i = 0; i < len; i++) l += s[i];                                                            \
            float *o = part + g * (hd + 2);                                                                        \
            memset(o, 0, hd * sizeof(float));                                                                      \
            o[hd] = m;                                                                                             \
            o[hd + 1] = l;                                                                                         \
        }                                                                                                          \
        for (size_t i = 0; i < len; i++) {                                                                         \
            const float *v = value_at(c, n0 + i);                                                                  \
            for (size_t g = 0; g < G; g++) AXPY(part + g * (hd + 2), sc[g * len + i], v, hd);                     \
        }                                                                                                          \
    }

LK_ATTN_CHUNK_BODY(chunk_scalar, , dot_scalar, axpy_scalar)
#if LK_X86
LK_ATTN_CHUNK_BODY(chunk_avx2, LK_AVX2, dot_avx2, axpy_avx2)
LK_ATTN_CHUNK_BODY(chunk_avx512, LK_AVX512, dot_avx512, axpy_avx512)
#endif

void lk_attn_partial(const float *q, size_t group, size_t hd, float scale, const float *const *blocks,
                     size_t blockTokens, size_t kOff, size_t vOff, size_t kvDim, size_t c0, size_t nc,
                     const float *stepK, const float *stepV, const int32_t *stepRows, size_t kvh, size_t n0,
                     size_t n1, float *part) {
    if (n1 <= n0 || group == 0) return;
    Context c = {.q = q, .group = group, .hd = hd, .scale = scale, .blocks = blocks, .blockTokens = blockTokens,
                 .kOff = kOff, .vOff = vOff, .kvDim = kvDim, .c0 = c0, .nc = nc, .stepK = stepK, .stepV = stepV,
                 .stepRows = stepRows, .kvh = kvh};
#if LK_X86
    int isa = lk_isa();
    if (isa == LK_ISA_AVX512) { chunk_avx512(&c, n0, n1, part); return; }
    if (isa == LK_ISA_AVX2) { chunk_avx2(&c, n0, n1, part); return; }
#endif
    chunk_scalar(&c, n0, n1, part);
}

void lk_attn_combine(const float *parts, size_t chunks, size_t partStride, size_t hd, float *out) {
    float m = -INFINITY;
    for (size_t c = 0; c < chunks; c++) {
        float mc = parts[c * partStride + hd];
        m = mc > m ? mc : m;
    }
    float l = 0;
    for (size_t d = 0; d < hd; d++) out[d] = 0;
    for (size_t c = 0; c < chunks; c++) {
        const float *p = parts + c * partStride;
        float w = expf(p[hd] - m);
        l = fmaf(w, p[hd + 1], l);
        for (size_t d = 0; d < hd; d++) out[d] = fmaf(w, p[d], out[d]);
    }
    float inv = 1 / l;
    for (size_t d = 0; d < hd; d++) out[d] *= inv;
}
