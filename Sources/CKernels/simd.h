// The SIMD switch shared by the kernel files (private to CKernels): LK_X86 when the AVX2 bodies can be compiled,
// LK_AVX2 marks a function compiled for AVX2 + FMA + F16C (chosen at run time by lk_has_avx2()); the path itself is
// picked in cpu.c.
#ifndef LK_SIMD_H
#define LK_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))
// AVX-512 bodies: F/BW/VL (+ VNNI, BF16 where the function's name says so); chosen when lk_has_avx512().
#define LK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define LK_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define LK_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")))
#else
#define LK_X86 0
#endif

#endif
