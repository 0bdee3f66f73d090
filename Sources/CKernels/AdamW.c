// AdamW's two loops over a flat parameter buffer: full fine-tuning runs them over every weight each step. The update
// is PyTorch's arithmetic: x·(1 − lr·decay) − (m·lr/bc1) / (√v·(1/√bc2) + eps), one IEEE division and one square
// root a value (the divisions were three). Eight floats at a time with AVX, separate multiplies and adds (no FMA):
// the same bits as the scalar loop. With `clear` the gradient is zeroed as it is read, for the next step's sums.
#include "CKernels.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

int tk_use_fast_path(void);

typedef struct {
    float clip, beta1, beta2, c1, c2, step, rs2, eps, keep;
} adamw_constants;

static inline void adamw_scalar(float *restrict x, float *restrict g, float *restrict m, float *restrict v, int64_t i,
                                int64_t n, const adamw_constants *k, int clear) {
    for (; i < n; i++) {
        float gi = g[i] * k->clip;
        if (clear) g[i] = 0;
        float mi = k->beta1 * m[i] + k->c1 * gi;
        float vi = k->beta2 * v[i] + k->c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) * k->rs2 + k->eps;
        x[i] = x[i] * k->keep - (mi * k->step) / denom;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx")))
static void adamw_avx(float *restrict x, float *restrict g, float *restrict m, float *restrict v, int64_t n,
                      const adamw_constants *k, int clear) {
    const __m256 clip = _mm256_set1_ps(k->clip), b1 = _mm256_set1_ps(k->beta1), b2 = _mm256_set1_ps(k->beta2);
    const __m256 c1 = _mm256_set1_ps(k->c1), c2 = _mm256_set1_ps(k->c2), step = _mm256_set1_ps(k->step);
    const __m256 rs2 = _mm256_set1_ps(k->rs2), eps = _mm256_set1_ps(k->eps), keep = _mm256_set1_ps(k->keep);
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), clip);
        if (clear) _mm256_storeu_ps(g + i, zero);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), rs2), eps);
        __m256 xi = _mm256_mul_ps(_mm256_loadu_ps(x + i), keep);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(xi, _mm256_div_ps(_mm256_mul_ps(mi, step), denom)));
    }
    adamw_scalar(x, g, m, v, i, n, k, clear);
}
#endif

void tk_adamw_update(float *restrict x, float *restrict g, float *restrict m, float *restrict v, int64_t n,
                     float clip, float beta1, float beta2, float bc1, float bc2, float lr, float eps, float decay,
                     int clear) {
    const adamw_constants k = {clip, beta1, beta2, 1 - beta1, 1 - beta2, lr / bc1, 1 / sqrtf(bc2), eps, 1 - lr * decay};
#if defined(__x86_64__)
    if (tk_use_fast_path()) { adamw_avx(x, g, m, v, n, &k, clear); return; }
#endif
    adamw_scalar(x, g, m, v, 0, n, &k, clear);
}

// Σ gᵢ² in double: sixteen values a step into four independent AVX2 accumulators (four lanes each), so that the pass
// runs at the memory's rate rather than an add's latency (the two-accumulator SSE2 loop before took ~42 ms over
// full fine-tuning's 135 M gradients on the Xeon, 12.8 GB/s on two threads; bench-results/xeon-2026-12-07c). A fixed
// order for a given n, whatever the thread count (the callers' chunks are fixed too).
#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static double sum_squares_avx2(const float *g, int64_t n, int64_t *done) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x = _mm256_loadu_ps(g + i), y = _mm256_loadu_ps(g + i + 8);
        const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        const __m256d y0 = _mm256_cvtps_pd(_mm256_castps256_ps128(y)), y1 = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
        a0 = _mm256_fmadd_pd(x0, x0, a0);
        a1 = _mm256_fmadd_pd(x1, x1, a1);
        a2 = _mm256_fmadd_pd(y0, y0, a2);
        a3 = _mm256_fmadd_pd(y1, y1, a3);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    *done = i;
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}
#endif

double tk_sum_squares_f64(const float *g, int64_t n) {
    int64_t i = 0;
    double sum = 0;
#if defined(__x86_64__)
    if (tk_use_fast_path()) sum = sum_squares_avx2(g, n, &i);
#endif
    for (; i < n; i++) sum += (double)g[i] * (double)g[i];
    return sum;
}
