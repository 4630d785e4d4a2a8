// Batch-invariant GEMM: y[m, n] = beta * y[m, n] + sum_k x[m, k] * w[n, k].
//
// Arithmetic of one output (the same in every path, tile, row count, thread split):
//     acc = +0.0f
//     for k = 0, 1, ..., K-1:  acc = fma(x[m, k], w[n, k], acc)      (one rounding per step, k ascending)
//     y[m, n] = (beta == 0) ? acc : fma(beta, y[m, n], acc)
// The vector kernels hold acc in one lane of a ymm register: lanes run along n (16 outputs per panel), rows of x
// are broadcast, so there is no horizontal sum and no reassociation. K-blocking only parks acc in memory between
// blocks (exact), and tiles of different shapes only change how many outputs share a load. Hence the value of
// y[m, n] depends on x[m, :], w[n, :], beta and y[m, n] alone.
//
// Weight layouts (element counts; Np = ceil(N / 16), KC = 256, nkb = ceil(K / KC), klen(b) = min(KC, K - b KC)):
//   row-major   w[n * K + k]                            HF [out, in]; packed per call by lk_gemm_rowmajor_f32
//   packed f32  [nkb][Np][klen(b)][16]                  idx = b KC 16 Np + p klen(b) 16 + kk 16 + j
//   packed bf16 [nkb][Np][klen(b)][16] (uint16)         same blocks; within one k-row of 16 the columns are
//               stored as pairs (j, j + 8) for j = 0..7, so one 32-bit word holds column j in its low half and
//               column j + 8 in its high half: f32(col j) = word << 16, f32(col j + 8) = word & 0xffff0000.
//   packed f16  [nkb][Np][klen(b)][16] (uint16)         same blocks, IEEE half, columns in order (F16C widens
//               8 at a time, exactly).
//   with n = 16 p + j, k = KC b + kk. Columns n >= N are zero. Consecutive panels of one K-block are adjacent,
//   so a thread that owns panels [p0, p1) reads one contiguous run per K-block.
#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define NR 16          // columns per panel
#define KC LK_PACK_KC  // K-block (fixed by the packed layout)
#define MR_MAX 6       // rows per register tile
#define MC 144         // rows per M-block (the packed x block, MC x KC floats, stays in L2)
#define SLIVERS_MAX 32 // slivers per M-block (MC / 5 rounded up, with room)
#define F16_WIDEN_ROWS 5 // f16 weights are widened per group from this many rows in an M-block (the FMA-bound ones)

// Software prefetch of the weights (into L2, `lk_tune_prefetch_distance` bytes ahead in the thread's stream) when an
// M-block has at least `lk_tune_prefetch_rows` rows. With 1 or 2 rows the FMAs leave the hardware prefetchers enough
// slack and explicit prefetches only cost bandwidth; from 3 rows on they pay. Globals, read once per call, so a
// tuning harness can move them.
int lk_tune_prefetch_rows = 3;
size_t lk_tune_prefetch_distance = 16384;
enum { W_PACKED_F32 = 0, W_PACKED_BF16 = 1, W_ROWMAJOR_F32 = 2, W_PACKED_F16 = 3 };
// Element of the weights the microkernels read (row-major f32 is packed into f32 panels first).
enum { E_F32 = 0, E_BF16 = 1, E_F16 = 2 };

size_t lk_packed_count(size_t N, size_t K) { return (N + NR - 1) / NR * NR * K; }

static inline size_t block_offset(size_t b, size_t p, size_t klen, size_t Np) {
    return b * (size_t)KC * NR * Np + p * klen * NR;
}

/* ---------------------------------------------------------------- per-thread scratch */

typedef struct {
    float *acc; size_t accCap;   // [mlen][ldacc] partial sums between K-blocks
    float *xp; size_t xpCap;     // packed x block [slivers][klen][mr]
    float *wp; size_t wpCap;     // f32 panels of one group [np][klen][16]: row-major or f16 weights, per call
} Scratch;

static _Thread_local Scratch lk_scratch;

static float *grow(float **p, size_t *cap, size_t need) {
    if (need > *cap) {
        free(*p);
        size_t bytes = (need * sizeof(float) + 63) & ~(size_t)63;
        void *q = NULL;
        if (posix_memalign(&q, 64, bytes) != 0) abort();
        *p = q;
        *cap = need;
    }
    return *p;
}

/* ---------------------------------------------------------------- packing */

// Rows [n0, n0 + 16) x cols [k0, k0 + klen) of row-major w [N, K] -> dst [klen][16] (rows >= N give zeros).
static void pack_block_scalar(const float *w, size_t N, size_t K, size_t n0, size_t k0, size_t klen, float *dst) {
    for (size_t j = 0; j < NR; j++) {
        size_t n = n0 + j;
        if (n >= N) { for (size_t kk = 0; kk < klen; kk++) dst[kk * NR + j] = 0; continue; }
        const float *src = w + n * K + k0;
        for (size_t kk = 0; kk < klen; kk++) dst[kk * NR + j] = src[kk];
    }
}

#if LK_X86
// 8x8 transposes of the block: src rows r0..r0+7 (stride K), writes dst[kk][half*8 + 0..7].
LK_AVX2 static void pack_block_avx2(const float *w, size_t N, size_t K, size_t n0, size_t k0, size_t klen, float *dst) {
    if (n0 + NR > N) { pack_block_scalar(w, N, K, n0, k0, klen, dst); return; }
    for (int half = 0; half < 2; half++) {
        const float *s = w + (n0 + 8 * half) * K + k0;
        float *d = dst + 8 * half;
        size_t kk = 0;
        for (; kk + 8 <= klen; kk += 8) {
            __m256 r0 = _mm256_loadu_ps(s + 0 * K + kk), r1 = _mm256_loadu_ps(s + 1 * K + kk);
            __m256 r2 = _mm256_loadu_ps(s + 2 * K + kk), r3 = _mm256_loadu_ps(s + 3 * K + kk);
            __m256 r4 = _mm256_loadu_ps(s + 4 * K + kk), r5 = _mm256_loadu_ps(s + 5 * K + kk);
            __m256 r6 = _mm256_loadu_ps(s + 6 * K + kk), r7 = _mm256_loadu_ps(s + 7 * K + kk);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            _mm256_storeu_ps(d + (kk + 0) * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + (kk + 1) * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + (kk + 2) * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + (kk + 3) * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + (kk + 4) * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + (kk + 5) * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + (kk + 6) * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + (kk + 7) * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; kk < klen; kk++)
            for (int j = 0; j < 8; j++) d[kk * NR + j] = s[j * K + kk];
    }
}
#endif

static void pack_block(int simd, const float *w, size_t N, size_t K, size_t n0, size_t k0, size_t klen, float *dst) {
#if LK_X86
    if (simd && lk_has_avx2()) { pack_block_avx2(w, N, K, n0, k0, klen, dst); return; }
#endif
    pack_block_scalar(w, N, K, n0, k0, klen, dst);
}

void lk_pack_f32(const float *w, size_t N, size_t K, float *dst, size_t p0, size_t p1) {
    size_t Np = (N + NR - 1) / NR;
    for (size_t b = 0; b * KC < K; b++) {
        size_t k0 = b * KC, klen = K - k0 < KC ? K - k0 : KC;
        for (size_t p = p0; p < p1; p++) pack_block(1, w, N, K, p * NR, k0, klen, dst + block_offset(b, p, klen, Np));
    }
}

static inline uint16_t f32_to_bf16_one(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);  // NaN stays NaN (quiet)
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

// Position of column j (0..15) inside a bf16 k-row.
static inline size_t bf16_slot(size_t j) { return j < 8 ? 2 * j : 2 * (j - 8) + 1; }

// Packs 16-bit elements, placing column j of a k-row at slot(j): bf16_slot for bf16, j for f16.
static void pack_halves(const uint16_t *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1, int interleave) {
    size_t Np = (N + NR - 1) / NR;
    for (size_t b = 0; b * KC < K; b++) {
        size_t k0 = b * KC, klen = K - k0 < KC ? K - k0 : KC;
        for (size_t p = p0; p < p1; p++) {
            uint16_t *d = dst + block_offset(b, p, klen, Np);
            for (size_t j = 0; j < NR; j++) {
                size_t n = p * NR + j, slot = interleave ? bf16_slot(j) : j;
                if (n >= N) { for (size_t kk = 0; kk < klen; kk++) d[kk * NR + slot] = 0; continue; }
                const uint16_t *s = w + n * K + k0;
                for (size_t kk = 0; kk < klen; kk++) d[kk * NR + slot] = s[kk];
            }
        }
    }
}

void lk_pack_bf16(const uint16_t *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1) {
    pack_halves(w, N, K, dst, p0, p1, 1);
}

void lk_pack_f16(const uint16_t *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1) {
    pack_halves(w, N, K, dst, p0, p1, 0);
}

void lk_pack_bf16_from_f32(const float *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1) {
    size_t Np = (N + NR - 1) / NR;
    for (size_t b = 0; b * KC < K; b++) {
        size_t k0 = b * KC, klen = K - k0 < KC ? K - k0 : KC;
        for (size_t p = p0; p < p1; p++) {
            uint16_t *d = dst + block_offset(b, p, klen, Np);
            for (size_t j = 0; j < NR; j++) {
                size_t n = p * NR + j, slot = bf16_slot(j);
                if (n >= N) { for (size_t kk = 0; kk < klen; kk++) d[kk * NR + slot] = 0; continue; }
                const float *s = w + n * K + k0;
                for (size_t kk = 0; kk < klen; kk++) d[kk * NR + slot] = f32_to_bf16_one(s[kk]);
            }
        }
    }
}

// Packs rows [m0, m0 + mr) x cols [k0, k0 + klen) of x into dst [klen][mr].
static void pack_x(const float *x, size_t ldx, size_t m0, size_t mr, size_t k0, size_t klen, float *dst) {
    if (mr == 1) { memcpy(dst, x + m0 * ldx + k0, klen * sizeof(float)); return; }
    for (size_t r = 0; r < mr; r++) {
        const float *s = x + (m0 + r) * ldx + k0;
        float *d = dst + r;
        for (size_t kk = 0; kk < klen; kk++) d[kk * mr] = s[kk];
    }
}

/* ---------------------------------------------------------------- microkernels */

// flags: bit 0 = first K-block (acc starts at +0), bit 1 = last K-block (finish into y).
enum { MK_FIRST = 1, MK_LAST = 2 };

// pf: the weights the driver will need next (same byte count as this call's), prefetched into L2 as this call
// streams its own, so memory traffic overlaps the FMAs; NULL when they are already cached.
typedef void (*mk_fn)(size_t klen, const float *xp, const void *w, size_t wps, float *acc, size_t ldacc, int flags,
                      float *y, size_t ldy, int ncols, float beta, const char *pf);

// Scalar microkernel with the exact arithmetic of the vector ones (fmaf, k ascending). Used by the non-AVX2 path,
// one output at a time.
static void mk_scalar(int mr, int np, int elem, size_t klen, const float *xp, const void *w, size_t wps, float *acc,
                      size_t ldacc, int flags, float *y, size_t ldy, int ncols, float beta) {
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < np * NR; c++) {
            if (c >= ncols && (flags & MK_LAST)) continue;
            size_t p = (size_t)c / NR, j = (size_t)c % NR;
            float a = (flags & MK_FIRST) ? 0.0f : acc[r * ldacc + c];
            for (size_t k = 0; k < klen; k++) {
                float wv;
                if (elem == E_BF16) {
                    uint32_t bits = (uint32_t)((const uint16_t *)w)[p * wps + k * NR + bf16_slot(j)] << 16;
                    memcpy(&wv, &bits, 4);
                } else if (elem == E_F16) {
                    wv = lk_f16_to_f32_one_scalar(((const uint16_t *)w)[p * wps + k * NR + j]);
                } else wv = ((const float *)w)[p * wps + k * NR + j];
                a = fmaf(xp[k * mr + r], wv, a);
            }
            if (flags & MK_LAST) {
                float *o = y + r * ldy + c;
                *o = beta == 0.0f ? a : fmaf(beta, *o, a);
            } else acc[r * ldacc + c] = a;
        }
}

#if LK_X86
LK_AVX2 static inline __m256i lane_mask(int valid) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), idx);
}

// Stores one 8-lane vector of finished sums into y (valid lanes only), applying beta.
LK_AVX2 static inline void finish8(float *o, __m256 c, int valid, float beta) {
    if (valid <= 0) return;
    if (valid >= 8) {
        if (beta != 0.0f) c = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(o), c);
        _mm256_storeu_ps(o, c);
    } else {
        __m256i m = lane_mask(valid);
        if (beta != 0.0f) c = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_maskload_ps(o, m), c);
        _mm256_maskstore_ps(o, m, c);
    }
}

// The high-half mask of the bf16 widening, read through a volatile load at each use. Were it a known constant, the
// optimiser would turn `v & 0xffff0000` into vpblendw with zero, which on Zen 2 competes with the FMAs for their
// pipes (6 x 16 bf16 tiles drop from ~98% to ~78% of the FMA peak); held in a register it costs the 2-row tiles
// their last free register, so an accumulator spills. As a load it is one more L1 read per 16 weights.
static const uint32_t hi_half_mask[8] __attribute__((aligned(32))) = {
    0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u};

// Columns 8h .. 8h + 7 of panel p at step k, as f32 (for bf16: the low halves of the 32-bit words for h = 0, the
// high halves for h = 1).
#define LK_INLINE __attribute__((always_inline)) inline
LK_AVX2 static LK_INLINE __m256 weights8(const int ELEM, const void *w, size_t wps, int p, size_t k, int h) {
    if (ELEM == E_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + p * wps + k * NR + 8 * h)));
    if (ELEM == E_BF16) {
        __m256i v = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + p * wps + k * NR));
        return _mm256_castsi256_ps(h == 0 ? _mm256_slli_epi32(v, 16)
                                          : _mm256_and_si256(v, *(const volatile __m256i *)hi_half_mask));
    }
    return _mm256_loadu_ps((const float *)w + p * wps + k * NR + 8 * h);
}

// One k step of an MR x NP tile into c. Tall tiles (MR >= 3) widen the NP panels' weights first and broadcast one x
// value at a time; short wide ones (MR <= 2) broadcast their x values first and widen one 8-column half at a time,
// so 2 x 48 fits its 12 accumulators in the 16 registers.
LK_AVX2 static LK_INLINE void mk_step(const int MR, const int NP, const int ELEM, size_t k, const float *xp,
                                      const void *w, size_t wps, __m256 c[MR_MAX][8]) {
#define LK_UNROLL _Pragma("clang loop unroll(full)")
    if (MR >= 3) {
        __m256 wv[8];
        LK_UNROLL for (int j = 0; j < 2 * NP; j++) wv[j] = weights8(ELEM, w, wps, j / 2, k, j % 2);
        LK_UNROLL for (int r = 0; r < MR; r++) {
            __m256 a = _mm256_broadcast_ss(xp + k * MR + r);
            LK_UNROLL for (int j = 0; j < 2 * NP; j++) c[r][j] = _mm256_fmadd_ps(a, wv[j], c[r][j]);
        }
    } else {
        __m256 a[2];
        LK_UNROLL for (int r = 0; r < MR; r++) a[r] = _mm256_broadcast_ss(xp + k * MR + r);
        LK_UNROLL for (int j = 0; j < 2 * NP; j++) {
            __m256 wv = weights8(ELEM, w, wps, j / 2, k, j % 2);
            LK_UNROLL for (int r = 0; r < MR; r++) c[r][j] = _mm256_fmadd_ps(a[r], wv, c[r][j]);
        }
    }
#undef LK_UNROLL
}

// MR rows x NP panels (16 columns each) of ELEM weights (row-major weights are packed into f32 panels before they
// get here). Everything is unrolled so the 2 MR NP accumulators stay in registers.
LK_AVX2 static LK_INLINE void mk_body(const int MR, const int NP, const int ELEM, size_t klen, const float *xp,
                                      const void *w, size_t wps, float *acc, size_t ldacc, int flags, float *y,
                                      size_t ldy, int ncols, float beta, const char *pf) {
    __m256 c[MR_MAX][8];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
        _Pragma("clang loop unroll(full)") for (int j = 0; j < 2 * NP; j++)
            c[r][j] = (flags & MK_FIRST) ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + r * ldacc + 8 * j);
    const size_t rowBytes = (size_t)NP * NR * (ELEM == E_F32 ? 4 : 2);  // weight bytes per k step
    // Two steps per iteration, the prefetching and the plain loop apart, so the loop costs few instructions beside
    // the FMAs. The empty asm with a memory clobber keeps each step's loads after the previous step's FMAs: hoisted,
    // they take registers, and the short wide tiles then spill an accumulator.
#define LK_STEP_FENCE() __asm__ volatile("" ::: "memory")
    size_t k = 0;
    if (pf) {  // one prefetch per 64-byte line of the next weights
        for (; k + 2 <= klen; k += 2) {
            _Pragma("clang loop unroll(full)") for (size_t b = 0; b < 2 * rowBytes; b += 64)
                _mm_prefetch(pf + k * rowBytes + b, _MM_HINT_T1);
            mk_step(MR, NP, ELEM, k, xp, w, wps, c);
            LK_STEP_FENCE();
            mk_step(MR, NP, ELEM, k + 1, xp, w, wps, c);
            LK_STEP_FENCE();
        }
    } else {
        for (; k + 2 <= klen; k += 2) {
            mk_step(MR, NP, ELEM, k, xp, w, wps, c);
            LK_STEP_FENCE();
            mk_step(MR, NP, ELEM, k + 1, xp, w, wps, c);
            LK_STEP_FENCE();
        }
    }
    for (; k < klen; k++) mk_step(MR, NP, ELEM, k, xp, w, wps, c);
#undef LK_STEP_FENCE
    if (flags & MK_LAST) {
        _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
            _Pragma("clang loop unroll(full)") for (int j = 0; j < 2 * NP; j++)
                finish8(y + r * ldy + 8 * j, c[r][j], ncols - 8 * j, beta);
    } else {
        _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
            _Pragma("clang loop unroll(full)") for (int j = 0; j < 2 * NP; j++)
                _mm256_storeu_ps(acc + r * ldacc + 8 * j, c[r][j]);
    }
}

#define MK_DEF(MR, NP, E, NAME)                                                                                    \
    LK_AVX2 static void NAME(size_t klen, const float *xp, const void *w, size_t wps, float *acc, size_t ldacc,     \
                             int flags, float *y, size_t ldy, int ncols, float beta, const char *pf) {             \
        mk_body(MR, NP, E, klen, xp, w, wps, acc, ldacc, flags, y, ldy, ncols, beta, pf);                          \
    }
// The tiles plan_rows hands out: 1 row x 1..4 panels, 2 rows x 1..3 panels, 3..6 rows x 1 panel. From 5 rows on
// (and 2 x 48) they keep at least 10 FMA chains in flight, the FMA latency times its two pipes; the others serve
// the memory-bound row counts 1..4 and the last panels of a range.
MK_DEF(1, 1, 0, mk_f_1_1) MK_DEF(1, 2, 0, mk_f_1_2) MK_DEF(1, 3, 0, mk_f_1_3) MK_DEF(1, 4, 0, mk_f_1_4)
MK_DEF(2, 1, 0, mk_f_2_1) MK_DEF(2, 2, 0, mk_f_2_2) MK_DEF(2, 3, 0, mk_f_2_3)
MK_DEF(3, 1, 0, mk_f_3_1) MK_DEF(4, 1, 0, mk_f_4_1) MK_DEF(5, 1, 0, mk_f_5_1) MK_DEF(6, 1, 0, mk_f_6_1)
MK_DEF(1, 1, 1, mk_b_1_1) MK_DEF(1, 2, 1, mk_b_1_2) MK_DEF(1, 3, 1, mk_b_1_3) MK_DEF(1, 4, 1, mk_b_1_4)
MK_DEF(2, 1, 1, mk_b_2_1) MK_DEF(2, 2, 1, mk_b_2_2) MK_DEF(2, 3, 1, mk_b_2_3)
MK_DEF(3, 1, 1, mk_b_3_1) MK_DEF(4, 1, 1, mk_b_4_1) MK_DEF(5, 1, 1, mk_b_5_1) MK_DEF(6, 1, 1, mk_b_6_1)
MK_DEF(1, 1, 2, mk_h_1_1) MK_DEF(1, 2, 2, mk_h_1_2) MK_DEF(1, 3, 2, mk_h_1_3) MK_DEF(1, 4, 2, mk_h_1_4)
MK_DEF(2, 1, 2, mk_h_2_1) MK_DEF(2, 2, 2, mk_h_2_2) MK_DEF(2, 3, 2, mk_h_2_3)
MK_DEF(3, 1, 2, mk_h_3_1) MK_DEF(4, 1, 2, mk_h_4_1)  // f16 from 5 rows on: widened, f32 tiles

// [element][rows][panels - 1]
static const mk_fn mk_table[3][MR_MAX + 1][4] = {
    {{0}, {mk_f_1_1, mk_f_1_2, mk_f_1_3, mk_f_1_4}, {mk_f_2_1, mk_f_2_2, mk_f_2_3, 0}, {mk_f_3_1, 0, 0, 0},
     {mk_f_4_1, 0, 0, 0}, {mk_f_5_1, 0, 0, 0}, {mk_f_6_1, 0, 0, 0}},
    {{0}, {mk_b_1_1, mk_b_1_2, mk_b_1_3, mk_b_1_4}, {mk_b_2_1, mk_b_2_2, mk_b_2_3, 0}, {mk_b_3_1, 0, 0, 0},
     {mk_b_4_1, 0, 0, 0}, {mk_b_5_1, 0, 0, 0}, {mk_b_6_1, 0, 0, 0}},
    {{0}, {mk_h_1_1, mk_h_1_2, mk_h_1_3, mk_h_1_4}, {mk_h_2_1, mk_h_2_2, mk_h_2_3, 0}, {mk_h_3_1, 0, 0, 0},
     {mk_h_4_1, 0, 0, 0}, {0}, {0}},
};

/* ---------------------------------------------------------------- AVX-512 microkernels
   The same tiles and the same arithmetic as the AVX2 ones (one FMA chain per output, k ascending), with one zmm
   register per panel: 16 columns in one accumulator, so a tile needs half the FMA instructions and mask registers
   finish the ragged last panel. bf16 k-rows are widened by one byte shuffle of the row broadcast to both halves:
   words j (column j low, column j + 8 high) land as column j << 16 in lanes 0..7 and column j + 8 with its low
   half cleared in lanes 8..15. */

// vpshufb control: per dword of lanes 0..7 the word's low half moves up (bytes 0,1 -> 2,3), per dword of lanes
// 8..15 its high half stays (bytes 2,3); bytes 0,1 are zeroed (0x80). _mm512_set_epi8 lists bytes high to low.
#define LK_BF16_SHUF_LO(d) (char)(4 * (d) + 1), (char)(4 * (d)), (char)0x80, (char)0x80
#define LK_BF16_SHUF_HI(d) (char)(4 * (d) + 3), (char)(4 * (d) + 2), (char)0x80, (char)0x80

LK_AVX512 static LK_INLINE __m512i bf16_shuffle_control(void) {
    return _mm512_set_epi8(LK_BF16_SHUF_HI(3), LK_BF16_SHUF_HI(2), LK_BF16_SHUF_HI(1), LK_BF16_SHUF_HI(0),
                           LK_BF16_SHUF_HI(3), LK_BF16_SHUF_HI(2), LK_BF16_SHUF_HI(1), LK_BF16_SHUF_HI(0),
                           LK_BF16_SHUF_LO(3), LK_BF16_SHUF_LO(2), LK_BF16_SHUF_LO(1), LK_BF16_SHUF_LO(0),
                           LK_BF16_SHUF_LO(3), LK_BF16_SHUF_LO(2), LK_BF16_SHUF_LO(1), LK_BF16_SHUF_LO(0));
}

// Panel p's 16 columns at step k, as f32 in column order.
LK_AVX512 static LK_INLINE __m512 weights16(const int ELEM, const void *w, size_t wps, int p, size_t k,
                                             __m512i shuf) {
    if (ELEM == E_F16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + p * wps + k * NR)));
    if (ELEM == E_BF16) {
        __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + p * wps + k * NR)));
        return _mm512_castsi512_ps(_mm512_shuffle_epi8(v, shuf));
    }
    return _mm512_loadu_ps((const float *)w + p * wps + k * NR);
}

LK_AVX512 static LK_INLINE void mk512_step(const int MR, const int NP, const int ELEM, size_t k, const float *xp,
                                            const void *w, size_t wps, __m512 c[MR_MAX][4], __m512i shuf) {
#define LK_UNROLL _Pragma("clang loop unroll(full)")
    if (MR >= 3) {
        __m512 wv[4];
        LK_UNROLL for (int j = 0; j < NP; j++) wv[j] = weights16(ELEM, w, wps, j, k, shuf);
        LK_UNROLL for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(xp[k * MR + r]);
            LK_UNROLL for (int j = 0; j < NP; j++) c[r][j] = _mm512_fmadd_ps(a, wv[j], c[r][j]);
        }
    } else {
        __m512 a[2];
        LK_UNROLL for (int r = 0; r < MR; r++) a[r] = _mm512_set1_ps(xp[k * MR + r]);
        LK_UNROLL for (int j = 0; j < NP; j++) {
            __m512 wv = weights16(ELEM, w, wps, j, k, shuf);
            LK_UNROLL for (int r = 0; r < MR; r++) c[r][j] = _mm512_fmadd_ps(a[r], wv, c[r][j]);
        }
    }
#undef LK_UNROLL
}

LK_AVX512 static LK_INLINE void finish16(float *o, __m512 c, int valid, float beta) {
    if (valid <= 0) return;
    __mmask16 m = valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1);
    if (beta != 0.0f) c = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, o), c);
    _mm512_mask_storeu_ps(o, m, c);
}

LK_AVX512 static LK_INLINE void mk512_body(const int MR, const int NP, const int ELEM, size_t klen, const float *xp,
                                            const void *w, size_t wps, float *acc, size_t ldacc, int flags, float *y,
                                            size_t ldy, int ncols, float beta, const char *pf) {
    __m512 c[MR_MAX][4];
    const __m512i shuf = bf16_shuffle_control();
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NP; j++)
            c[r][j] = (flags & MK_FIRST) ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + r * ldacc + 16 * j);
    const size_t rowBytes = (size_t)NP * NR * (ELEM == E_F32 ? 4 : 2);
    size_t k = 0;
    if (pf) {
        for (; k + 2 <= klen; k += 2) {
            _Pragma("clang loop unroll(full)") for (size_t b = 0; b < 2 * rowBytes; b += 64)
                _mm_prefetch(pf + k * rowBytes + b, _MM_HINT_T1);
            mk512_step(MR, NP, ELEM, k, xp, w, wps, c, shuf);
            mk512_step(MR, NP, ELEM, k + 1, xp, w, wps, c, shuf);
        }
    } else {
        for (; k + 2 <= klen; k += 2) {
            mk512_step(MR, NP, ELEM, k, xp, w, wps, c, shuf);
            mk512_step(MR, NP, ELEM, k + 1, xp, w, wps, c, shuf);
        }
    }
    for (; k < klen; k++) mk512_step(MR, NP, ELEM, k, xp, w, wps, c, shuf);
    if (flags & MK_LAST) {
        _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
            _Pragma("clang loop unroll(full)") for (int j = 0; j < NP; j++)
                finish16(y + r * ldy + 16 * j, c[r][j], ncols - 16 * j, beta);
    } else {
        _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)
            _Pragma("clang loop unroll(full)") for (int j = 0; j < NP; j++)
                _mm512_storeu_ps(acc + r * ldacc + 16 * j, c[r][j]);
    }
}

#define MK512_DEF(MR, NP, E, NAME)                                                                                 \
    LK_AVX512 static void NAME(size_t klen, const float *xp, const void *w, size_t wps, float *acc, size_t ldacc,   \
                               int flags, float *y, size_t ldy, int ncols, float beta, const char *pf) {           \
        mk512_body(MR, NP, E, klen, xp, w, wps, acc, ldacc, flags, y, ldy, ncols, beta, pf);                       \
    }
#define MK512_FAMILY(E, P)                                                                                         \
    MK512_DEF(1, 1, E, P##_1_1) MK512_DEF(1, 2, E, P##_1_2) MK512_DEF(1, 3, E, P##_1_3) MK512_DEF(1, 4, E, P##_1_4) \
    MK512_DEF(2, 1, E, P##_2_1) MK512_DEF(2, 2, E, P##_2_2) MK512_DEF(2, 3, E, P##_2_3)                           \
    MK512_DEF(3, 1, E, P##_3_1) MK512_DEF(4, 1, E, P##_4_1) MK512_DEF(5, 1, E, P##_5_1) MK512_DEF(6, 1, E, P##_6_1)
MK512_FAMILY(0, mk512_f) MK512_FAMILY(1, mk512_b) MK512_FAMILY(2, mk512_h)
#define MK512_ROW(P)                                                                                               \
    {{0}, {P##_1_1, P##_1_2, P##_1_3, P##_1_4}, {P##_2_1, P##_2_2, P##_2_3, 0}, {P##_3_1, 0, 0, 0},                 \
     {P##_4_1, 0, 0, 0}, {P##_5_1, 0, 0, 0}, {P##_6_1, 0, 0, 0}}
// [element][rows][panels - 1], the shapes of mk_table.
static const mk_fn mk512_table[3][MR_MAX + 1][4] = {MK512_ROW(mk512_f), MK512_ROW(mk512_b), MK512_ROW(mk512_h)};
#endif

/* ---------------------------------------------------------------- driver */

typedef struct {
    int kind, simd, avx2, avx512, elem;
    size_t es;                       // bytes per weight element
    const float *x; size_t ldx, M, K;
    const void *w; size_t N, Np, p0, p1, nkb;
    float *y; size_t ldy; float beta;
    float *wp;                       // f32 panels of the current group when the weights are row-major or widened
} Gemm;

// How the rows [m0, m0 + mlen) of one M-block are cut into register tiles ("slivers"), and how many panels a group
// of weights (the unit the slivers share while it is in L1) holds.
typedef struct {
    size_t m0, mlen, ns;
    unsigned char height[SLIVERS_MAX];
    size_t group;                    // panels per group: 4 (M = 1), 3 (with 1- or 2-row slivers) or 1
} Rows;

// Slivers of 5 or 6 rows (10 or 12 accumulators), the rest in 2-row slivers that take 3 panels (12 accumulators)
// and at most one 1-row sliver, so every tile keeps the FMA pipes busy: 8 = 6 + 2, 9 = 5 + 2 + 2, 13 = 6 + 5 + 2,
// 16 = 6 + 5 + 5. Up to 4 rows the weights' bandwidth is the limit, not the FMAs; there the measured best are
// 1 x 64 (M = 1), 2 x 48 (M = 2) and one sliver of 3 or 4 rows x 16 with software prefetch. Which tile computes a
// row never changes its arithmetic (see the top of the file).
static void plan_rows(Rows *r) {
    size_t m = r->mlen, ns = (m + MR_MAX - 1) / MR_MAX;
    r->ns = 0;
    if (m == 1) { r->height[r->ns++] = 1; r->group = 4; return; }
    if (m <= 4 && m >= 3) { r->height[r->ns++] = (unsigned char)m; r->group = 1; return; }
    size_t big = m >= 5 * ns ? ns : ns - 1, bigRows = m;
    if (big < ns) {
        bigRows = 6 * big;
        if (big > 0 && (m - bigRows) % 2) bigRows--;
    }
    for (size_t i = 0; i < big; i++) r->height[r->ns++] = (unsigned char)(bigRows / big + (i < bigRows % big));
    size_t rest = m - bigRows;
    for (; rest >= 2; rest -= 2) r->height[r->ns++] = 2;
    if (rest) r->height[r->ns++] = 1;
    r->group = bigRows == m ? 1 : 3;
}

// Panels a sliver of `mr` rows takes at once in a group of `group` with `left` panels to go.
static inline size_t panels_for(size_t mr, size_t group, size_t left) {
    size_t want = mr <= 2 ? group : 1;
    return want < left ? want : left;
}

static inline size_t klen_of(const Gemm *g, size_t b) { return g->K - b * KC < KC ? g->K - b * KC : KC; }

// Address of packed block (b, p), or NULL for row-major weights.
static inline const char *block_address(const Gemm *g, size_t b, size_t p) {
    if (g->kind == W_ROWMAJOR_F32) return NULL;
    return (const char *)g->w + block_offset(b, p, klen_of(g, b), g->Np) * g->es;
}

// Packs rows of `r` x K-block b into dst as slivers [klen][mr] one after the other.
static void pack_rows(const Gemm *g, const Rows *r, size_t b, float *dst) {
    size_t k0 = b * KC, klen = klen_of(g, b), r0 = 0;
    for (size_t i = 0; i < r->ns; i++) {
        pack_x(g->x, g->ldx, r->m0 + r0, r->height[i], k0, klen, dst + r0 * klen);
        r0 += r->height[i];
    }
}

// All slivers of `r` against panels [p, p + np) over K-block b. xb: the packed x block (or the single row).
// acc + q * NR (+ row * ldacc): partial sums of panel p + q. pf: the weights needed next (prefetched) or NULL; for
// widened f16 the f32 tiles prefetch twice the f16 bytes they stand for (the next call's too: harmless).
static void run_group(const Gemm *g, const Rows *r, size_t b, size_t p, size_t np, const float *xb, float *acc,
                      size_t ldacc, const char *pf) {
    size_t k0 = b * KC, klen = klen_of(g, b), wps = klen * NR, es = g->es;
    int flags = (b == 0 ? MK_FIRST : 0) | (b + 1 == g->nkb ? MK_LAST : 0), elem = g->elem;
    const char *wb;
    if (g->kind == W_ROWMAJOR_F32) {
        for (size_t q = 0; q < np; q++)
            pack_block(g->simd, (const float *)g->w, g->N, g->K, (p + q) * NR, k0, klen, g->wp + q * wps);
        wb = (const char *)g->wp;
    } else if (elem == E_F16 && r->mlen >= F16_WIDEN_ROWS) {
        // Widened once per group into f32 panels (the layouts match element for element), then the f32 tiles:
        // F16C's conversions compete with the FMAs for their pipes, which matters once the FMAs are the limit.
        const uint16_t *h = (const uint16_t *)block_address(g, b, p);
        if (g->avx2) lk_f16_to_f32(h, g->wp, np * wps);
        else for (size_t i = 0; i < np * wps; i++) g->wp[i] = lk_f16_to_f32_one_scalar(h[i]);
        wb = (const char *)g->wp;
        elem = E_F32;
        es = 4;
    } else wb = block_address(g, b, p);
    int ncols = (int)((g->N - p * NR) < np * NR ? (g->N - p * NR) : np * NR);
    size_t r0 = 0;
    for (size_t i = 0; i < r->ns; i++) {
        size_t mr = r->height[i];
        for (size_t q = 0, tnp; q < np; q += tnp) {
            tnp = panels_for(mr, r->group, np - q);
            int nc = ncols - (int)(q * NR);
            const void *wq = wb + q * wps * es;
            float *yq = g->y + (r->m0 + r0) * g->ldy + (p + q) * NR;
            float *aq = acc ? acc + r0 * ldacc + q * NR : NULL;
            const float *xq = xb + r0 * klen;
#if LK_X86
            if (g->avx2) {
                mk_fn f = g->avx512 ? mk512_table[elem][mr][tnp - 1] : mk_table[elem][mr][tnp - 1];
                const char *pq = i == 0 && pf ? pf + q * wps * g->es : NULL;  // the first sliver prefetches
                f(klen, xq, wq, wps, aq, ldacc, flags, yq, g->ldy, nc, g->beta, pq);
                continue;
            }
#endif
            mk_scalar((int)mr, (int)tnp, elem, klen, xq, wq, wps, aq, ldacc, flags, yq, g->ldy, nc, g->beta);
        }
        r0 += mr;
    }
}

static void gemm(int kind, int simd, const float *x, size_t ldx, size_t M, size_t K, const void *w, size_t N,
                 size_t p0, size_t p1, float *y, size_t ldy, float beta) {
    size_t Np = (N + NR - 1) / NR;
    if (p1 > Np) p1 = Np;
    if (p0 >= p1 || M == 0) return;
    if (K == 0) {  // empty sums: acc = 0
        for (size_t m = 0; m < M; m++)
            for (size_t n = p0 * NR; n < N && n < p1 * NR; n++) {
                float *o = y + m * ldy + n;
                *o = beta == 0.0f ? 0.0f : fmaf(beta, *o, 0.0f);
            }
        return;
    }
    int elem = kind == W_PACKED_BF16 ? E_BF16 : kind == W_PACKED_F16 ? E_F16 : E_F32;
    Gemm g = {.kind = kind, .simd = simd, .elem = elem, .es = elem == E_F32 ? 4 : 2, .x = x, .ldx = ldx, .M = M,
              .K = K, .w = w, .N = N, .Np = Np, .p0 = p0, .p1 = p1, .nkb = (K + KC - 1) / KC, .y = y, .ldy = ldy,
              .beta = beta};
#if LK_X86
    g.avx2 = simd && lk_has_avx2();
    g.avx512 = simd && lk_has_avx512();
#endif
    Scratch *s = &lk_scratch;
    if (kind == W_ROWMAJOR_F32 || kind == W_PACKED_F16) g.wp = grow(&s->wp, &s->wpCap, 4 * KC * NR);
    size_t nkb = g.nkb, pfRows = (size_t)lk_tune_prefetch_rows, pfDistance = lk_tune_prefetch_distance;

    for (size_t m0 = 0; m0 < M; m0 += MC) {
        Rows r = {.m0 = m0, .mlen = M - m0 < MC ? M - m0 : MC};
        plan_rows(&r);
        int prefetch = kind != W_ROWMAJOR_F32 && pfRows > 0 && r.mlen >= pfRows;
        // K-blocks outer (BLIS order): the packed x block (mlen x KC) stays in L2 for all panels; partial sums of
        // the whole [mlen, panels] tile live in a per-thread buffer between K-blocks.
        size_t ldacc = (p1 - p0) * NR;
        float *acc = nkb > 1 ? grow(&s->acc, &s->accCap, r.mlen * ldacc) : NULL;
        float *xp = grow(&s->xp, &s->xpCap, r.mlen * KC);
        for (size_t b = 0; b < nkb; b++) {
            const float *xb = x + m0 * ldx + b * KC;
            if (r.mlen > 1) { pack_rows(&g, &r, b, xp); xb = xp; }
            for (size_t p = p0; p < p1;) {
                size_t np = r.group < p1 - p ? r.group : p1 - p;
                // Prefetch a fixed distance ahead in this thread's stream (past its end: harmless hints).
                const char *pf = prefetch ? block_address(&g, b, p) + pfDistance : NULL;
                run_group(&g, &r, b, p, np, xb, acc ? acc + (p - p0) * NR : NULL, ldacc, pf);
                p += np;
            }
        }
    }
}

void lk_gemm_packed_f32(const float *x, size_t ldx, size_t M, size_t K, const float *w, size_t N, size_t p0,
                        size_t p1, float *y, size_t ldy, float beta) {
    gemm(W_PACKED_F32, 1, x, ldx, M, K, w, N, p0, p1, y, ldy, beta);
}

void lk_gemm_packed_bf16(const float *x, size_t ldx, size_t M, size_t K, const uint16_t *w, size_t N, size_t p0,
                         size_t p1, float *y, size_t ldy, float beta) {
    gemm(W_PACKED_BF16, 1, x, ldx, M, K, w, N, p0, p1, y, ldy, beta);
}

void lk_gemm_packed_f16(const float *x, size_t ldx, size_t M, size_t K, const uint16_t *w, size_t N, size_t p0,
                        size_t p1, float *y, size_t ldy, float beta) {
    gemm(W_PACKED_F16, 1, x, ldx, M, K, w, N, p0, p1, y, ldy, beta);
}

void lk_gemm_rowmajor_f32(const float *x, size_t ldx, size_t M, size_t K, const float *w, size_t N, size_t p0,
                          size_t p1, float *y, size_t ldy, float beta) {
    gemm(W_ROWMAJOR_F32, 1, x, ldx, M, K, w, N, p0, p1, y, ldy, beta);
}

void lk_gemm_scalar(int kind, const float *x, size_t ldx, size_t M, size_t K, const void *w, size_t N, size_t p0,
                    size_t p1, float *y, size_t ldy, float beta) {
    gemm(kind, 0, x, ldx, M, K, w, N, p0, p1, y, ldy, beta);
}
