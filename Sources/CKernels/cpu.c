// The one place that detects the CPU and picks the instruction-set path every kernel uses (see ckernels.h).
#include "ckernels.h"
#include <stdlib.h>
#include <string.h>

#include "simd.h"

static int lk_isa_cached = -1;
static int lk_vnni_cached = 0, lk_bf16_cached = 0;

static int lk_isa_supported(void) {
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
    lk_vnni_cached = 0;
    lk_bf16_cached = 0;
#if LK_X86
    if (isa == LK_ISA_AVX512) {
        lk_vnni_cached = __builtin_cpu_supports("avx512vnni");
        lk_bf16_cached = __builtin_cpu_supports("avx512bf16");
    }
#endif
    lk_isa_cached = isa;
}

int lk_isa(void) {
    if (lk_isa_cached < 0) lk_isa_init();
    return lk_isa_cached;
}

int lk_isa_force(int isa) {
    int best = lk_isa_supported();
    if (isa < 0 || isa > best) return -1;
    lk_isa_cached = -1;
    lk_isa_init();
    lk_isa_cached = isa;
#if LK_X86
    lk_vnni_cached = isa == LK_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
    lk_bf16_cached = isa == LK_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
#endif
    return isa;
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
int lk_has_avx512_vnni(void) { lk_isa(); return lk_vnni_cached; }
int lk_has_avx512_bf16(void) { lk_isa(); return lk_bf16_cached; }
