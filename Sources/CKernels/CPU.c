// CPU feature detection for kernel dispatch (and for choosing OpenBLAS kernels at start-up).
#include "CKernels.h"

int tk_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) { __builtin_cpu_init(); cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }
    return cached;
#else
    return 0;
#endif
}

int tk_cpu_has_avx512f(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int tk_cpu_has_avx512vnni(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = tk_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512vnni");
    }
    return cached;
#else
    return 0;
#endif
}
