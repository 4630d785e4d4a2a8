// lorad's SIMD kernels. Each entry point picks an AVX2+FMA+F16C body at run time when the CPU has it, and a
// portable scalar body otherwise. Shapes are written beside each argument; matrices are row-major.
#ifndef LORAD_CKERNELS_H
#define LORAD_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- instruction-set path (cpu.c)
   One path for the whole process, picked once from the CPU: scalar, AVX2 (+FMA+F16C) or AVX-512 (F+BW+VL; VNNI and
   BF16 reported separately). The environment variable LORAD_ISA=scalar|avx2|avx512 forces a lower path (a higher
   one than the CPU has is ignored). Every kernel asks these functions, never the CPU itself. */
#define LK_ISA_SCALAR 0
#define LK_ISA_AVX2 1
#define LK_ISA_AVX512 2

/// The path in use (LK_ISA_*).
int lk_isa(void);
/// The best path this CPU supports, whatever LORAD_ISA says.
int lk_isa_best(void);
/// Switches the path (tests and benchmarks compare paths in one process); -1 when the CPU lacks it.
/// Not thread-safe: call it while no kernel runs.
int lk_isa_force(int isa);
/// The calling thread's own path (-1: none, it follows the process's). Pool jobs carry it to the workers that run
/// their chunks. lk_isa_set_thread returns -1 (and changes nothing) when the CPU lacks the path; -1 clears it.
/// Tests use it to run every path side by side while other threads keep theirs.
int lk_isa_thread(void);
int lk_isa_set_thread(int isa);
/// "scalar", "avx2" or "avx512".
const char *lk_isa_name(int isa);
/// LK_ISA_* for a name, -1 for anything else.
int lk_isa_parse(const char *name);
/// 1 when the AVX2/FMA bodies are in use (lk_isa() >= LK_ISA_AVX2), 0 for the scalar fallback.
int lk_has_avx2(void);
/// 1 when the AVX-512 (F/BW/VL) bodies are in use.
int lk_has_avx512(void);
/// 1 when the AVX-512 path is in use and the CPU has AVX512_VNNI (vpdpbusd) / AVX512_BF16 (vdpbf16ps).
int lk_has_avx512_vnni(void);
int lk_has_avx512_bf16(void);
/// 1 when the CPU has AVX-512 (F/BW/VL) with AVX512_VNNI, whatever path is in use (for callers naming a path).
int lk_cpu_has_avx512_vnni(void);

/// Streams `n` floats with wide loads and several accumulators; returns their sum (so the loads are not elided).
/// Used by the read-bandwidth probe.
float lk_read_sum(const float *p, size_t n);

/* ---------------------------------------------------------------- batch-invariant GEMM (matmul.c)
   Paths: scalar, AVX2 (16 columns as two ymm per row) and AVX-512 (one zmm per row), all with this arithmetic.
   y[m, n] = beta * y[m, n] + sum_k x[m, k] * w[n, k]   for m in [0, M), n in [16 p0, min(N, 16 p1)).
   Every output is one FMA chain over k = 0 ..< K in ascending order starting from +0, then
   y = (beta == 0 ? acc : fma(beta, y, acc)); bit-identical whatever M, the row, the panel range or the tile.
   x: [M, ldx] (first K used), y: [M, ldy] (first N used). Panels are 16 output columns; [p0, p1) is a range
   of panels (the unit of the thread split). Scratch is per calling thread. */

/// K-block of the packed layouts.
#ifndef LK_PACK_KC
#define LK_PACK_KC 256
#endif

/// Elements of a packed matrix for N outputs x K inputs: ceil(N / 16) * 16 * K.
size_t lk_packed_count(size_t N, size_t K);

/// Packed f32: [ceil(K/256)][ceil(N/16)][klen][16], klen = min(256, K - 256 b); zero columns past N.
/// Fills panels [p0, p1) of dst from row-major w [N, K].
void lk_pack_f32(const float *w, size_t N, size_t K, float *dst, size_t p0, size_t p1);
/// Packed bf16: the same blocks; inside one k-row of 16 the columns are stored as (0, 8, 1, 9, ..., 7, 15), so
/// 32-bit word j holds column j (low half) and column j + 8 (high half). From row-major bf16 w [N, K].
void lk_pack_bf16(const uint16_t *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1);
/// The same from row-major f32 w [N, K], rounding to nearest even (NaN stays NaN).
void lk_pack_bf16_from_f32(const float *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1);
/// Packed f16 (IEEE half): the same blocks, columns in order inside a k-row. From row-major f16 w [N, K].
void lk_pack_f16(const uint16_t *w, size_t N, size_t K, uint16_t *dst, size_t p0, size_t p1);

/// w: packed f32 (lk_pack_f32) for N x K.
void lk_gemm_packed_f32(const float *x, size_t ldx, size_t M, size_t K, const float *w, size_t N, size_t p0,
                        size_t p1, float *y, size_t ldy, float beta);
/// w: packed bf16 (lk_pack_bf16*) for N x K; widened to f32 in registers, f32 FMA.
void lk_gemm_packed_bf16(const float *x, size_t ldx, size_t M, size_t K, const uint16_t *w, size_t N, size_t p0,
                         size_t p1, float *y, size_t ldy, float beta);
/// w: packed f16 (lk_pack_f16) for N x K; widened to f32 in registers (F16C, exact), f32 FMA.
void lk_gemm_packed_f16(const float *x, size_t ldx, size_t M, size_t K, const uint16_t *w, size_t N, size_t p0,
                        size_t p1, float *y, size_t ldy, float beta);
/// w: row-major f32 [N, K] (HF [out, in]); panels are packed on the fly. Bit-identical to lk_gemm_packed_f32 on
/// the same weights.
void lk_gemm_rowmajor_f32(const float *x, size_t ldx, size_t M, size_t K, const float *w, size_t N, size_t p0,
                          size_t p1, float *y, size_t ldy, float beta);

/// The portable body of the four above (kind 0 = packed f32, 1 = packed bf16, 2 = row-major f32, 3 = packed f16),
/// whatever the CPU: for tests, which check it is bit-identical to the SIMD body.
void lk_gemm_scalar(int kind, const float *x, size_t ldx, size_t M, size_t K, const void *w, size_t N, size_t p0,
                    size_t p1, float *y, size_t ldy, float beta);

/* ---------------------------------------------------------------- attention (attention.c)
   Flash-Decoding: a row's visible context (index n: first nc committed positions c0 .. c0 + nc - 1 from KV blocks
   [layer][K or V][blockTokens][kvDim] at kOff / vOff floats into each block, then step rows stepRows[n - nc] at
   stepK / stepV + row * kvDim) is cut into chunks of LK_ATTN_CHUNK positions; each chunk gives a partial softmax,
   and the partials are merged in chunk order. A row's result depends on its own context only. */

/// Context positions per chunk.
#define LK_ATTN_CHUNK 256

/// The partial attention of the `group` query heads q: [group][hd] that share kv head `kvh` over context [n0, n1):
/// part: [group][hd + 2] = (sum_n e_n v_n, m, l) with s_n = scale * q . k_n, m = max s_n, e_n = exp(s_n - m),
/// l = sum e_n.
void lk_attn_partial(const float *q, size_t group, size_t hd, float scale, const float *const *blocks,
                     size_t blockTokens, size_t kOff, size_t vOff, size_t kvDim, size_t c0, size_t nc,
                     const float *stepK, const float *stepV, const int32_t *stepRows, size_t kvh, size_t n0,
                     size_t n1, float *part);
/// out: [hd] = the softmax-weighted sum of the `chunks` partials (each hd + 2 floats, partStride apart), merged in
/// order.
void lk_attn_combine(const float *parts, size_t chunks, size_t partStride, size_t hd, float *out);

/* ---------------------------------------------------------------- thread pool (pool.c) */

typedef void (*lk_task_fn)(void *ctx, long chunk);
/// Runs fn(ctx, c) for c in [0, chunks) on the calling thread and the pool's workers; returns when all are done.
/// If the pool is busy (another thread's job, or a nested call from a chunk) the chunks run inline on the caller,
/// in order. Returns 1 when the pool ran the job, 0 when it ran inline.
int lk_pool_run(long chunks, lk_task_fn fn, void *ctx);
/// Threads per job, the caller included (workers are started lazily, never stopped; extra ones idle).
void lk_pool_set_threads(int threads);
int lk_pool_threads(void);
/// How long an idle worker spins before it sleeps (default 200 us).
void lk_pool_set_spin_nanos(long nanos);

/* ---------------------------------------------------------------- vectors (kernels.c, vector.c) */

/// sum_i a[i] * b[i]
float lk_dot(const float *a, const float *b, size_t n);
/// y[i] += alpha * x[i]
void lk_axpy(float *y, float alpha, const float *x, size_t n);
/// y[i] = exp(x[i]) (max relative error ~2.4e-7 on [-87.3, 88.7]; +inf above, subnormals/0 below, NaN kept)
void lk_exp(const float *x, float *y, size_t n);
/// a[i] = a[i] / (1 + exp(-a[i])) * b[i]
void lk_silu_mul(float *a, const float *b, size_t n);
/// out[i] = w[i] * (x[i] * (1 / sqrt(sum x^2 / n + eps)))
void lk_rms_norm(const float *x, const float *w, float eps, float *out, size_t n);
/// y[i] += x[i]
void lk_add(float *y, const float *x, size_t n);
/// RoPE (rotate-half) of `heads` head vectors of hd floats in x, in place; c, s: [hd / 2] cos and sin.
void lk_rope(float *x, size_t heads, size_t hd, const float *c, const float *s);

/// Element conversions (bf16 and IEEE half are stored as uint16_t). f32 -> bf16 rounds to nearest even.
void lk_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void lk_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void lk_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/// The portable f16 bodies (used without F16C), exposed for tests.
float lk_f16_to_f32_one_scalar(uint16_t h);
uint16_t lk_f32_to_f16_one_scalar(float f);

/* ---------------------------------------------------------------- LoRA (lora.c) */

/// Element types of LoRA weights as stored (bf16 and IEEE half as uint16_t).
#define LK_ELEMENT_F32 0
#define LK_ELEMENT_BF16 1
#define LK_ELEMENT_F16 2

/// One row's LoRA delta for one piece: t[j] = scale * dot(x, A_j) for j < rank (A: [rank, in]), then
/// y[c] += sum_j t[j] * Bt_j[c] (Bt: [rank, out]), one fused multiply-add per j in order for every column.
/// A and Bt hold elements of `kind`; t is scratch of `rank` floats (left holding the shrink).
void lk_lora_row(int kind, const float *x, size_t in, const void *a, const void *bt, size_t rank, size_t out,
                 float scale, float *t, float *y);
/// The portable body of lk_lora_row, whatever the CPU (for tests).
void lk_lora_row_portable(int kind, const float *x, size_t in, const void *a, const void *bt, size_t rank,
                          size_t out, float scale, float *t, float *y);

#endif
