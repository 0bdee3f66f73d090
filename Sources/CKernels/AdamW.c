// AdamW's two loops over a flat parameter buffer, four floats at a time with SSE (every x86-64 has it): Swift
// lowers SIMD division and square root lane by lane, and these loops run over tens of millions of values per step in
// full fine-tuning. Separate multiplies and adds and IEEE division and square root: the same bits as the scalar loop.
#include "CKernels.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

void tk_adamw_update(float *restrict x, const float *restrict g, float *restrict m, float *restrict v, int64_t n,
                     float clip, float beta1, float beta2, float bc1, float bc2, float lr, float eps, float decay) {
    int64_t i = 0;
#if defined(__x86_64__)
    const __m128 vclip = _mm_set1_ps(clip), b1 = _mm_set1_ps(beta1), b2 = _mm_set1_ps(beta2);
    const __m128 c1 = _mm_set1_ps(1 - beta1), c2 = _mm_set1_ps(1 - beta2), vbc1 = _mm_set1_ps(bc1), vbc2 = _mm_set1_ps(bc2);
    const __m128 vlr = _mm_set1_ps(lr), veps = _mm_set1_ps(eps), vdecay = _mm_set1_ps(decay);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), vclip);
        __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)), _mm_mul_ps(c1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(c2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 mhat = _mm_div_ps(mi, vbc1), vhat = _mm_div_ps(vi, vbc2), xi = _mm_loadu_ps(x + i);
        __m128 step = _mm_add_ps(_mm_div_ps(mhat, _mm_add_ps(_mm_sqrt_ps(vhat), veps)), _mm_mul_ps(vdecay, xi));
        _mm_storeu_ps(x + i, _mm_sub_ps(xi, _mm_mul_ps(vlr, step)));
    }
#endif
    for (; i < n; i++) {
        float gi = g[i] * clip;
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        float mhat = m[i] / bc1, vhat = v[i] / bc2;
        x[i] -= lr * (mhat / (sqrtf(vhat) + eps) + decay * x[i]);
    }
}

double tk_sum_squares_f64(const float *g, int64_t n) {
    int64_t i = 0;
    double sum = 0;
#if defined(__x86_64__)
    __m128d a0 = _mm_setzero_pd(), a1 = _mm_setzero_pd();
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(g + i);
        __m128d lo = _mm_cvtps_pd(x), hi = _mm_cvtps_pd(_mm_movehl_ps(x, x));
        a0 = _mm_add_pd(a0, _mm_mul_pd(lo, lo));
        a1 = _mm_add_pd(a1, _mm_mul_pd(hi, hi));
    }
    double lanes[4];
    _mm_storeu_pd(lanes, a0);
    _mm_storeu_pd(lanes + 2, a1);
    sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; i < n; i++) sum += (double)g[i] * (double)g[i];
    return sum;
}
