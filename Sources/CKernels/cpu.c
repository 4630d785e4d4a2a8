// The one place that detects the CPU and picks the instruction-set path every kernel uses (see ckernels.h).
#include "ckernels.h"
#include <stdlib.h>
#include <string.h>

#include "simd.h"

static int lk_isa_cached = -1;
static int lk_cpu_vnni = 0, lk_cpu_bf16 = 0;  // what the CPU has (used only on the AVX-512 path)
// A path for the calling thread only (-1: none): tests run every path side by side without touching the process's.
// The pool hands the dispatcher's path to the workers that run its chunks (pool.c).
static _Thread_local int lk_isa_thread_path = -1;

static int lk_isa_detect(void) {
#if LK_X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (!avx2) return LK_ISA_SCALAR;
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    return avx512 ? LK_ISA_AVX512 : LK_ISA_AVX2;
#else
    return LK_ISA_SCALAR;
#endif
}

static int lk_isa_supported(void) {
    static int best = -1;  // the CPU does not change; racing first calls store the same value
    if (best < 0) best = lk_isa_detect();
    return best;
}

int lk_isa_parse(const char *name) {
    if (name == NULL) return -1;
    if (strcmp(name, "scalar") == 0) return LK_ISA_SCALAR;
    if (strcmp(name, "avx2") == 0) return LK_ISA_AVX2;
    if (strcmp(name, "avx512") == 0) return LK_ISA_AVX512;
    return -1;
}

int lk_isa_best(void) { return lk_isa_supported(); }

static void lk_isa_init(void) {
    int best = lk_isa_supported();
    int isa = best;
    int forced = lk_isa_parse(getenv("LORAD_ISA"));
    if (forced >= 0 && forced < best) isa = forced;
#if LK_X86
    lk_cpu_vnni = best == LK_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
    lk_cpu_bf16 = best == LK_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
#endif
    lk_isa_cached = isa;
}

int lk_isa(void) {
    if (lk_isa_thread_path >= 0) return lk_isa_thread_path;
    if (lk_isa_cached < 0) lk_isa_init();
    return lk_isa_cached;
}

int lk_isa_force(int isa) {
    int best = lk_isa_supported();
    if (isa < 0 || isa > best) return -1;
    if (lk_isa_cached < 0) lk_isa_init();
    lk_isa_cached = isa;
    return isa;
}

int lk_isa_thread(void) { return lk_isa_thread_path; }

int lk_isa_set_thread(int isa) {
    if (isa < 0) { lk_isa_thread_path = -1; return 0; }
    if (isa > lk_isa_supported()) return -1;
    if (lk_isa_cached < 0) lk_isa_init();
    lk_isa_thread_path = isa;
    return 0;
}

const char *lk_isa_name(int isa) {
    switch (isa) {
    case LK_ISA_AVX512: return "avx512";
    case LK_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

int lk_has_avx2(void) { return lk_isa() >= LK_ISA_AVX2; }
int lk_has_avx512(void) { return lk_isa() >= LK_ISA_AVX512; }
int lk_has_avx512_vnni(void) { return lk_isa() == LK_ISA_AVX512 && lk_cpu_vnni; }
int lk_cpu_has_avx512_vnni(void) {
    if (lk_isa_cached < 0) lk_isa_init();
    return lk_cpu_vnni;
}
int lk_has_avx512_bf16(void) { return lk_isa() == LK_ISA_AVX512 && lk_cpu_bf16; }
