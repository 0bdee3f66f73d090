// Small AVX2 pieces shared by CKernels' vector loops. Internal to CKernels.
#pragma once
#include <immintrin.h>

/// The sum of 8 lanes in one fixed order (the two halves, then pairs, then the last two), so every kernel that ends a
/// reduction with it sums the same way.
__attribute__((target("avx2,fma")))
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
