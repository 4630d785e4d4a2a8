// Private to CKernels: the SIMD bodies behind lk_q_matmul and lk_q_quantize_act (quant_avx2.c, quant_avx512.c).
// Each matmul body returns 1 when it computed the product, 0 when it has none for that type or shape.
#ifndef LK_QUANT_SIMD_H
#define LK_QUANT_SIMD_H

#include "simd.h"
#include <stddef.h>

#if LK_X86
int lk_q_matmul_avx2(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                     size_t ldy);
/// vnni: the CPU has AVX512_VNNI (else the AVX2 bodies run).
int lk_q_matmul_avx512(int vnni, int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M, float *y,
                       size_t ldy);
/// lk_q_quantize_act with AVX2 (byte-identical to the portable body).
void lk_q_quantize_act_avx2(int type, const float *x, size_t ldx, size_t M, size_t K, void *qx);
#endif

#endif
