// CPU feature detection for kernel dispatch (and for choosing OpenBLAS kernels at start-up). The answers are cached
// in atomics: any thread may ask first, and they all compute the same value.
#include "CKernels.h"
#include <stdatomic.h>

int tk_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    static _Atomic int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c < 0) {
        __builtin_cpu_init();
        c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c;
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
    static _Atomic int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c < 0) {
        __builtin_cpu_init();
        c = tk_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512vnni");
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c;
#else
    return 0;
#endif
}
