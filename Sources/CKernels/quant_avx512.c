// lk_q_matmul on the AVX-512 path: the bodies of quant_kernels.h with AVX512_VNNI's vpdpbusd / vpdpwssd (on 256-bit
// vectors, AVX512VL). Without VNNI the AVX-512 path uses the AVX2 bodies (same results).
#include "quant_impl.h"
#include "quant_simd.h"
#include <string.h>

#if LK_X86
#define QK_TARGET LK_AVX512_VNNI
#define QK_NAME(x) x##_avx512
#define QK_DOT_U8S8(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#define QK_DOT_S16(acc, p, s) _mm256_dpwssd_epi32(acc, p, s)
#define QK_GEMM_NR 2
#define QK_GEMM_MR 4
#include "quant_kernels.h"

int lk_q_matmul_avx512(int vnni, int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M,
                       float *y, size_t ldy) {
    if (!vnni) return lk_q_matmul_avx2(type, w, K, n0, n1, qx, M, y, ldy);
    return lk_q_matmul_impl_avx512(type, w, K, n0, n1, qx, M, y, ldy);
}
#endif
