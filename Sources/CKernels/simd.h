// The SIMD switch shared by the kernel files (private to CKernels): LK_X86 when the AVX2 bodies can be compiled,
// LK_AVX2 marks a function compiled for AVX2 + FMA + F16C (chosen at run time by lk_has_avx2()).
#ifndef LK_SIMD_H
#define LK_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define LK_X86 0
#endif

#endif
