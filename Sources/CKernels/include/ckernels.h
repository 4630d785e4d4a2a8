// lorad's SIMD kernels. Each entry point picks an AVX2+FMA+F16C body at run time when the CPU has it, and a
// portable scalar body otherwise. Shapes are written beside each argument; matrices are row-major.
#ifndef LORAD_CKERNELS_H
#define LORAD_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 when the AVX2/FMA bodies are in use, 0 for the scalar fallback.
int lk_has_avx2(void);

/// Streams `n` floats with wide loads and several accumulators; returns their sum (so the loads are not elided).
/// Used by the read-bandwidth probe.
float lk_read_sum(const float *p, size_t n);

/// y[m, n] = beta * y[m, n] + sum_k x[m, k] * w[n, k] for m in [0, M), n in [n0, n1).
/// x: [M, K] (row stride ldx), w: [N, K] (row stride K, HF [out, in] layout), y: [M, ldy].
/// Streams each row of w once for all M rows (M small: the decode regime).
void lk_matmul_f32(const float *x, size_t ldx, size_t M, size_t K,
                   const float *w, size_t n0, size_t n1,
                   float *y, size_t ldy, float beta);

/// sum_i a[i] * b[i]
float lk_dot(const float *a, const float *b, size_t n);
/// y[i] += alpha * x[i]
void lk_axpy(float *y, float alpha, const float *x, size_t n);

/// Element conversions (bf16 and IEEE half are stored as uint16_t). f32 -> bf16 rounds to nearest even.
void lk_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void lk_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void lk_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n);

#endif
